// Shared helpers for the config tests: fixture paths and a one-line form of a diagnostic that
// the tables compare exactly (so an extra or a moved diagnostic fails the test).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import type { LoadResult } from '../../src/config/resource.ts';
import type { Diagnostic } from '../../src/model/diagnostic.ts';

export const FIXTURES = fileURLToPath(new URL('../fixtures/config/', import.meta.url));

export function fixture(name: string): string {
  return join(FIXTURES, name);
}

/** `resource CODE level path @line`, the fields every table asserts. */
export function brief(d: Diagnostic): string {
  return `${d.resource?.name ?? '-'} ${d.code} ${d.level} ${d.path ?? '-'} @${d.line ?? '-'}`;
}

export function assertDiagnostics(actual: readonly Diagnostic[], expected: readonly string[]): void {
  assert.deepEqual(actual.map(brief).sort(), [...expected].sort());
}

export function loadFixture(name: string): Promise<LoadResult> {
  return loadConfig([fixture(name)]);
}

/**
 * Fixtures name their documents `bad-*` (must be diagnosed) and `ok-*` (the near miss: no
 * diagnostics at all, and loaded). Documents with only warnings are still loaded.
 */
export function assertNearMisses(name: string, result: LoadResult): void {
  const names = parseDocuments(readFileSync(fixture(name), 'utf8'), name).resources.map((r) => r.metadata.name);
  const diagnosed = new Set(result.diagnostics.map((d) => d.resource?.name));
  const loaded = new Set(result.resources.map((r) => r.metadata.name));
  for (const n of names.filter((x) => x.startsWith('ok-'))) {
    assert.ok(!diagnosed.has(n), `${n} should have no diagnostics`);
    assert.ok(loaded.has(n), `${n} should be loaded`);
  }
  for (const n of names.filter((x) => x.startsWith('bad-'))) assert.ok(diagnosed.has(n), `${n} should be diagnosed`);
  assert.ok(names.some((x) => x.startsWith('ok-')), `${name} needs a passing near miss`);
}

export function messageOf(result: LoadResult, briefLine: string): string | undefined {
  return result.diagnostics.find((d) => brief(d) === briefLine)?.message;
}
