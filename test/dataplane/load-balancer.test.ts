// Load balancer and outlier detector units: the choices that e2e tests can only sample.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LoadBalancer } from '../../src/dataplane/load-balancer.ts';
import { OutlierDetector } from '../../src/dataplane/outlier.ts';

const hosts = ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80'].map((key) => ({ key, weight: 1 }));
const idle = () => 0;

describe('LoadBalancer', () => {
  test('consistentHash by header: same key, same host; keys spread; ejected host skipped', () => {
    const lb = new LoadBalancer({ kind: 'CONSISTENT_HASH', httpHeaderName: 'x-user', minimumRingSize: 1024 }, hosts);
    const pick = (u: string, healthy = [0, 1, 2]) => lb.choose(healthy, idle, { headers: { 'x-user': u } });
    const users = Array.from({ length: 60 }, (_, i) => `user-${i}`);
    const counts = [0, 0, 0];
    for (const u of users) {
      const h = pick(u);
      assert.equal(pick(u), h);
      counts[h]!++;
    }
    assert.ok(counts.every((c) => c >= 8), `spread: ${counts.join(',')}`);
    const onZero = users.filter((u) => pick(u) === 0);
    const onOne = users.filter((u) => pick(u) === 1);
    for (const u of onZero) assert.notEqual(pick(u, [1, 2]), 0);
    for (const u of onOne) assert.equal(pick(u, [1, 2]), 1, 'keys of healthy hosts do not move');
  });

  test('consistentHash by cookie, query parameter and source IP; missing key falls back to round-robin', () => {
    const cookie = new LoadBalancer({ kind: 'CONSISTENT_HASH', httpCookie: 'sid', minimumRingSize: 64 }, hosts);
    const c = cookie.choose([0, 1, 2], idle, { headers: { cookie: 'a=1; sid=xyz' } });
    assert.equal(cookie.choose([0, 1, 2], idle, { headers: { cookie: 'sid=xyz' } }), c);
    const query = new LoadBalancer({ kind: 'CONSISTENT_HASH', httpQueryParameterName: 'k', minimumRingSize: 64 }, hosts);
    assert.equal(query.choose([0, 1, 2], idle, { path: '/a?k=7' }), query.choose([0, 1, 2], idle, { path: '/b?x=1&k=7' }));
    const ip = new LoadBalancer({ kind: 'CONSISTENT_HASH', useSourceIp: true, minimumRingSize: 64 }, hosts);
    assert.equal(ip.choose([0, 1, 2], idle, { sourceIp: '10.1.1.1' }), ip.choose([0, 1, 2], idle, { sourceIp: '10.1.1.1' }));
    assert.deepEqual([0, 1, 2].map(() => ip.choose([0, 1, 2], idle, {})), [0, 1, 2]);
  });

  test('LEAST_REQUEST prefers the least busy; ties rotate', () => {
    const lb = new LoadBalancer(undefined, hosts);
    const active = [3, 0, 5];
    assert.deepEqual([0, 1, 2].map(() => lb.choose([0, 1, 2], (i) => active[i]!, undefined)), [1, 1, 1]);
    assert.deepEqual([0, 1, 2].map(() => lb.choose([0, 1, 2], idle, undefined)), [0, 1, 2]);
  });

  test('RANDOM stays within the healthy set', () => {
    const lb = new LoadBalancer({ kind: 'RANDOM' }, hosts);
    for (let i = 0; i < 50; i++) assert.notEqual(lb.choose([0, 2], idle, undefined), 1);
  });
});

describe('OutlierDetector', () => {
  const policy = { consecutive5xxErrors: 2, consecutiveGatewayErrors: 0, intervalMs: 1000, baseEjectionTimeMs: 1000, maxEjectionPercent: 100, minHealthPercent: 0 };
  const keys = hosts.map((h) => h.key);

  test('ejection time grows with repeated ejections and shrinks after healthy intervals', () => {
    let now = 0;
    const od = new OutlierDetector(policy, 3, () => now);
    const fail = () => od.report(keys[0]!, { status: 503 }, keys);
    fail(); fail();
    assert.equal(od.isEjected(keys[0]!), true);
    now = 1000;
    assert.equal(od.isEjected(keys[0]!), false);
    fail(); fail();
    now = 2999;
    assert.equal(od.isEjected(keys[0]!), true, 'second ejection lasts 2 x base');
    now = 3000;
    assert.equal(od.isEjected(keys[0]!), false);
  });

  test('a success resets the run; local-origin failures count; gateway errors only 502-504', () => {
    const od = new OutlierDetector({ ...policy, consecutive5xxErrors: 0, consecutiveGatewayErrors: 2 }, 3, () => 0);
    od.report(keys[1]!, { status: 500 }, keys);
    od.report(keys[1]!, { status: 500 }, keys);
    assert.equal(od.isEjected(keys[1]!), false);
    od.report(keys[1]!, { localFailure: true }, keys);
    od.report(keys[1]!, { status: 200 }, keys);
    od.report(keys[1]!, { status: 502 }, keys);
    assert.equal(od.isEjected(keys[1]!), false);
    od.report(keys[1]!, { localFailure: true }, keys);
    assert.equal(od.isEjected(keys[1]!), true);
  });

  test('maxEjectionPercent caps ejections; minHealthPercent panics', () => {
    const od = new OutlierDetector({ ...policy, consecutive5xxErrors: 1, maxEjectionPercent: 34 }, 3, () => 0);
    od.report(keys[0]!, { status: 500 }, keys);
    od.report(keys[1]!, { status: 500 }, keys);
    assert.deepEqual(keys.map((k) => od.isEjected(k)), [true, false, false]);
    const panicky = new OutlierDetector({ ...policy, minHealthPercent: 50 }, 3, () => 0);
    assert.equal(panicky.panics(1), true);
    assert.equal(panicky.panics(2), false);
  });
});
