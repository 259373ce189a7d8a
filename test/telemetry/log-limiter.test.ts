// A flood of one refusal writes one log line per window, and the next line says how many were not logged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { limitedWarn } from '../../src/telemetry/log-limiter.ts';

test('one line per key per window; the next window names how many were suppressed', () => {
  const lines: { obj: object; msg: string }[] = [];
  let t = 0;
  const warn = limitedWarn({ warn: (obj, msg) => lines.push({ obj, msg }) }, 10_000, () => t);
  for (let i = 0; i < 1000; i++) warn('bad_signature', { reason: 'bad_signature' }, 'closed (bad_signature)');
  warn('truncated', { reason: 'truncated' }, 'closed (truncated)');
  assert.deepEqual(lines.map((l) => l.msg), ['closed (bad_signature)', 'closed (truncated)']);
  t = 10_000;
  warn('bad_signature', { reason: 'bad_signature' }, 'closed (bad_signature)');
  assert.equal(lines.length, 3);
  assert.match(lines[2]!.msg, /^closed \(bad_signature\) \(and 999 more like it in the previous 10 s, not logged\)$/);
  assert.deepEqual(lines[2]!.obj, { reason: 'bad_signature', suppressed: 999 });
  t = 20_001;
  warn('bad_signature', { reason: 'bad_signature' }, 'closed (bad_signature)');
  assert.equal(lines[3]!.msg, 'closed (bad_signature)', 'nothing was suppressed in the window before');
});
