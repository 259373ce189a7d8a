// VirtualService tls/tcp rules on the waypoint's TCP chains (listener_waypoint.go
// buildWaypointNetworkFilters / getWaypointTCPRoutes): which rule applies, which match fields count,
// the cluster names, weights, and the status /config_dump shows. Over real sockets:
// test/e2e/vs-tcp-routes.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { planRoute } from '../../src/dataplane/plan.ts';
import { snapshotToJson } from '../../src/model/snapshot-json.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';

const A = 'inbound-vip|9000|tcp|a.test';
const entries = serviceEntry('a', 'hosts: [a.test]\nports: [{number: 9000, name: tcp, protocol: TCP}, {number: 443, name: tls, protocol: TLS}, {number: 80, name: http, protocol: HTTP}]\nresolution: DNS')
  + serviceEntry('b', 'hosts: [b.test]\nports: [{number: 9000, name: tcp, protocol: TCP}]\nresolution: DNS')
  + serviceEntry('c', 'hosts: [c.test]\nports: [{number: 9000, name: tcp, protocol: TCP}, {number: 9001, name: tcp2, protocol: TCP}]\nresolution: DNS');

const vs = (name: string, body: string, opts: { created?: string; ns?: string } = {}) => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${opts.ns ?? 'istio-egress'}, creationTimestamp: "${opts.created ?? '2024-01-01T00:00:00Z'}"}
spec:
  hosts: [a.test, "*.a.test"]
