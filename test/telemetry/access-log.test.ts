// The access-log line formats and the batched writer, against a real file descriptor.
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { newRecord } from '../../src/dataplane/record.ts';
import { createAccessLog, isoTime, jsonLine, textLine } from '../../src/telemetry/access-log.ts';
import type { RequestRecord } from '../../src/telemetry/record.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { runWithSlowReader } from '../helpers/slow-reader.ts';

const ISTIO_KEYS = [
  'start_time', 'route_name', 'method', 'path', 'protocol', 'response_code', 'response_flags', 'response_code_details',
  'connection_termination_details', 'bytes_received', 'bytes_sent', 'duration', 'upstream_service_time', 'x_forwarded_for',
  'user_agent', 'request_id', 'authority', 'upstream_host', 'upstream_cluster', 'upstream_local_address',
  'downstream_local_address', 'downstream_remote_address', 'requested_server_name', 'upstream_transport_failure_reason',
];

function record(over: Partial<RequestRecord> = {}): RequestRecord {
  const r = newRecord({
    kind: 'http', method: 'GET', path: '/get?q=1', protocol: 'HTTP/1.1', authority: 'api.test',
    userAgent: 'curl/8', requestId: 'id-1', local: '127.0.0.1:15001', remote: '127.0.0.1:40000',
  });
  return Object.assign(r, { startTime: Date.UTC(2026, 10, 25, 12, 0, 0, 7), responseCode: 200, durationMs: 3, upstreamServiceTimeMs: 2 }, over);
}

test('JSON lines carry Istio keys in Istio order, with nulls for empty strings', () => {
  const line = jsonLine(record());
  assert.ok(line.endsWith('}\n'));
  const j = JSON.parse(line) as Record<string, unknown>;
  assert.deepEqual(Object.keys(j), ISTIO_KEYS);
  assert.equal(j.start_time, '2026-11-25T12:00:00.007Z');
  assert.equal(j.response_code, 200);
  assert.equal(j.upstream_service_time, '2');
  assert.equal(j.route_name, null);
  assert.equal(j.x_forwarded_for, null);
});

test('values that need escaping survive the round trip', () => {
  const nasty = 'a"b\\c\n\u0001é☃\u2028';
  const j = JSON.parse(jsonLine(record({ path: `/${nasty}`, userAgent: nasty }))) as Record<string, unknown>;
  assert.equal(j.path, `/${nasty}`);
  assert.equal(j.user_agent, nasty);
});

test('authorization extras appear only when set, after Istio keys', () => {
  const j = JSON.parse(jsonLine(record({ dryRunResult: 'deny', dryRunPolicy: 'ns/p', auditPolicy: 'ns/a', requestPrincipal: 'iss/sub' }))) as Record<string, unknown>;
  assert.deepEqual(Object.keys(j).slice(ISTIO_KEYS.length), ['dry_run_result', 'dry_run_policy', 'audit_policy', 'request_principal']);
  assert.equal(j.dry_run_result, 'would_deny');
});

test('TEXT lines follow Istio format with dashes for empty fields', () => {
  assert.equal(
    textLine(record()),
    '[2026-11-25T12:00:00.007Z] "GET /get?q=1 HTTP/1.1" 200 - - - "-" 0 0 3 2 "-" "curl/8" "id-1" "api.test" "-" - - 127.0.0.1:15001 127.0.0.1:40000 - -\n',
  );
});

test('the batched writer writes every line, in order, by shutdown', async () => {
  const dir = await tmpDir();
  const file = join(dir.path, 'access.log');
  const fd = openSync(file, 'w');
  try {
    const log = createAccessLog('json', fd);
    // Several batches' worth (64 KiB each) plus a partial one left for close() to write.
    for (let i = 0; i < 3000; i++) log.write(record({ requestId: `id-${i}` }));
    await log.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 3000);
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { request_id: string }).request_id), Array.from({ length: 3000 }, (_, i) => `id-${i}`));
    assert.equal(log.dropped, 0);
  } finally {
    closeSync(fd);
    await dir.close();
  }
});

test('a destination that fails is reported once, and later lines are dropped and counted', async () => {
  const dir = await tmpDir();
  const fd = openSync(join(dir.path, 'ro.log'), 'w');
  closeSync(fd); // writes to a closed descriptor fail with EBADF
  try {
    const errors: string[] = [];
    const log = createAccessLog('text', fd, (e) => errors.push((e as NodeJS.ErrnoException).code ?? e.message));
    log.write(record());
    await log.close().catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(errors, ['EBADF']);
    log.write(record());
    log.write(record());
    assert.equal(log.dropped, 2);
  } finally {
    await dir.close();
  }
});

test('start times match toISOString across milliseconds, second and day boundaries', () => {
  const base = Date.UTC(2026, 11, 31, 23, 59, 58, 990);
  for (let ms = base - 5; ms < base + 2100; ms += 3) assert.equal(isoTime(ms), new Date(ms).toISOString());
  for (const ms of [0, 999, 1000, 86_399_999, base, base - 1]) assert.equal(isoTime(ms), new Date(ms).toISOString());
});

test('a non-blocking stdout pipe whose reader is slow: every line arrives, none dropped, no failure', async () => {
  const n = 6000; // about 4 MB of lines: the 64 KiB pipe fills at once and stays full for a while
  const { code, out, err } = await runWithSlowReader('test/telemetry/fixtures/access-log-burst.ts', [String(n)], 700);
  assert.equal(err, 'dropped 0\n');
  assert.equal(code, 0);
  const paths = out.trimEnd().split('\n').map((l) => (JSON.parse(l) as { path: string }).path);
  assert.equal(paths.length, n);
  assert.deepEqual(paths.slice(-2), [`/burst/${n - 2}`, `/burst/${n - 1}`], 'in order');
});
