// How a waypoint matches VirtualService hosts with its services, as istiod does: initVirtualServices
// resolves short names first (model.ResolveShortnameToFQDN: "reviews" in namespace shop is
// reviews.shop.svc.cluster.local; `*`, IPs and dotted names stay), in `hosts` and in every route,
// mirror, tls and tcp destination; getVirtualServiceForWaypoint then compares with
// host.Name(vsHost).Matches(svc.Hostname), which is symmetric in its wildcards (a ServiceEntry
// `*.example.com` is routed by a VirtualService for api.example.com). Rows of
// pkg/config/host/name_test.go TestNameMatches are ported as they are.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile, CompileMemo } from '../../src/compile/compile.ts';
import { canonical } from '../helpers/canonical.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { planRoute } from '../../src/dataplane/plan.ts';
import { hostsMatch, resolveShortname } from '../../src/compile/vs-scope.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { responseSet } from '../helpers/route-ops.ts';

test('host.Name.Matches rows (name_test.go)', () => {
  const rows: [string, string, boolean][] = [
    ['', '', true], ['foo.com', 'foo.com', true], ['foo.com', 'bar.com', false], ['*.com', 'foo.com', true],
    ['foo.com', '*.com', true], ['*.foo.com', 'foo.com', false], ['*', 'foo.com', true], ['*', '*.com', true],
    ['*.com', '*', true], ['*.com', '*.com', true], ['*.foo.com', '*.com', true], ['*.com', '*.foo.com', true],
    ['*.foo.com', '*.bar.com', false], ['foo.com', '*.bar.com', false], ['*.foo.com', 'bar.foo.com', true],
  ];
  for (const [a, b, want] of rows) assert.equal(hostsMatch(a, b), want, `${a} ~ ${b}`);
});

test('ResolveShortnameToFQDN rows: short names gain <namespace>.svc.cluster.local; *, IPs and dotted names stay', () => {
  assert.equal(resolveShortname('reviews', 'shop'), 'reviews.shop.svc.cluster.local');
  assert.equal(resolveShortname('reviews.shop', 'default'), 'reviews.shop');
  assert.equal(resolveShortname('*', 'shop'), '*');
  assert.equal(resolveShortname('*.example.com', 'shop'), '*.example.com');
  assert.equal(resolveShortname('10.0.0.1', 'shop'), '10.0.0.1');
  assert.equal(resolveShortname('2001:db8::1', 'shop'), '2001:db8::1');
});

const HTTP = 'ports: [{number: 80, name: http, protocol: HTTP}]';
const entries = serviceEntry('wild', `hosts: ["*.example.com"]\n${HTTP}\nresolution: DYNAMIC_DNS`)
  + serviceEntry('reviews', `hosts: [reviews.istio-egress.svc.cluster.local]\n${HTTP}\nresolution: DNS\nendpoints: [{address: 127.0.0.1}]`)
  + serviceEntry('short', `hosts: [api]\n${HTTP}\nresolution: DNS\nendpoints: [{address: 127.0.0.1}]`)
  + serviceEntry('b', `hosts: [b.istio-egress.svc.cluster.local]\nports: [{number: 8080, name: http, protocol: HTTP}]\nresolution: DNS\nendpoints: [{address: 127.0.0.1}]`)
  + serviceEntry('t', `hosts: ["*.tcp.example.com"]\nports: [{number: 9000, name: tcp, protocol: TCP}]\nresolution: DYNAMIC_DNS`)
  + serviceEntry('tb', `hosts: [tb.istio-egress.svc.cluster.local]\nports: [{number: 9100, name: tcp, protocol: TCP}]\nresolution: DNS\nendpoints: [{address: 127.0.0.1}]`);