${body}`;

function snap(yaml: string): Snapshot {
  const out = compile(parseDocuments(WAYPOINT_YAML + entries + yaml, 'test.yaml').resources, {});
  assert.ok(out.snapshot, JSON.stringify(out.diagnostics));
  return out.snapshot;
}

const routed = (s: Snapshot, port = 9000) => {
  const p = planRoute(s, 'a.test', port, 'connect', () => 0);
  return p.kind === 'forward' ? p.cluster.name : p.kind;
};

test('a tcp rule without match sends the TCP chain to its destination; HTTP ports and plain HTTP are untouched', () => {
  const s = snap(vs('to-b', '  tcp: [{route: [{destination: {host: b.test}}]}]\n'));
  assert.equal(routed(s), 'inbound-vip|9000|tcp|b.test');
  assert.equal(routed(s, 443), 'inbound-vip|9000|tcp|b.test', 'b.test has one port: a destination without a port takes it');
  const http = planRoute(s, 'a.test', 80, 'connect');
  assert.equal(http.kind === 'forward' && http.cluster.name, 'inbound-vip|80|http|a.test');
  assert.deepEqual(s.routeStatus.virtualServices[0]!.tcp!.map((t) => t.cluster).sort(), ['inbound-vip|443|tcp|a.test', A]);
});

test('the destination port defaults to the listener port when the destination service has several', () => {
  const s = snap(vs('to-c', '  tcp: [{route: [{destination: {host: c.test}}]}]\n'));
  assert.equal(routed(s), 'inbound-vip|9000|tcp|c.test');
  assert.equal(snap(vs('to-c', '  tcp: [{route: [{destination: {host: c.test, port: {number: 9001}}}]}]\n')).tcpRoutes.get(A)!.clusters[0]!.cluster, 'inbound-vip|9001|tcp|c.test');
});

test('tls sniHosts must be exactly the service host: the client SNI is not read', () => {
  const one = snap(vs('sni', '  tls: [{match: [{sniHosts: [a.test]}], route: [{destination: {host: b.test}}]}]\n'));
  assert.equal(routed(one, 443), 'inbound-vip|9000|tcp|b.test');
  const two = snap(vs('sni', '  tls: [{match: [{sniHosts: [a.test, x.a.test]}], route: [{destination: {host: b.test}}]}]\n'));
  assert.equal(routed(two, 443), 'inbound-vip|443|tcp|a.test');
  const other = snap(vs('sni', '  tls: [{match: [{sniHosts: [x.a.test]}], route: [{destination: {host: b.test}}]}]\n'));
  assert.equal(routed(other, 443), 'inbound-vip|443|tcp|a.test');
  assert.match(other.routeStatus.virtualServices[0]!.ignored.find((i) => i.cluster === 'inbound-vip|443|tcp|a.test')!.reason, /sniHosts must be exactly \[a\.test\]/);
});

test('tls rules of every VirtualService come before tcp rules; within a kind the first VirtualService wins', () => {
  const s = snap(vs('old-tcp', '  tcp: [{route: [{destination: {host: c.test}}]}]\n', { created: '2020-01-01T00:00:00Z' })
    + vs('new-tls', '  tls: [{match: [{sniHosts: [a.test], port: 443}], route: [{destination: {host: b.test}}]}]\n'));
  assert.equal(routed(s, 443), 'inbound-vip|9000|tcp|b.test');
  assert.equal(routed(s), 'inbound-vip|9000|tcp|c.test', 'the tls match names port 443: port 9000 takes the tcp rule');
  const json = snapshotToJson(s) as { tcpRoutes: Record<string, { source: string; rule: string }> };
  assert.deepEqual(json.tcpRoutes['inbound-vip|443|tcp|a.test'], { source: 'VirtualService istio-egress/new-tls', rule: 'tls[0]', clusters: [{ cluster: 'inbound-vip|9000|tcp|b.test', host: 'b.test', port: 9000, weight: 1 }] });
});

test('match fields at the waypoint: port and gateways count; sourceLabels and sourceNamespace never match; destinationSubnets is not read', () => {
  const rule = (m: string) => snap(vs('m', `  tcp: [{match: [${m}], route: [{destination: {host: b.test}}]}]\n`));
  assert.equal(routed(rule('{port: 9000}')), 'inbound-vip|9000|tcp|b.test');
  assert.equal(routed(rule('{port: 9001}')), A);
  assert.equal(routed(rule('{gateways: [mesh]}')), 'inbound-vip|9000|tcp|b.test');
  assert.equal(routed(rule('{gateways: [istio-egress/gw]}')), A);
  assert.equal(routed(rule('{sourceLabels: {app: x}}')), A);
  assert.equal(routed(rule('{sourceNamespace: istio-egress}')), A);
  assert.equal(routed(rule('{destinationSubnets: [10.0.0.0/8]}')), 'inbound-vip|9000|tcp|b.test');
});

test('several destinations: weighted clusters over those with a weight; an unknown destination is NC', () => {
  const s = snap(vs('w', '  tcp: [{route: [{destination: {host: b.test}, weight: 25}, {destination: {host: c.test}, weight: 75}, {destination: {host: a.test}}]}]\n'));
  assert.deepEqual(s.tcpRoutes.get(A)!.clusters.map((c) => [c.cluster, c.upTo]), [['inbound-vip|9000|tcp|b.test', 25], ['inbound-vip|9000|tcp|c.test', 100]]);
  assert.equal(planRoute(s, 'a.test', 9000, 'connect', () => 0.2).kind === 'forward' && (planRoute(s, 'a.test', 9000, 'connect', () => 0.2) as { cluster: { name: string } }).cluster.name, 'inbound-vip|9000|tcp|b.test');
  assert.equal((planRoute(s, 'a.test', 9000, 'connect', () => 0.3) as { cluster: { name: string } }).cluster.name, 'inbound-vip|9000|tcp|c.test');
  const nc = planRoute(snap(vs('nc', '  tcp: [{route: [{destination: {host: nowhere.test}}]}]\n')), 'a.test', 9000, 'connect');
  assert.equal(nc.kind === 'reject' && nc.code, 'no_cluster');
});

test('a VirtualService outside the service and waypoint namespaces, or bound to another gateway, is not read', () => {
  assert.equal(routed(snap(vs('elsewhere', '  tcp: [{route: [{destination: {host: b.test}}]}]\n', { ns: 'shop' }))), A);
  assert.equal(routed(snap(vs('gw', '  gateways: [istio-egress/gw]\n  tcp: [{route: [{destination: {host: b.test}}]}]\n'))), A);
});

test('a destination subset names the subset cluster, whose DestinationRule policy the tunnel then uses', () => {
  const dr = `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: b, namespace: istio-egress}
