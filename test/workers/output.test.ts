// workers/output.ts, the one stdout writer of `run --concurrency N`, against a real pipe whose reader
// is slow: every line arrives, in order, and the process still exits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runWithSlowReader } from '../helpers/slow-reader.ts';

test('a burst of lines larger than the pipe, read late, all arrive (the listening line too) and the writer ends', async () => {
  const lines = 5000; // about 1.1 MB: a 64 KiB pipe fills at once
  const { code, out, err } = await runWithSlowReader('test/workers/fixtures/output-burst.ts', [String(lines)], 500);
  assert.equal(err, '');
  assert.equal(code, 0);
  const got = out.trimEnd().split('\n');
  assert.equal(got.length, lines + 1);
  assert.deepEqual(JSON.parse(got[lines - 1]!).i, lines - 1);
  assert.equal(got[lines], '{"msg":"listening"}');
});
