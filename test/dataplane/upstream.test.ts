// Upstreams.pick()/pool() without sockets: which endpoint is dialled, which pool serves it, and the
// SSRF check on the dialled address. pick() reuses its endpoint objects and their pool keys, so
// each test also checks that a fresh, equal endpoint lands in the same pool.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { ClusterPolicy } from '../../src/model/cluster-policy.ts';
import type { Cluster, Resolution } from '../../src/model/snapshot.ts';
import { DataplaneError } from '../../src/dataplane/errors.ts';
import { DnsCache } from '../../src/dataplane/resolver.ts';
import { DialPolicy } from '../../src/dataplane/ssrf.ts';
import { Upstreams, type Endpoint } from '../../src/dataplane/upstream.ts';

class FakeDns extends DnsCache {
  readonly answers = new Map<string, readonly string[]>();
  override resolve(name: string): readonly string[] | Promise<readonly string[]> {
    return this.answers.get(name) ?? [name];
  }
}

function cluster(over: Partial<Cluster> & { addresses?: readonly string[]; resolution?: Resolution } = {}): Cluster {
  const { addresses = ['93.184.216.34'], ...rest } = over;
  return {
    name: 'outbound|80||api.test', service: 'api.test', host: 'api.test', port: 80, targetPort: 80, protocol: 'HTTP',
    kind: 'http', resolution: 'STATIC', endpoints: addresses.map((address) => ({ address, port: 8080, labels: {}, weight: 1 })),
    ...rest,
  };
}

const TLS_POLICY: ClusterPolicy = {
  key: 'tls1', source: { kind: 'DestinationRule', namespace: 'ns', name: 'dr' } as ClusterPolicy['source'],
  tls: { mode: 'SIMPLE', subjectAltNames: [], insecureSkipVerify: false }, h2Upgrade: false,
};

const sync = (e: Endpoint | Promise<Endpoint>): Endpoint => {
  assert.ok(!(e instanceof Promise), 'expected a synchronous pick');
  return e;
};

describe('Upstreams', () => {
  const all: Upstreams[] = [];
  const upstreams = (policy = new DialPolicy()) => {
    const dns = new FakeDns();
    const u = new Upstreams(dns, { dialPolicy: policy });
    all.push(u);
    return { u, dns };
  };
  after(() => Promise.all(all.map((u) => u.close())));

  test('STATIC IP endpoint: dialled as is, one endpoint object and one pool across requests', () => {
    const { u } = upstreams();
    const c = cluster();
    const a = sync(u.pick(c, 'api.test', 80));
    assert.deepEqual({ ...a }, { address: '93.184.216.34', port: 8080, cluster: c, sni: 'api.test', hostKey: '93.184.216.34:8080', authority: '93.184.216.34:8080' });
    assert.equal(sync(u.pick(c, 'api.test', 80)), a);
    assert.ok(Object.isFrozen(a));
    const p = u.pool(c.name, a);
    assert.equal(u.pool(c.name, a), p);
    assert.equal(u.pool(c.name, { ...a }), p, 'an equal endpoint built elsewhere shares the pool');
    assert.notEqual(u.pool('other-cluster', a), p, "another cluster's pool: its policy does not apply");
  });

  test('TLS origination: the pool key carries the SNI; a new Cluster object gets a new endpoint', () => {
    const { u } = upstreams();
    const c = cluster({ policy: TLS_POLICY });
    const a = sync(u.pick(c, 'api.test', 80));
    const p = u.pool(c.name, a);
    assert.equal(u.pool(c.name, { ...a }), p);
    assert.notEqual(u.pool(c.name, { ...a, sni: 'other.test' }), p);
    const next = { ...c }; // the same cluster in the next snapshot
    const b = sync(u.pick(next, 'api.test', 80));
    assert.notEqual(b, a);
    assert.equal(b.cluster, next);
    assert.equal(u.pool(next.name, b), p, 'same policy and endpoints: same pool');
  });

  test('wildcard host: SNI is the request host, so the endpoint follows it', () => {
    const { u } = upstreams();
    const c = cluster({ host: '*.api.test', policy: TLS_POLICY });
    const a = sync(u.pick(c, 'x.api.test', 80));
    const b = sync(u.pick(c, 'y.api.test', 80));
    assert.equal(a.sni, 'x.api.test');
    assert.equal(b.sni, 'y.api.test');
    assert.notEqual(u.pool(c.name, a), u.pool(c.name, b));
    assert.equal(u.pool(c.name, { ...b }), u.pool(c.name, b));
  });

  test('DNS endpoint: round robin over its answers, each address with its own endpoint and pool', () => {
    const { u, dns } = upstreams();
    dns.answers.set('backend.test', ['93.184.216.34', '93.184.216.35']);
    const c = cluster({ resolution: 'DNS', addresses: ['backend.test'] });
    const picks = [0, 1, 2, 3].map(() => sync(u.pick(c, 'api.test', 80)));
    assert.deepEqual(picks.map((e) => e.address), ['93.184.216.34', '93.184.216.35', '93.184.216.34', '93.184.216.35']);
    assert.equal(picks[0], picks[2]);
    assert.equal(picks[0]!.hostKey, 'backend.test:8080');
    assert.notEqual(u.pool(c.name, picks[0]!), u.pool(c.name, picks[1]!));
    assert.equal(u.pool(c.name, { ...picks[1]! }), u.pool(c.name, picks[1]!));
  });

  test('SSRF: checked on the dialled address, by origin', () => {
    const { u, dns } = upstreams(new DialPolicy({ denyCidrs: ['203.0.113.0/24'] }));
    dns.answers.set('rebind.test', ['127.0.0.1']);
    const refused = (f: () => unknown, rule: RegExp) => assert.throws(f, (e: unknown) => e instanceof DataplaneError && e.code === 'ssrf_refused' && rule.test(e.message));
    refused(() => u.pick(cluster({ resolution: 'DNS', addresses: ['rebind.test'] }), 'api.test', 80), /loopback/);
    refused(() => u.pick(cluster({ addresses: ['203.0.113.9'] }), 'api.test', 80), /--deny-cidr/);
    // A private IP the ServiceEntry names is trusted; the same IP as a passthrough request host is not.
    assert.equal(sync(u.pick(cluster({ addresses: ['10.0.0.1'] }), 'api.test', 80)).address, '10.0.0.1');
    refused(() => u.pick(undefined, '10.0.0.1', 80), /taken from the request/);
  });

  test('passthrough and resolution NONE dial the request host', () => {
    const { u } = upstreams();
    assert.deepEqual(sync(u.pick(undefined, '93.184.216.34', 8443)), { address: '93.184.216.34', port: 8443 });
    const c = cluster({ resolution: 'NONE', addresses: [], targetPort: 9090 });
    assert.deepEqual(sync(u.pick(c, '93.184.216.40', 80)), { address: '93.184.216.40', port: 9090, cluster: c, sni: 'api.test', hostKey: '93.184.216.40:9090' });
  });
});
