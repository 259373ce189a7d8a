// Istio metrics from records: each label tuple counts into its own series, however the tuples
// interleave (the recent-tuples memo in front of the series Map must never mix them up).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../src/telemetry/metrics.ts';
import type { RequestRecord } from '../../src/telemetry/record.ts';

function rec(over: Partial<RequestRecord>): RequestRecord {
  return {
    startTime: 0, protocolKind: 'http', method: 'GET', path: '/', protocol: 'HTTP/1.1', authority: 'api.test',
    responseCode: 200, responseFlags: '-', responseCodeDetails: 'via_upstream', connectionTerminationDetails: '',
    upstreamTransportFailureReason: '', bytesReceived: 0, bytesSent: 0, durationMs: 1, upstreamServiceTimeMs: null,
    xForwardedFor: '', userAgent: '', requestId: '', upstreamHost: '', upstreamCluster: '', upstreamLocalAddress: '',
    downstreamLocalAddress: '', downstreamRemoteAddress: '', requestedServerName: '', routeName: '',
    destinationService: 'api.test', destinationServiceNamespace: 'egress',
    sourcePrincipal: '', sourceWorkload: '', sourceNamespace: '', connectionSecurityPolicy: 'none', ...over,
  };
}

/** Value of the one series of `name` whose labels include all of `labels`. */
function value(text: string, name: string, labels: Record<string, string>): number {
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`,${k}="${v}"`) || l.includes(`{${k}="${v}"`)));
  assert.equal(lines.length, 1, `${name} ${JSON.stringify(labels)}: ${lines.join('\n')}`);
  return Number(lines[0]!.slice(lines[0]!.lastIndexOf(' ') + 1));
}

test('interleaved label tuples (more than the memo holds) each count into their own series', async () => {
  const m = new Metrics();
  const services = ['a.test', 'b.test', 'c.test', 'd.test'];
  const codes = [200, 404, 503];
  // 12 tuples, round robin, 5 times: every lookup misses an 8-entry memo, and some hit.
  for (let round = 0; round < 5; round++) {
    for (const s of services) for (const code of codes) m.record(rec({ destinationService: s, responseCode: code, responseFlags: code === 503 ? 'UF' : '-' }));
  }
  // Tuples that differ in one field only.
  m.record(rec({ sourcePrincipal: 'spiffe://td/ns/shop/sa/web', connectionSecurityPolicy: 'mutual_tls' }));
  m.record(rec({ sourceWorkload: 'web', sourceNamespace: 'shop' }));
  m.record(rec({ destinationServiceNamespace: 'other' }));
  const text = await m.exposition();
  for (const s of services) {
    for (const code of codes) assert.equal(value(text, 'istio_requests_total', { destination_service: s, response_code: String(code), source_principal: 'unknown', destination_service_namespace: 'egress' }), 5);
  }
  assert.equal(value(text, 'istio_requests_total', { source_principal: 'spiffe://td/ns/shop/sa/web', connection_security_policy: 'mutual_tls' }), 1);
  assert.equal(value(text, 'istio_requests_total', { source_workload: 'web', source_workload_namespace: 'shop' }), 1);
  assert.equal(value(text, 'istio_requests_total', { destination_service_namespace: 'other' }), 1);
});

test('gRPC: request_protocol and grpc_response_status split series; grpc false and absent are the same', async () => {
  const m = new Metrics();
  m.record(rec({}));
  m.record(rec({ grpc: false }));
  m.record(rec({ grpc: true, grpcStatus: '0' }));
  m.record(rec({ grpc: true, grpcStatus: '14' }));
  m.record(rec({ grpc: true, grpcStatus: '0' }));
  m.record(rec({ grpc: true }));
  const text = await m.exposition();
  assert.equal(value(text, 'istio_requests_total', { request_protocol: 'http', grpc_response_status: '' }), 2);
  assert.equal(value(text, 'istio_requests_total', { request_protocol: 'grpc', grpc_response_status: '0' }), 2);
  assert.equal(value(text, 'istio_requests_total', { request_protocol: 'grpc', grpc_response_status: '14' }), 1);
  assert.equal(value(text, 'istio_requests_total', { request_protocol: 'grpc', grpc_response_status: '' }), 1);
});

test('tunnels: opened counts once, at the open hook when there is one, else at close', async () => {
  const m = new Metrics();
  const hooked = rec({ protocolKind: 'tcp', destinationService: 'raw.test' });
  m.tunnelOpened(hooked);
  m.record({ ...hooked, responseFlags: 'UC' }); // a different object: its open was not counted
  m.record(hooked);
  const text = await m.exposition();
  assert.equal(value(text, 'istio_tcp_connections_opened_total', { destination_service: 'raw.test', response_flags: '-' }), 1);
  assert.equal(value(text, 'istio_tcp_connections_closed_total', { destination_service: 'raw.test', response_flags: '-' }), 1);
  assert.equal(value(text, 'istio_tcp_connections_opened_total', { destination_service: 'raw.test', response_flags: 'UC' }), 1);
  assert.equal(value(text, 'istio_tcp_connections_closed_total', { destination_service: 'raw.test', response_flags: 'UC' }), 1);
});

test('event-loop lag is sampled every 100 ms, and says so', async () => {
  const m = new Metrics();
  m.bindHealth({ activeRequests: () => 0, activeTunnels: () => 0, snapshotSwappedAt: () => 0 });
  try {
    await new Promise((r) => setTimeout(r, 350));
    const text = await m.exposition();
    assert.match(text, /^# HELP egressway_event_loop_lag_seconds .*\(perf_hooks, 100 ms sampling\)$/m);
    // An idle loop: the timer period itself is not counted as lag.
    assert.ok(value(text, 'egressway_event_loop_lag_seconds', { stat: 'p50' }) < 0.05);
  } finally {
    m.close();
  }
});
