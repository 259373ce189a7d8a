// Duration defaults in --help read as durations ("1m"), so copying one back onto the command line
// means the same thing: a bare number is seconds, and "60000" used to be shown for 60 s.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatDuration, parseDuration } from '../../src/cli/args.ts';
import { REPO_ROOT } from '../helpers/waypoint.ts';

test('every shown duration default parses back to the same milliseconds', () => {
  for (const ms of [500, 1000, 2000, 5000, 10_000, 15_000, 60_000, 65_000, 300_000, 3_600_000, 86_400_000]) {
    assert.equal(parseDuration(formatDuration(ms)), ms, formatDuration(ms));
  }
  assert.equal(formatDuration(0), '0 (off)');
});

test('run --help shows no millisecond counts as duration defaults', async () => {
  const help = await new Promise<string>((resolve, reject) => execFile(join(REPO_ROOT, 'node_modules/.bin/node'), ['src/cli/main.ts', 'run', '--help'], { cwd: REPO_ROOT }, (err, out) => (err ? reject(err) : resolve(out))));
  // Commander appends the environment variable an option also reads: "(default: 24h, env: SECRET_TTL)".
  const defaults = [...help.matchAll(/<duration>[^\n]*?\(default: ([^,)]+)(?:, env: \w+)?\)/g)].map((m) => m[1]!);
  assert.ok(defaults.length >= 8, help);
  for (const d of defaults) assert.match(d, /^\d+(ms|s|m|h)$|^0 \(off\)$/, `default "${d}" does not read as a duration`);
  assert.match(help, /--dns-refresh-rate <duration>.*\(default: 1m\)/);
});
