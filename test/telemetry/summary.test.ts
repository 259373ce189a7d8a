// The per-service rolling summary: rates, success, quantile resolution, window expiry, recent ring.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RequestRecord } from '../../src/telemetry/record.ts';
import { quantiles, ServiceSummaries, sketchIndex, sketchValue } from '../../src/telemetry/summary.ts';

const T0 = 1_700_000_000_000;

function rec(over: Partial<RequestRecord>): RequestRecord {
  return {
    startTime: T0, protocolKind: 'http', method: 'GET', path: '/', protocol: 'HTTP/1.1', authority: 'api.test',
    responseCode: 200, responseFlags: '-', responseCodeDetails: 'via_upstream', connectionTerminationDetails: '',
    upstreamTransportFailureReason: '', bytesReceived: 0, bytesSent: 0, durationMs: 10, upstreamServiceTimeMs: null,
    xForwardedFor: '', userAgent: '', requestId: '', upstreamHost: '', upstreamCluster: '', upstreamLocalAddress: '',
    downstreamLocalAddress: '', downstreamRemoteAddress: '', requestedServerName: '', routeName: '',
    destinationService: 'api.test', destinationServiceNamespace: 'istio-egress',
    sourcePrincipal: '', sourceWorkload: '', sourceNamespace: '', connectionSecurityPolicy: 'none', ...over,
  };
}

describe('ServiceSummaries', () => {
  test('RPS over the covered time, success rate counts 5xx and no-response as failures', () => {
    const s = new ServiceSummaries({ windowSec: 60 });
    for (let i = 0; i < 90; i++) s.record(rec({ startTime: T0 + (i % 10) * 1000 }));
    for (let i = 0; i < 9; i++) s.record(rec({ startTime: T0 + i * 1000, responseCode: 503, responseFlags: 'UF', responseCodeDetails: 'upstream_reset_before_response_started{connection_failure}' }));
    s.record(rec({ startTime: T0, responseCode: 0, responseFlags: 'DC' }));
    const out = s.snapshot(T0 + 9_500);
    const api = out.services.find((x) => x.service === 'api.test')!;
    assert.equal(api.requests, 100);
    assert.equal(api.rps, 10); // 100 requests over 10 covered seconds
    assert.equal(api.successRate, 0.9);
    assert.equal(api.namespace, 'istio-egress');
    assert.equal(api.activeTunnels, null, 'no open hook reported: unknown, not 0');
  });

  test('quantiles are within 5% of the true value', () => {
    const s = new ServiceSummaries();
    for (let ms = 1; ms <= 1000; ms++) s.record(rec({ durationMs: ms }));
    const api = s.snapshot(T0 + 1000).services[0]!;
    for (const [got, want] of [[api.p50Ms, 500], [api.p90Ms, 900], [api.p99Ms, 990]] as const) {
      assert.ok(got !== null && Math.abs(got - want) / want <= 0.05, `${got} vs ${want}`);
    }
    assert.deepEqual(quantiles(new Map(), 0, [0.5]), [null]);
    assert.equal(sketchValue(sketchIndex(0)), 0);
  });

  test('buckets older than the window drop out; idle services are evicted', () => {
    const s = new ServiceSummaries({ windowSec: 5 });
    s.record(rec({ startTime: T0, durationMs: 1 }));
    s.record(rec({ startTime: T0 + 4000, durationMs: 1, destinationService: 'b.test' }));
    let out = s.snapshot(T0 + 4000);
    assert.equal(out.services.find((x) => x.service === 'api.test')!.requests, 1);
    out = s.snapshot(T0 + 6000);
    assert.deepEqual(out.services.map((x) => x.service), ['b.test']);
    assert.equal(out.services[0]!.requests, 1);
  });

  test('tunnels: active counts between open and close once the data plane reports opens', () => {
    const s = new ServiceSummaries();
    const t = rec({ protocolKind: 'tcp', method: 'CONNECT', destinationService: 'tcp.test' });
    s.tunnelOpened(t);
    assert.equal(s.snapshot(T0).services[0]!.activeTunnels, 1);
    s.record({ ...t, durationMs: 2000 }); // a different object: not the opened one
    s.record(Object.assign(t, { durationMs: 3000 }));
    const svc = s.snapshot(T0 + 3000).services[0]!;
    assert.equal(svc.activeTunnels, 0);
    assert.equal(svc.requests, 0);
    assert.equal(svc.tunnelsPerSec, 0.5);
  });

  test('recent denials and errors: newest first, bounded, with flags and details', () => {
    const s = new ServiceSummaries({ recentCapacity: 3 });
    s.record(rec({ path: '/ok' }));
    for (let i = 0; i < 5; i++) s.record(rec({ path: `/d${i}`, responseCode: 403, responseFlags: '-', responseCodeDetails: 'rbac_access_denied_matched_policy[none]' }));
    const recent = s.snapshot(T0 + 100).recent;
    assert.deepEqual(recent.map((e) => e.path), ['/d4', '/d3', '/d2']);
    assert.equal(recent[0]!.details, 'rbac_access_denied_matched_policy[none]');
    assert.equal(recent[0]!.code, 403);
    assert.equal(s.snapshot(T0 + 100).services[0]!.denials, 5);
  });

  test('memory is bounded by maxServices', () => {
    const s = new ServiceSummaries({ maxServices: 3 });
    for (let i = 0; i < 10; i++) s.record(rec({ startTime: T0 + i, destinationService: `h${i}.test` }));
    assert.equal(s.snapshot(T0 + 100).services.length, 3);
  });
});
