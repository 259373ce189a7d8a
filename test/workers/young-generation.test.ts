// `run --max-semi-space-size`: each worker thread's V8 young generation is capped (issue 16: V8
// grows it to 64 MiB of new space per thread under load, most of the peak RSS at saturation).
// A probe preloaded into every thread fills the young generation and reports its size.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_WORKER_SEMI_SPACE_MB, workerSemiSpaceMb } from '../../src/cli/run.ts';
import { youngGenerationLimits } from '../../src/workers/pool.ts';
import { WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { mkdir } from 'node:fs/promises';
import { tmpDir, writeConfig, type TmpDir } from '../helpers/tmp.ts';
import { REPO_ROOT, startWaypoint } from '../helpers/waypoint.ts';

const PROBE = join(REPO_ROOT, 'test/workers/fixtures/young-gen-probe.mjs');
const MiB = 1024 * 1024;

test('the semi-space of the workers: the flag, else node\'s own flag, else the default', () => {
  assert.equal(workerSemiSpaceMb(4, ''), 4);
  assert.equal(workerSemiSpaceMb(0, ''), undefined, '0 is V8\'s default: no limit set');
  assert.equal(workerSemiSpaceMb(16, '--max-semi-space-size=2'), 16, 'the flag wins over node\'s');
  assert.equal(workerSemiSpaceMb(undefined, ''), DEFAULT_WORKER_SEMI_SPACE_MB);
  assert.equal(workerSemiSpaceMb(undefined, '--import x.mjs --max-semi-space-size=32'), undefined, 'node\'s flag: workers inherit it');
  assert.equal(workerSemiSpaceMb(undefined, '--max_semi_space_size 32'), undefined);
  assert.equal(workerSemiSpaceMb(undefined, '--max-old-space-size=512'), DEFAULT_WORKER_SEMI_SPACE_MB);
  assert.deepEqual(youngGenerationLimits(8), { maxYoungGenerationSizeMb: 24 });
  assert.equal(youngGenerationLimits(undefined), undefined);
});

describe('run --concurrency 2 --max-semi-space-size', () => {
  let dir: TmpDir;
  before(async () => {
    dir = await tmpDir('young-gen');
    await mkdir(join(dir.path, 'config'));
    await writeConfig(join(dir.path, 'config'), WAYPOINT_YAML, 'waypoint.yaml');
  });
  after(() => dir.close());

  /** Each worker's new space (MiB) once the probe has filled it. */
  async function newSpaces(tag: string, args: readonly string[], nodeOptions = ''): Promise<number[]> {
    const out = join(dir.path, `probe-${tag}`);
    const wp = await startWaypoint({
      configDir: join(dir.path, 'config'), args: ['--concurrency', '2', ...args], startTimeoutMs: 30_000,
      env: { NODE_OPTIONS: `--import ${PROBE} ${nodeOptions}`.trim(), YOUNG_GEN_PROBE_OUT: out },
    });
    try {
      const files = readdirSync(dir.path).filter((f) => f.startsWith(`probe-${tag}.`));
      assert.equal(files.length, 2, `one probe file per worker, got ${files.join(', ')}`);
      return files.map((f) => Number(readFileSync(join(dir.path, f), 'utf8')) / MiB);
    } finally {
      await wp.close();
    }
  }

  test('V8\'s default (0) lets the probe grow the new space past 16 MiB: the control', async () => {
    for (const mb of await newSpaces('v8', ['--max-semi-space-size', '0'])) assert.ok(mb > 16, `new space ${mb} MiB`);
  });

  test('by default each worker\'s new space stays within two 8 MiB semi-spaces', async () => {
    for (const mb of await newSpaces('default', [])) assert.ok(mb <= 2 * DEFAULT_WORKER_SEMI_SPACE_MB, `new space ${mb} MiB`);
  });

  test('--max-semi-space-size 4 caps it at 8 MiB', async () => {
    for (const mb of await newSpaces('four', ['--max-semi-space-size', '4'])) assert.ok(mb <= 8, `new space ${mb} MiB`);
  });

  test('node\'s own --max-semi-space-size reaches the workers when the flag is not given', async () => {
    for (const mb of await newSpaces('node', [], '--max-semi-space-size=32')) assert.ok(mb > 16, `new space ${mb} MiB`);
  });

  test('with --concurrency 1 (no workers) the flag is named in a warning, not silently dropped', async () => {
    const wp = await startWaypoint({ configDir: join(dir.path, 'config'), args: ['--concurrency', '1', '--max-semi-space-size', '4'] });
    try {
      const warn = wp.logs.find((l) => /^--max-semi-space-size sizes worker threads/.test(String(l.msg)));
      assert.ok(warn, 'a warning line');
      assert.match(String(warn.msg), /NODE_OPTIONS/);
    } finally {
      await wp.close();
    }
  });

  test('a size that is not a number: one line naming the flag, exit 1', async () => {
    await assert.rejects(startWaypoint({ configDir: join(dir.path, 'config'), args: ['--concurrency', '2', '--max-semi-space-size', 'lots'] }),
      /--max-semi-space-size.*"lots" is not a size in MiB; pass a whole number from 0 to 1024/s);
  });
});
