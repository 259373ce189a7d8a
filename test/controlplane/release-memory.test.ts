// The full GC that gives a config load's memory back (issue 16: "RSS grows across reloads"): the
// young generation a load grew is handed back, the release is debounced, spaced, put off while the
// loop is busy, and `egressway run` does it in every thread unless --no-release-memory.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import v8 from 'node:v8';
import { MemoryReleaser } from '../../src/controlplane/release-memory.ts';
import { REPO_ROOT, startWaypoint } from '../helpers/waypoint.ts';

const MiB = 1024 * 1024;
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.physical_space_size / MiB;

/** Allocation that survives a few scavenges, as a compile's does: V8 grows the young generation. */
function allocateLikeALoad(): number {
  let kept: unknown[] = [];
  let n = 0;
  for (let i = 0; i < 400_000; i++) {
    kept.push({ i, s: `resource-${i}`, a: [i, i + 1] });
    if (kept.length > 50_000) { n += kept.length; kept = []; }
  }
  return n + kept.length;
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('a release gives the young generation a load grew back to the OS', async () => {
  allocateLikeALoad();
  const grown = newSpace();
  assert.ok(grown >= 4, `the load grew the young generation (${grown.toFixed(1)} MiB committed)`);
  const r = new MemoryReleaser({ delayMs: 20 });
  r.schedule();
  await until('the release', () => r.stats.runs === 1);
  assert.ok(newSpace() <= 2, `young generation after the release: ${newSpace().toFixed(1)} MiB (was ${grown.toFixed(1)})`);
  assert.ok(r.stats.pauseSeconds > 0 && r.stats.pauseSeconds < 5, `pause recorded: ${r.stats.pauseSeconds}`);
  r.close();
});

test('swaps in a burst are released once, and a second release waits out minIntervalMs', async () => {
  const r = new MemoryReleaser({ delayMs: 30, minIntervalMs: 400 });
  for (let i = 0; i < 5; i++) {
    r.schedule();
    await sleep(5);
  }
  await until('the release', () => r.stats.runs === 1);
  await sleep(100);
  assert.equal(r.stats.runs, 1, 'one release for the burst');
  const first = performance.now();
  r.schedule();
  await until('the second release', () => r.stats.runs === 2);
  assert.ok(performance.now() - first >= 250, `the second release waited for the interval (${(performance.now() - first).toFixed(0)} ms)`);
  r.close();
});

test('a busy event loop puts the release off; it runs once the loop is quiet', async () => {
  const r = new MemoryReleaser({ delayMs: 50 });
  r.schedule();
  const spinUntil = performance.now() + 120;
  while (performance.now() < spinUntil); // the loop serves traffic: no pause now
  await until('a put-off', () => r.stats.putOff >= 1);
  assert.equal(r.stats.runs, 0, 'not run while busy');
  await until('the release once quiet', () => r.stats.runs === 1);
  r.close();
});

test('a light load (a few % busy, as one of two workers at 1000 requests/s) puts the release off too', async () => {
  // Each tick spins 0.15 ms every 10 ms: 3-4% busy with the timer itself, the utilization of a worker serving 500
  // requests/s. A release there paused the worker mid-load and shrank its young generation
  // (bench/head-to-head.ts, --concurrency 2 at 1000 rps: 9% more CPU per request).
  const r = new MemoryReleaser({ delayMs: 200 });
  const load = setInterval(() => {
    const until = performance.now() + 0.15;
    while (performance.now() < until);
  }, 10);
  try {
    r.schedule();
    await until('a put-off', () => r.stats.putOff >= 1);
    assert.equal(r.stats.runs, 0, 'not run under a light load');
  } finally {
    clearInterval(load);
  }
  await until('the release once the load stops', () => r.stats.runs === 1);
  r.close();
});

test('close() cancels a scheduled release', async () => {
  const r = new MemoryReleaser({ delayMs: 20 });
  r.schedule();
  r.close();
  await sleep(80);
  assert.equal(r.stats.runs, 0);
});

/** egressway_memory_releases_total once it reaches `atLeast` (else after 8 s), or after 3 s when 0. */
async function releases(args: readonly string[], atLeast: number): Promise<string[]> {
  const w = await startWaypoint({ configDir: join(REPO_ROOT, 'examples/quickstart'), args: ['--drain-duration', '0s', ...args] });
  try {
    // A scrape every second, not faster: each one is work for every loop, and a loop more than 1%
    // busy puts its release off.
    const end = Date.now() + (atLeast ? 15_000 : 3000);
    for (;;) {
      await sleep(1000);
      const text = await (await fetch(`${w.listeners.stats!.url}/stats/prometheus`)).text();
      const lines = text.split('\n').filter((l) => l.startsWith('egressway_memory_releases_total'));
      if (Date.now() > end || (atLeast && lines.length && Number(lines[0]!.split(' ')[1]) >= atLeast)) return lines;
    }
  } finally {
    await w.close();
  }
}

test('egressway run --concurrency 2: the primary and both workers release after start; --no-release-memory turns it off', async () => {
  const on = await releases(['--concurrency', '2'], 3);
  assert.equal(on.length, 1, 'one merged series');
  assert.ok(Number(on[0]!.split(' ')[1]) >= 3, `primary + 2 workers released: ${on[0]}`);
  const off = await releases(['--concurrency', '1', '--no-release-memory'], 0);
  assert.deepEqual(off, [], 'no release metric with --no-release-memory');
});
