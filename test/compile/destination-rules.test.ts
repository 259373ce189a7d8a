// Which DestinationRule a waypoint cluster gets (Istio PushContext.destinationRule from the waypoint's
// namespace), how portLevelSettings and subsets merge (MergeTrafficPolicy), and subset clusters.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';

const WAYPOINT = `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: egress}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}]
`;

const se = (ns: string, host: string, extra = '') => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${host.replace(/[*.]/g, 'x')}, namespace: ${ns}, labels: {istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: egress}}
spec:
  hosts: ["${host}"]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 443}, {number: 8080, name: alt, protocol: HTTP}]
  resolution: ${host.startsWith('*') ? 'DYNAMIC_DNS' : 'STATIC'}
${extra}${extra ? '\n' : ''}`;

const dr = (ns: string, name: string, host: string, spec: string) => `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}}
spec:
  host: "${host}"
${spec.split('\n').map((l) => `  ${l}`).join('\n')}
`;

function build(yaml: string): { snap: Snapshot; warnings: string[] } {
  const parsed = parseDocuments(yaml, 'dr.yaml');
  assert.deepEqual(parsed.diagnostics.filter((d) => d.level === 'error'), []);
  const out = compile(parsed.resources, { waypoint: 'egress/waypoint' });
  assert.ok(out.snapshot, JSON.stringify(out.diagnostics));
  return { snap: out.snapshot, warnings: out.diagnostics.filter((d) => d.level === 'warning').map((d) => `${d.code} ${d.path} ${d.message}`) };
}

const source = (s: Snapshot, name: string) => {
  const p = s.clusters.get(name)?.policy;
  return p ? `${p.source.namespace}/${p.source.name}` : undefined;
};

describe('DestinationRule lookup', () => {
  const rows: { name: string; yaml: string; cluster: string; expect: string | undefined }[] = [
    {
      name: 'exact host beats a wildcard in the same namespace',
      yaml: se('egress', 'api.example.com') + dr('egress', 'wild', '*.example.com', 'trafficPolicy: {tls: {mode: SIMPLE}}') + dr('egress', 'exact', 'api.example.com', 'trafficPolicy: {tls: {mode: SIMPLE}}'),
      cluster: 'inbound-vip|80|http|api.example.com', expect: 'egress/exact',
    },
    {
      name: 'the longest wildcard wins',
      yaml: se('egress', 'api.a.example.com') + dr('egress', 'short', '*.example.com', 'trafficPolicy: {tls: {mode: SIMPLE}}') + dr('egress', 'long', '*.a.example.com', 'trafficPolicy: {tls: {mode: SIMPLE}}'),
      cluster: 'inbound-vip|80|http|api.a.example.com', expect: 'egress/long',
    },
    {
      name: 'a wildcard ServiceEntry host takes a wildcard DR that covers it',
      yaml: se('egress', '*.example.com') + dr('egress', 'wild', '*.example.com', 'trafficPolicy: {tls: {mode: SIMPLE}}'),
      cluster: 'inbound-vip|80|http|*.example.com', expect: 'egress/wild',
    },
    {
      name: "the waypoint's namespace wins over the ServiceEntry's",
      yaml: se('apps', 'api.example.com') + dr('apps', 'in-se-ns', 'api.example.com', 'trafficPolicy: {tls: {mode: SIMPLE}}') + dr('egress', 'in-wp-ns', 'api.example.com', 'trafficPolicy: {tls: {mode: SIMPLE}}'),
      cluster: 'inbound-vip|80|http|api.example.com', expect: 'egress/in-wp-ns',
    },
    {
      name: "the ServiceEntry's namespace wins over the root namespace",
      yaml: se('apps', 'api.example.com') + dr('istio-system', 'root', 'api.example.com', 'trafficPolicy: {tls: {mode: SIMPLE}}') + dr('apps', 'local', 'api.example.com', 'trafficPolicy: {tls: {mode: SIMPLE}}'),
      cluster: 'inbound-vip|80|http|api.example.com', expect: 'apps/local',
    },
    {
      name: 'a DR not exported to the waypoint namespace is skipped for the root one',
      yaml: se('apps', 'api.example.com') + dr('apps', 'private', 'api.example.com', 'exportTo: ["."]\ntrafficPolicy: {tls: {mode: SIMPLE}}') + dr('istio-system', 'root', 'api.example.com', 'trafficPolicy: {tls: {mode: SIMPLE}}'),
      cluster: 'inbound-vip|80|http|api.example.com', expect: 'istio-system/root',
    },
    {
      name: 'exportTo naming the waypoint namespace is visible',
      yaml: se('apps', 'api.example.com') + dr('apps', 'shared', 'api.example.com', 'exportTo: [egress]\ntrafficPolicy: {tls: {mode: SIMPLE}}'),
      cluster: 'inbound-vip|80|http|api.example.com', expect: 'apps/shared',
    },
    {
      name: 'a DR in an unrelated namespace does not apply',
      yaml: se('apps', 'api.example.com') + dr('other', 'stray', 'api.example.com', 'trafficPolicy: {tls: {mode: SIMPLE}}'),
      cluster: 'inbound-vip|80|http|api.example.com', expect: undefined,
    },
    {
      name: 'an exact DR does not apply to a wildcard ServiceEntry host',
      yaml: se('egress', '*.example.com') + dr('egress', 'exact', 'api.example.com', 'trafficPolicy: {tls: {mode: SIMPLE}}'),
      cluster: 'inbound-vip|80|http|*.example.com', expect: undefined,
    },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const { snap } = build(WAYPOINT + r.yaml);
      assert.equal(source(snap, r.cluster), r.expect);
    });
  }
});

describe('DestinationRule policy per port and subset', () => {
  test('portLevelSettings for the SERVICE port replace the top-level fields wholesale', () => {
    const { snap } = build(WAYPOINT + se('egress', 'api.example.com') + dr('egress', 'd', 'api.example.com', `trafficPolicy:
  tls: {mode: SIMPLE}
  connectionPool: {tcp: {maxConnections: 7}}
  portLevelSettings:
  - port: {number: 8080}
    connectionPool: {http: {http1MaxPendingRequests: 3}}`));
    const p80 = snap.clusters.get('inbound-vip|80|http|api.example.com')!.policy!;
    const p8080 = snap.clusters.get('inbound-vip|8080|http|api.example.com')!.policy!;
    assert.equal(p80.tls?.mode, 'SIMPLE');
    assert.deepEqual(p80.connectionPool, { maxConnections: 7 });
    assert.equal(p8080.tls, undefined, 'port-level settings do not inherit');
    assert.deepEqual(p8080.connectionPool, { http1MaxPendingRequests: 3 });
  });

  test('port 443 (the targetPort) does not match portLevelSettings: the service port does', () => {
    const { snap } = build(WAYPOINT + se('egress', 'api.example.com') + dr('egress', 'd', 'api.example.com', `trafficPolicy:
  portLevelSettings:
  - port: {number: 443}
    tls: {mode: SIMPLE}`));
    assert.equal(snap.clusters.get('inbound-vip|80|http|api.example.com')!.policy?.tls, undefined);
  });

  test('subsets make clusters with their endpoints and merged policy; the host table points at policy clusters', () => {
    const { snap } = build(WAYPOINT + se('egress', 'api.example.com', `  endpoints:
  - {address: 10.0.0.1, labels: {version: v1}}
  - {address: 10.0.0.2, labels: {version: v2}}
  - {address: 10.0.0.3, labels: {version: v2}}`) + dr('egress', 'd', 'api.example.com', `trafficPolicy:
  tls: {mode: SIMPLE, sni: api.example.com}
  loadBalancer: {simple: ROUND_ROBIN}
