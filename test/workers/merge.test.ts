// `run --concurrency N` reads as one process: the primary adds up the workers' metrics and summary
// windows. The reference is one Metrics / ServiceSummaries that saw every record: the merge of two
// that each saw half must expose the same series with the same values (Istio names and labels
// unchanged), and the same summary.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { foldCumulative, mergeExpositions, Metrics } from '../../src/telemetry/metrics.ts';
import type { RequestRecord } from '../../src/telemetry/record.ts';
import { ServiceSummaries } from '../../src/telemetry/summary.ts';

function rec(i: number): RequestRecord {
  const tcp = i % 7 === 0;
  return {
    startTime: 1_000_000 + i * 150, protocolKind: tcp ? 'tcp' : 'http', method: tcp ? 'CONNECT' : 'GET', path: `/p${i}`, protocol: 'HTTP/1.1',
    authority: 'api.test', responseCode: [200, 200, 404, 503][i % 4]!, responseFlags: i % 4 === 3 ? 'UF' : '-', responseCodeDetails: 'via_upstream',
    connectionTerminationDetails: '', upstreamTransportFailureReason: '', bytesReceived: i * 10, bytesSent: i * 100, durationMs: (i * 13) % 100, // ends in record order, as records are emitted at their end
    upstreamServiceTimeMs: null, xForwardedFor: '', userAgent: '', requestId: '', upstreamHost: '', upstreamCluster: '', upstreamLocalAddress: '',
    downstreamLocalAddress: '', downstreamRemoteAddress: '', requestedServerName: '', routeName: '',
    destinationService: ['api.test', 'b.test', 'c.test'][i % 3]!, destinationServiceNamespace: 'egress',
    sourcePrincipal: i % 2 ? 'cluster.local/ns/a/sa/x' : '', sourceWorkload: '', sourceNamespace: '', connectionSecurityPolicy: i % 2 ? 'mutual_tls' : 'none',
  };
}

/** Sample lines (not HELP/TYPE), sorted, without the per-process gauges that differ by nature. */
function samples(text: string): string[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('egressway_event_loop')).sort();
}

test('two workers\' metrics merge into the exposition of one process that saw every record', async () => {
  const records = Array.from({ length: 200 }, (_, i) => rec(i));
  const one = new Metrics();
  const [a, b] = [new Metrics(), new Metrics()];
  for (const r of records) one.record(r);
  records.forEach((r, i) => (i % 3 ? a : b).record(r));
  one.reloads.inc({ result: 'success' });
  const primary = new Metrics(); // the primary counts reloads; the workers never do
  primary.reloads.inc({ result: 'success' });
  const merged = await mergeExpositions([await primary.state(), await a.state(), await b.state()]);
  const expected = await one.exposition();
  assert.deepEqual(samples(merged), samples(expected));
  // Same families, same HELP and TYPE lines: the Istio names and label sets are unchanged.
  const meta = (t: string) => t.split('\n').filter((l) => l.startsWith('# ')).sort();
  assert.deepEqual(meta(merged), meta(expected));
  assert.match(merged, /^istio_build\{component="proxy",tag="egressway-[^"]+"\} 1$/m, 'first, not summed over three loops');
});

test('two workers\' summary windows merge into the summary of one that saw every record', () => {
  const records = Array.from({ length: 300 }, (_, i) => rec(i));
  const one = new ServiceSummaries();
  const [a, b] = [new ServiceSummaries(), new ServiceSummaries()];
  for (const r of records) one.record(r);
  records.forEach((r, i) => (i % 2 ? a : b).record(r));
  const merged = new ServiceSummaries();
  merged.absorb(structuredClone(a.state()));
  merged.absorb(structuredClone(b.state()));
  const now = 1_000_000 + 300 * 150 + 1000;
  assert.deepEqual(merged.snapshot(now), one.snapshot(now));
});

test('a dead worker\'s counters and histograms are carried into the merge; its gauges are not', async () => {
  const records = Array.from({ length: 60 }, (_, i) => rec(i));
  const [dead, live, one] = [new Metrics(), new Metrics(), new Metrics()];
  dead.bindHealth({ activeRequests: () => 7, activeTunnels: () => 3, snapshotSwappedAt: () => 0 });
  live.bindHealth({ activeRequests: () => 1, activeTunnels: () => 0, snapshotSwappedAt: () => 0 });
  records.forEach((r, i) => { (i % 2 ? dead : live).record(r); one.record(r); });
  // Two restarts folded in turn: the carried state is one state, whatever the number of deaths.
  const half = await foldCumulative([await dead.state()]);
  const carried = await foldCumulative([half, { registry: [], families: [] }]);
  const merged = await mergeExpositions([await live.state(), carried]);
  const istio = (text: string) => samples(text).filter((l) => l.startsWith('istio_') && !l.startsWith('istio_build'));
  assert.deepEqual(istio(merged), istio(await one.exposition()), 'every request the dead worker counted is still counted');
  assert.match(merged, /^egressway_downstream_active_requests 1$/m, 'only the live worker\'s open requests');
  assert.match(merged, /^egressway_active_tunnels 0$/m);
  dead.close();
  live.close();
});
