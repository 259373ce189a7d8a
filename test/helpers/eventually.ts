// Polls `probe` until it is true (a throw counts as false); fails the test after timeoutMs.
// Returns how long it took, for the tests that report apply-to-effect times.
import assert from 'node:assert/strict';

export async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 15_000, pollMs = 50): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await probe().catch(() => false)) return performance.now() - start;
    if (performance.now() - start > timeoutMs) assert.fail(`${what}: not true after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