subsets:
- name: v1
  labels: {version: v1}
- name: v2
  labels: {version: v2}
  trafficPolicy: {loadBalancer: {simple: RANDOM}}`));
    const base = snap.clusters.get('inbound-vip|80|http|api.example.com')!;
    assert.deepEqual(base.subsets, { v1: 'inbound-vip|80|http/v1|api.example.com', v2: 'inbound-vip|80|http/v2|api.example.com' });
    const v1 = snap.clusters.get('inbound-vip|80|http/v1|api.example.com')!;
    const v2 = snap.clusters.get('inbound-vip|80|http/v2|api.example.com')!;
    assert.deepEqual(v1.endpoints.map((e) => e.address), ['10.0.0.1']);
    assert.deepEqual(v2.endpoints.map((e) => e.address), ['10.0.0.2', '10.0.0.3']);
    assert.equal(v1.policy?.loadBalancer?.kind, 'ROUND_ROBIN');
    assert.equal(v2.policy?.loadBalancer?.kind, 'RANDOM');
    assert.equal(v2.policy?.tls?.sni, 'api.example.com', 'subset inherits fields it does not set');
    assert.equal(snap.hosts.exact.get('api.example.com')!.get(80)!.cluster, base, 'host table relinked');
  });

  test('DRs for one host in one namespace merge: first trafficPolicy, subsets appended', () => {
    const { snap } = build(WAYPOINT + se('egress', 'api.example.com') + dr('egress', 'a', 'api.example.com', 'trafficPolicy: {tls: {mode: SIMPLE}}\nsubsets: [{name: v1, labels: {v: "1"}}]')
      + dr('egress', 'b', 'api.example.com', 'trafficPolicy: {tls: {mode: MUTUAL, clientCertificate: /c, privateKey: /k}}\nsubsets: [{name: v2, labels: {v: "2"}}]'));
    const base = snap.clusters.get('inbound-vip|80|http|api.example.com')!;
    assert.equal(base.policy?.tls?.mode, 'SIMPLE');
    assert.deepEqual(Object.keys(base.subsets ?? {}), ['v1', 'v2']);
  });

  test('ISTIO_MUTUAL is ignored with a warning; DISABLE originates nothing', () => {
    const { snap, warnings } = build(WAYPOINT + se('egress', 'api.example.com') + se('egress', 'b.example.com')
      + dr('egress', 'm', 'api.example.com', 'trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}') + dr('egress', 'd', 'b.example.com', 'trafficPolicy: {tls: {mode: DISABLE}}'));
    assert.equal(snap.clusters.get('inbound-vip|80|http|api.example.com')!.policy?.tls, undefined);
    assert.equal(snap.clusters.get('inbound-vip|80|http|b.example.com')!.policy?.tls, undefined);
    assert.ok(warnings.some((w) => /IST0133 spec\.trafficPolicy\.tls\.mode .*ISTIO_MUTUAL is ignored/.test(w)), warnings.join('\n'));
  });

  test('credentialName is looked up in the waypoint namespace; durations become ms; outlier defaults', () => {
    const { snap } = build(WAYPOINT + se('apps', 'api.example.com') + dr('apps', 'd', 'api.example.com', `trafficPolicy:
  tls: {mode: MUTUAL, credentialName: client}
  connectionPool: {tcp: {connectTimeout: 250ms, maxConnectionDuration: 1m}, http: {idleTimeout: 2s, maxRetries: 0}}
  outlierDetection: {consecutive5xxErrors: 2}`));
    const p = snap.clusters.get('inbound-vip|80|http|api.example.com')!.policy!;
    assert.deepEqual(p.tls?.credential, { namespace: 'egress', name: 'client' });
    assert.deepEqual(p.connectionPool, { connectTimeoutMs: 250, maxConnectionDurationMs: 60_000, httpIdleTimeoutMs: 2000, maxRetries: 0 });
    assert.deepEqual(p.outlierDetection, { consecutive5xxErrors: 2, consecutiveGatewayErrors: 0, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 10, minHealthPercent: 0 });
  });

  test('policy keys are deterministic and change with the policy', () => {
    const yaml = (n: number) => WAYPOINT + se('egress', 'api.example.com') + dr('egress', 'd', 'api.example.com', `trafficPolicy: {connectionPool: {tcp: {maxConnections: ${n}}}}`);
    const key = (n: number) => build(yaml(n)).snap.clusters.get('inbound-vip|80|http|api.example.com')!.policy!.key;
    assert.equal(key(1), key(1));
    assert.notEqual(key(1), key(2));
  });
});
