// Upstream pool gauges per cluster, read from undici's Pool stats at scrape time: with one upstream
// connection allowed (DestinationRule maxConnections: 1) and three requests held by the upstream, one
// connection is open, one request runs and two wait; once released, none runs or waits.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startInProcess, WAYPOINT_YAML, type InProcess, loopbackEntry } from '../helpers/inprocess.ts';
import { proxyClient, type ProxyClient } from '../helpers/proxy-fetch.ts';
import { startHttpUpstream, type HttpUpstream, type RouteContext } from '../helpers/upstream.ts';

const CLUSTER = 'inbound-vip|80|http|pool.test';

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('upstream pool metrics', () => {
  let up: HttpUpstream;
  let wp: InProcess;
  let client: ProxyClient;
  const held: RouteContext[] = [];

  before(async () => {
    up = await startHttpUpstream({ routes: { '/hold': (ctx) => void held.push(ctx) } });
    wp = await startInProcess(WAYPOINT_YAML
      + loopbackEntry('pool', up.port)
      + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: pool, namespace: istio-egress}
spec:
  host: pool.test
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 10}}}
`);
    client = proxyClient(wp.proxyUrl, { tunnel: false, connections: 5 });
  });
  after(async () => {
    for (const h of held.splice(0)) h.res.destroy();
    await client?.close();
    await wp?.close();
    await up?.close();
  });

  const gauges = async (): Promise<Record<string, number>> => {
    const text = await (await fetch(`${wp.statsUrl}/stats/prometheus`)).text();
    const out: Record<string, number> = {};
    for (const name of ['egressway_upstream_cx_active', 'egressway_upstream_rq_pending', 'egressway_upstream_rq_active']) {
      const line = text.split('\n').find((l) => l.startsWith(`${name}{cluster="${CLUSTER}"} `));
      if (line) out[name] = Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return out;
  };

  test('connections open, requests in flight and waiting, per cluster', async () => {
    const responses = [1, 2, 3].map(() => client.fetch('http://pool.test/hold'));
    await until('the upstream to hold one request', () => held.length === 1);
    await until('two requests queued behind the one connection', async () => (await gauges())['egressway_upstream_rq_pending'] === 2);
    assert.deepEqual(await gauges(), { egressway_upstream_cx_active: 1, egressway_upstream_rq_pending: 2, egressway_upstream_rq_active: 1 });
    // Release them one by one; each frees the connection for the next.
    for (let i = 0; i < 3; i++) {
      await until(`held request ${i + 1}`, () => held.length > 0);
      const h = held.shift()!;
      h.res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    }
    for (const r of await Promise.all(responses)) assert.equal(r.status, 200);
    await until('nothing in flight', async () => (await gauges())['egressway_upstream_rq_active'] === 0);
    assert.deepEqual(await gauges(), { egressway_upstream_cx_active: 1, egressway_upstream_rq_pending: 0, egressway_upstream_rq_active: 0 });
  });
});
