// workers/output.ts, the one stdout writer of `run --concurrency N`, against a real pipe whose reader
// is slow: every line arrives, in order, and the process still exits.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/waypoint.ts';

test('a burst of lines larger than the pipe, read late, all arrive (the listening line too) and the writer ends', async () => {
  const lines = 5000; // about 1.1 MB: a 64 KiB pipe fills at once
  const child = spawn(join(REPO_ROOT, 'node_modules/.bin/node'), [join(REPO_ROOT, 'test/workers/fixtures/output-burst.ts'), String(lines)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => void (err += d));
  child.stdout.pause();
  child.stdout.on('data', (d) => void (out += d));
  setTimeout(() => child.stdout.resume(), 500);
  const code = await new Promise((r) => child.once('close', r));
  assert.equal(err, '');
  assert.equal(code, 0);
  const got = out.trimEnd().split('\n');
  assert.equal(got.length, lines + 1);
  assert.deepEqual(JSON.parse(got[lines - 1]!).i, lines - 1);
  assert.equal(got[lines], '{"msg":"listening"}');
});
