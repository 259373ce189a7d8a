// DestinationRule connectionPool (503 UO on overflow), outlierDetection (ejection, return, 503 UH)
// and loadBalancer, end to end with several real upstream endpoints behind one ServiceEntry host.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { destinationRule, serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { proxyClient, type ProxyClient } from '../helpers/proxy-fetch.ts';
import { startHttpUpstream, type EchoBody, type HttpUpstream, type RouteContext } from '../helpers/upstream.ts';

const fail500 = (ctx: RouteContext) => {
  ctx.res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(ctx.echo));
};

function se(name: string, ports: readonly number[]): string {
  return serviceEntry(name, `hosts: [${name}.test]
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: STATIC
endpoints:
${ports.map((p) => `- {address: 127.0.0.1, ports: {http: ${p}}}`).join('\n')}`);
}

const dr = destinationRule;

describe('DestinationRule traffic policy', () => {
  let wp: InProcess;
  let client: ProxyClient;
  const up: Record<string, HttpUpstream> = {};

  before(async () => {
    const names = ['slow', 'a', 'b', 'c', 'bad1', 'bad2'];
    const started = await Promise.all(names.map((name) => startHttpUpstream({
      name, routes: name.startsWith('bad') || name === 'a' ? { '/work': fail500 } : {},
    })));
    names.forEach((n, i) => (up[n] = started[i]!));
    wp = await startInProcess(WAYPOINT_YAML
      + se('limited', [up.slow!.port]) + dr('limited', '{connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}}')
      + se('flaky', [up.a!.port, up.b!.port]) + dr('flaky', '{loadBalancer: {simple: ROUND_ROBIN}, outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 1s, maxEjectionPercent: 100}}')
      + se('doomed', [up.bad1!.port, up.bad2!.port]) + dr('doomed', '{outlierDetection: {consecutive5xxErrors: 1, baseEjectionTime: 30s, maxEjectionPercent: 100}}')
      + se('capped', [up.bad1!.port, up.bad2!.port]) + dr('capped', '{outlierDetection: {consecutive5xxErrors: 1, baseEjectionTime: 30s}}')
      + se('rr', [up.b!.port, up.c!.port]) + dr('rr', '{loadBalancer: {simple: ROUND_ROBIN}}')
      + se('sticky', [up.a!.port, up.b!.port, up.c!.port]) + dr('sticky', '{loadBalancer: {consistentHash: {httpHeaderName: x-user}}}')
      + se('least', [up.slow!.port, up.c!.port]));
    client = proxyClient(wp.proxyUrl, { tunnel: false, connections: 20 });
  });
  after(async () => {
    await client?.close();
    await wp?.close();
    await Promise.all(Object.values(up).map((u) => u.close()));
  });

  const who = async (host: string, path = '/', headers: Record<string, string> = {}) => {
    const r = await client.fetch(`http://${host}${path}`, { headers });
    return r.status === 200 || r.status === 500 ? (r.json() as EchoBody).upstream : `${r.status} ${r.headers.get('x-egressway-flags')}`;
  };

  test('connectionPool overflow under concurrency is 503 UO (1 connection + 1 pending)', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => client.fetch(`http://limited.test/delay/400?i=${i}`)));
    const ok = results.filter((r) => r.status === 200).length;
    const uo = results.filter((r) => r.status === 503 && r.headers.get('x-egressway-flags') === 'UO');
    assert.equal(ok, 2, results.map((r) => `${r.status} ${r.text()}`).join('\n'));
    assert.equal(uo.length, 3);
    assert.match(uo[0]!.text(), /reset reason: overflow.*maxConnections/);
    const rec = await wp.nextRecord((x) => x.authority === 'limited.test' && x.responseFlags === 'UO');
    assert.equal(rec.responseCodeDetails, 'upstream_reset_before_response_started{overflow}');
    // Slots are released: the cluster serves again once the burst is over.
    assert.equal((await client.fetch('http://limited.test/after')).status, 200);
  });

  test('outlier detection ejects a failing endpoint, then lets it back after baseEjectionTime', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) seen.push(await who('flaky.test', '/work'));
    // Round-robin a,b,a(2nd 5xx: ejected),b, then only b.
    assert.deepEqual(seen, ['a', 'b', 'a', 'b', 'b', 'b', 'b', 'b']);
    await sleep(1100);
    const back: string[] = [];
    for (let i = 0; i < 4; i++) back.push(await who('flaky.test', '/work'));
    assert.ok(back.includes('a'), `a is back: ${back.join(',')}`);
  });

  test('with every endpoint ejected the cluster answers 503 UH', async () => {
    assert.equal(await who('doomed.test', '/work'), 'bad1');
    assert.equal(await who('doomed.test', '/work'), 'bad2');
    const r = await client.fetch('http://doomed.test/work');
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('x-egressway-flags'), 'UH');
    assert.match(r.text(), /no healthy upstream.*ejected by outlier detection/);
  });

  test("maxEjectionPercent (Envoy's default 10%) keeps a 2-endpoint cluster from ejecting anything", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add(await who('capped.test', '/work'));
    assert.deepEqual([...seen].sort(), ['bad1', 'bad2']);
  });

  test('ROUND_ROBIN alternates', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push(await who('rr.test'));
    assert.deepEqual(seen, ['b', 'c', 'b', 'c']);
  });

  // Passes once the listener hands request context to pick() (Upstreams.pick's `ctx` argument).
  test('consistentHash on a header keeps a user on one endpoint and spreads users', async () => {
    const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
    const homes = new Set<string>();
    for (const u of users) {
      const first = await who('sticky.test', '/', { 'x-user': u });
      for (let i = 0; i < 3; i++) assert.equal(await who('sticky.test', '/', { 'x-user': u }), first, u);
      homes.add(first);
    }
    assert.ok(homes.size >= 2, `users spread over endpoints: ${[...homes].join(',')}`);
  });

  test('LEAST_REQUEST (the default) sends around a busy endpoint', async () => {
    const slow = client.fetch('http://least.test/delay/300');
    await sleep(50);
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) seen.push(await who('least.test'));
    assert.deepEqual(seen, ['c', 'c', 'c']);
    assert.equal((await slow).status, 200);
  });
});
