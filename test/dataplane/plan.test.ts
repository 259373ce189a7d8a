// plan() without sockets: the routing table users get from their ServiceEntries.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import { planRoute, type Mode } from '../../src/dataplane/plan.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';

const snap = compile(parseDocuments(WAYPOINT_YAML
  + serviceEntry('api', 'hosts: [api.example.com]\nports: [{number: 80, name: http, protocol: HTTP}, {number: 443, name: https, protocol: HTTPS}, {number: 9000, name: raw}]\nresolution: DNS')
  + serviceEntry('wild', 'hosts: ["*.example.com"]\nports: [{number: 443, name: tls, protocol: TLS}]\nresolution: DYNAMIC_DNS')
  + serviceEntry('pinned', 'hosts: [db.internal]\naddresses: [10.1.2.3]\nports: [{number: 5432, name: tcp, protocol: TCP}]\nresolution: STATIC\nendpoints: [{address: 10.1.2.3}]'),
'plan.yaml').resources).snapshot!;

const rows: { host: string; port: number; mode: Mode; expect: string }[] = [
  { host: 'api.example.com', port: 80, mode: 'http', expect: 'forward inbound-vip|80|http|api.example.com' },
  { host: 'API.Example.com', port: 80, mode: 'http', expect: 'forward inbound-vip|80|http|api.example.com' },
  { host: 'api.example.com', port: 80, mode: 'connect', expect: 'terminate inbound-vip|80|http|api.example.com' },
  { host: 'api.example.com', port: 443, mode: 'connect', expect: 'forward inbound-vip|443|tcp|api.example.com' },
  { host: 'api.example.com', port: 443, mode: 'http', expect: 'reject protocol_mismatch' },
  { host: 'api.example.com', port: 9000, mode: 'http', expect: 'forward inbound-vip|9000|tcp|api.example.com' },
  { host: 'api.example.com', port: 8080, mode: 'http', expect: 'reject unknown_port' },
  { host: 'x.example.com', port: 443, mode: 'connect', expect: 'forward inbound-vip|443|tcp|*.example.com' },
  { host: 'api.example.com', port: 443, mode: 'connect', expect: 'forward inbound-vip|443|tcp|api.example.com' },
  { host: 'example.com', port: 443, mode: 'connect', expect: 'reject unknown_host' },
  { host: '10.1.2.3', port: 5432, mode: 'connect', expect: 'forward inbound-vip|5432|tcp|db.internal' },
  { host: 'other.test', port: 80, mode: 'http', expect: 'reject unknown_host' },
];

