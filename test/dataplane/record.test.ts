// The per-request record as built from Node's IncomingMessage, and finished exactly once.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { finisher, newRecord, recordFromRequest } from '../../src/dataplane/record.ts';
import type { RequestRecord } from '../../src/telemetry/record.ts';

function req(over: { method?: string; url?: string; httpVersion?: string; headers?: Record<string, string | string[]> }): IncomingMessage {
  return {
    method: over.method ?? 'GET', url: over.url ?? '/x', httpVersion: over.httpVersion ?? '1.1', headers: over.headers ?? {},
    socket: { localAddress: '::ffff:127.0.0.1', localPort: 15001, remoteAddress: '10.0.0.9', remotePort: 40000 },
  } as unknown as IncomingMessage;
}

test('HTTP: path, Host authority, headers and socket addresses', () => {
  const r = recordFromRequest(req({ headers: { host: 'api.test', 'user-agent': 'curl/8', 'x-request-id': 'rid' } }), 'http');
  assert.equal(r.protocolKind, 'http');
  assert.equal(r.path, '/x');
  assert.equal(r.authority, 'api.test');
  assert.equal(r.protocol, 'HTTP/1.1');
  assert.equal(r.userAgent, 'curl/8');
  assert.equal(r.requestId, 'rid');
  assert.equal(r.downstreamLocalAddress, '127.0.0.1:15001');
  assert.equal(r.downstreamRemoteAddress, '10.0.0.9:40000');
  assert.equal(r.grpc, undefined);
  assert.ok(!('grpc' in r));
});

test('tunnels take the authority from the target, and have no path; peer overrides addresses', () => {
  const r = recordFromRequest(req({ method: 'CONNECT', url: 'api.test:443', headers: { host: 'ignored' } }), 'tcp', { local: 'l:1', remote: 'r:2' });
  assert.equal(r.authority, 'api.test:443');
  assert.equal(r.path, '');
  assert.equal(r.downstreamLocalAddress, 'l:1');
  assert.equal(r.downstreamRemoteAddress, 'r:2');
});

test('protocol versions, repeated headers, and gRPC by content-type in any case', () => {
  for (const v of ['1.0', '1.1', '2.0', '0.9']) assert.equal(recordFromRequest(req({ httpVersion: v }), 'http').protocol, `HTTP/${v}`);
  assert.equal(recordFromRequest(req({ headers: { 'user-agent': ['a', 'b'] } }), 'http').userAgent, 'a,b');
  assert.equal(recordFromRequest(req({ headers: { 'content-type': 'Application/GRPC+proto' } }), 'http').grpc, true);
  assert.equal(recordFromRequest(req({ headers: { 'content-type': 'application/json' } }), 'http').grpc, undefined);
  assert.equal(recordFromRequest(req({ headers: { 'content-type': 'application/grpc' } }), 'tcp').grpc, undefined);
});

test('newRecord and recordFromRequest build the same shape; finisher finishes once', () => {
  const a = newRecord({ kind: 'tcp', method: 'CONNECT', path: '', protocol: 'HTTP/1.1', authority: 'h:443', userAgent: '', requestId: '', local: '', remote: '' });
  const b = recordFromRequest(req({}), 'http');
  assert.deepEqual(Object.keys(a), Object.keys(b));
  const seen: RequestRecord[] = [];
  const finish = finisher(a, (r) => seen.push(r));
  a.responseCode = 200;
  finish();
  finish();
  assert.equal(seen.length, 1);
  assert.equal(a.responseCodeDetails, 'via_upstream');
});