const vs = (name: string, hosts: string, body: string, ns = 'istio-egress') => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: ${hosts}
${body}`;
const tagged = (name: string, hosts: string, ns?: string) => vs(name, hosts, `  http:\n  - headers: {response: {set: {x-vs: ${name}}}}\n    route: [{destination: {host: b}}]\n`, ns);

function snap(yaml: string): Snapshot {
  const out = compile(parseDocuments(WAYPOINT_YAML + entries + yaml, 'test.yaml').resources, {});
  assert.ok(out.snapshot, JSON.stringify(out.diagnostics));
  return out.snapshot;
}
const tag = (s: Snapshot, cluster: string) => responseSet(s.routes.get(cluster)?.rules[0], 'x-vs');

test('a VirtualService for one name under a wildcard ServiceEntry routes that ServiceEntry (Matches is symmetric)', () => {
  assert.equal(tag(snap(tagged('api', '[api.example.com]')), 'inbound-vip|80|http|*.example.com'), 'api');
  assert.equal(tag(snap(tagged('deeper', '["*.a.example.com"]')), 'inbound-vip|80|http|*.example.com'), 'deeper');
  assert.equal(tag(snap(tagged('wider', '["*.com"]')), 'inbound-vip|80|http|*.example.com'), 'wider');
  assert.equal(tag(snap(tagged('other', '[api.example.org]')), 'inbound-vip|80|http|*.example.com'), undefined);
});

test('a short VirtualService host is <name>.<its namespace>.svc.cluster.local', () => {
  assert.equal(tag(snap(tagged('short', '[reviews]')), 'inbound-vip|80|http|reviews.istio-egress.svc.cluster.local'), 'short');
  assert.equal(tag(snap(tagged('short', '[api]')), 'inbound-vip|80|http|api'), undefined, 'api is api.istio-egress.svc.cluster.local, not the ServiceEntry host api');
});

test('a short destination host is resolved in the VirtualService namespace (http route, mirror, tcp)', () => {
  const first = (s: Snapshot, cluster: string) => {
    const a = s.routes.get(cluster)?.rules[0]?.action;
    return a?.kind === 'forward' ? a.clusters[0]?.cluster : a?.kind;
  };
  assert.equal(first(snap(tagged('to-b', '[reviews]')), 'inbound-vip|80|http|reviews.istio-egress.svc.cluster.local'), 'inbound-vip|8080|http|b.istio-egress.svc.cluster.local');
  const mirrored = snap(vs('m', '[reviews]', '  http:\n  - route: [{destination: {host: reviews}}]\n    mirror: {host: b}\n'));
  const mirror = mirrored.routes.get('inbound-vip|80|http|reviews.istio-egress.svc.cluster.local')?.rules[0]?.mirrors[0];
  assert.equal(mirror?.cluster, 'inbound-vip|8080|http|b.istio-egress.svc.cluster.local', 'and without a port, the mirror takes the only port of its service (getWaypointDestinationCluster)');
  const tcp = snap(vs('t', '[api.tcp.example.com]', '  tcp: [{route: [{destination: {host: tb}}]}]\n'));
  assert.equal(tcp.tcpRoutes.get('inbound-vip|9000|tcp|*.tcp.example.com')?.clusters[0]?.cluster, 'inbound-vip|9100|tcp|tb.istio-egress.svc.cluster.local');
  const p = planRoute(tcp, 'x.tcp.example.com', 9000, 'connect', () => 0);
  assert.equal(p.kind === 'forward' && p.cluster.name, 'inbound-vip|9100|tcp|tb.istio-egress.svc.cluster.local');
});

test('incremental compile: a changed VirtualService for a name under a wildcard ServiceEntry rebuilds that ServiceEntry\'s table', () => {
  const version = (v: string) => vs('api', '[api.example.com]', `  http:\n  - headers: {response: {set: {x-vs: ${v}}}}\n    route: [{destination: {host: b}}]\n`);
  // The unchanged resources are the same objects in both compiles, as a watch keeps them.
  const kept = parseDocuments(WAYPOINT_YAML + entries, 'test.yaml').resources;
  const memo = new CompileMemo();
  compile([...kept, ...parseDocuments(version('v1'), 'v1.yaml').resources], {}, memo);
  const changed = [...kept, ...parseDocuments(version('v2'), 'v2.yaml').resources];
  const patched = compile(changed, {}, memo);
  assert.ok(memo.counts.routesPatched > 0, 'the routes delta path ran');
  assert.equal(tag(patched.snapshot!, 'inbound-vip|80|http|*.example.com'), 'v2');
  assert.equal(canonical(patched.snapshot), canonical(compile(changed, {}).snapshot));
});

test('an http match with port 0 is a match without port (translateWaypointRoute: match.Port != 0)', () => {
  const s = snap(vs('p0', '[reviews]', '  http:\n  - match: [{port: 0, uri: {prefix: /x}}]\n    route: [{destination: {host: b}}]\n'));
  assert.equal(s.routes.get('inbound-vip|80|http|reviews.istio-egress.svc.cluster.local')?.rules.length, 1);
});

test('the only destination of an http rule takes every request even with weight 0 (waypointRouteDestination)', () => {
  const s = snap(vs('w0', '[reviews]', '  http:\n  - route: [{destination: {host: b}, weight: 0}]\n'));
  const a = s.routes.get('inbound-vip|80|http|reviews.istio-egress.svc.cluster.local')?.rules[0]?.action;
  assert.deepEqual(a?.kind === 'forward' && a.clusters.map((c) => c.cluster), ['inbound-vip|8080|http|b.istio-egress.svc.cluster.local']);
});