spec:
  host: b.test
  subsets: [{name: v1, labels: {v: "1"}, trafficPolicy: {connectionPool: {tcp: {maxConnections: 7}}}}]
`;
  const s = snap(dr + vs('sub', '  tcp: [{route: [{destination: {host: b.test, subset: v1}}]}]\n'));
  const p = planRoute(s, 'a.test', 9000, 'connect');
  assert.equal(p.kind === 'forward' && p.cluster.name, 'inbound-vip|9000|tcp/v1|b.test');
  assert.equal(p.kind === 'forward' && p.cluster.policy?.connectionPool?.maxConnections, 7);
  const missing = planRoute(snap(dr + vs('sub', '  tcp: [{route: [{destination: {host: b.test, subset: v2}}]}]\n')), 'a.test', 9000, 'connect');
  assert.equal(missing.kind === 'reject' && missing.code, 'no_cluster');
});

const drFor = (host: string, spec: string) => `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr-${host.replace(/\./g, '-')}, namespace: istio-egress}
spec:
  host: ${host}
${spec}`;
const tcpProxyOf = (s: Snapshot, host = 'a.test', port = 9000) => {
  const p = planRoute(s, host, port, 'connect', () => 0);
  return p.kind === 'forward' ? p.tcpProxy : p.kind;
};

test('tcp_proxy idle/max duration: the top-level trafficPolicy of the chain host only (not portLevelSettings, not subsets)', () => {
  const s = snap(drFor('a.test', `  trafficPolicy:
    connectionPool: {tcp: {idleTimeout: 5s, maxConnectionDuration: 1m}}
    portLevelSettings: [{port: {number: 9000}, connectionPool: {tcp: {idleTimeout: 7s, connectTimeout: 2s}}}]
  subsets: [{name: s1, trafficPolicy: {connectionPool: {tcp: {idleTimeout: 9s}}}}]
`));
  assert.deepEqual(tcpProxyOf(s), { idleTimeoutMs: 5000, maxConnectionDurationMs: 60_000 });
  // The cluster itself does take the port-level connectionPool (connectTimeout).
  assert.equal(s.clusters.get(A)!.policy!.connectionPool!.connectTimeoutMs, 2000);
  assert.equal(tcpProxyOf(s, 'a.test', 80), undefined, 'an HTTP chain has no tcp_proxy');
  const off = snap(drFor('a.test', '  trafficPolicy: {connectionPool: {tcp: {idleTimeout: 0s}}}\n'));
  assert.deepEqual(tcpProxyOf(off), { idleTimeoutMs: 0 }, 'an explicit 0s turns the idle timeout off');
  assert.equal(tcpProxyOf(snap('')), undefined, 'no DestinationRule: the flags apply');
});

test('a routed TCP chain takes tcp_proxy settings from the DestinationRule of its first destination host', () => {
  const route = vs('to-b', '  tcp: [{route: [{destination: {host: b.test}, weight: 0}, {destination: {host: a.test, port: {number: 9000}}, weight: 100}]}]\n');
  const s = snap(route + drFor('b.test', '  trafficPolicy: {connectionPool: {tcp: {idleTimeout: 3s}}}\n') + drFor('a.test', '  trafficPolicy: {connectionPool: {tcp: {idleTimeout: 4s}}}\n'));
  assert.equal(routed(s), A);
  assert.deepEqual(tcpProxyOf(s), { idleTimeoutMs: 3000 });
});