describe('planRoute', () => {
  for (const r of rows) {
    test(`${r.mode} ${r.host}:${r.port} -> ${r.expect}`, () => {
      const p = planRoute(snap, r.host.toLowerCase(), r.port, r.mode);
      const got = p.kind === 'reject' ? `reject ${p.code}` : p.kind === 'forward' ? `${p.terminate ? 'terminate' : 'forward'} ${p.cluster.name}` : 'passthrough';
      assert.equal(got, r.expect);
    });
  }

  test('auto-allocated VIPs route like the host and are stable', () => {
    const api = snap.services.find((s) => s.name === 'api')!;
    assert.equal(api.autoAllocated, true);
    assert.match(api.addresses[0]!, /^240\.240\.\d+\.\d+$/);
    const p = planRoute(snap, api.addresses[0]!, 80, 'http');
    assert.equal(p.kind === 'forward' && p.cluster.name, 'inbound-vip|80|http|api.example.com');
    const wild = snap.services.find((s) => s.name === 'wild')!;
    assert.deepEqual(wild.addresses, [], 'wildcards get no VIP');
  });

  // What a refusal says is the product (README: "every refusal says which host was refused, why,
  // and what to add"), so the messages and the Envoy route/cluster names are asserted whole.
  test('refusals name the host, the waypoint and the fix; route block_all, cluster BlackHoleCluster', () => {
    const port = planRoute(snap, 'api.example.com', 8080, 'http');
    assert.deepEqual(port, {
      kind: 'reject', code: 'unknown_port', routeName: 'block_all', clusterName: 'BlackHoleCluster',
      message: 'api.example.com is registered with waypoint istio-egress/waypoint on ports 80, 443, 9000, not 8080; add {number: 8080, name: ..., protocol: ...} to the ServiceEntry\'s ports',
    });
    const one = planRoute(snap, 'db.internal', 80, 'http');
    assert.equal(one.kind === 'reject' && one.message, 'db.internal is registered with waypoint istio-egress/waypoint on port 5432, not 80; add {number: 80, name: ..., protocol: ...} to the ServiceEntry\'s ports');
    const host = planRoute(snap, 'other.test', 80, 'http');
    assert.equal(host.kind === 'reject' && host.message, 'other.test:80 is not in the registry of waypoint istio-egress/waypoint, so egress to it is refused. To allow it, add a ServiceEntry with hosts: [other.test] and ports: [{number: 80, name: http, protocol: HTTP}] labelled istio.io/use-waypoint: waypoint, or run with --outbound-traffic-policy ALLOW_ANY');
    const tls = planRoute(snap, 'other.test', 443, 'connect');
    assert.match(tls.kind === 'reject' ? tls.message : '', /ports: \[\{number: 443, name: https, protocol: TLS\}\]/);
    const mismatch = planRoute(snap, 'api.example.com', 443, 'http');
    assert.equal(mismatch.kind === 'reject' && mismatch.message, 'port 443 of api.example.com is declared HTTPS in ServiceEntry istio-egress/api, so plain HTTP cannot be sent to it. Send https:// through the proxy (CONNECT), or declare the port as HTTP with targetPort and a DestinationRule tls.mode: SIMPLE to originate TLS');
    const fwd = planRoute(snap, 'api.example.com', 80, 'http');
    assert.equal(fwd.kind === 'forward' && fwd.routeName, 'default');
  });

  test('ALLOW_ANY: an unknown host passes through; a known host on another port is still refused', () => {
    const any = compile(parseDocuments(WAYPOINT_YAML + serviceEntry('api', 'hosts: [api.example.com]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS'), 'any.yaml').resources, { outboundTrafficPolicy: 'ALLOW_ANY' }).snapshot!;
    assert.deepEqual(planRoute(any, 'other.test', 80, 'http'), { kind: 'passthrough', routeName: 'allow_any', clusterName: 'PassthroughCluster' });
    assert.equal(planRoute(any, 'api.example.com', 8080, 'http').kind, 'reject');
    assert.equal(planRoute(snap, 'other.test', 80, 'http').kind, 'reject', 'REGISTRY_ONLY (the default) refuses');
  });

  test('a host declared by a ServiceEntry bound elsewhere: not_bound_here, naming the entry and the labels to add', () => {
    const other = compile(parseDocuments(WAYPOINT_YAML
      + serviceEntry('mine', 'hosts: [mine.test]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS')
      + serviceEntry('none', 'hosts: [unbound.test]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS', 'istio.io/use-waypoint: none')
      + serviceEntry('elsewhere', 'hosts: [elsewhere.test]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS', 'istio.io/use-waypoint: other'), 'unbound.yaml').resources, {}).snapshot!;
    const p = planRoute(other, 'unbound.test', 80, 'http');
    assert.equal(p.kind, 'reject');
    assert.equal(p.kind === 'reject' && p.code, 'not_bound_here');
    assert.match(p.kind === 'reject' ? p.message : '', /^unbound\.test is declared by ServiceEntry istio-egress\/none, but it is not bound to waypoint istio-egress\/waypoint \(.+\); label it istio\.io\/use-waypoint: waypoint$/);
    const e = planRoute(other, 'elsewhere.test', 80, 'http');
    assert.equal(e.kind === 'reject' && e.code, 'not_bound_here');
    // In another namespace, the fix also names the waypoint's namespace.
    const shop = compile(parseDocuments(`${WAYPOINT_YAML}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: shop, labels: {istio.io/use-waypoint: waypoint}}
spec: {hosts: [shop.test], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
`, 'shop.yaml').resources, {}).snapshot!;
    const s = planRoute(shop, 'shop.test', 80, 'http');
    assert.match(s.kind === 'reject' ? s.message : '', /^shop\.test is declared by ServiceEntry shop\/api, .*; label it istio\.io\/use-waypoint: waypoint and istio\.io\/use-waypoint-namespace: istio-egress$/);
  });
});
