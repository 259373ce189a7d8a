// Which VirtualServices a waypoint applies (istiod VirtualServicesForGateway(<waypoint ns>, "mesh") +
// getVirtualServiceForWaypoint): `gateways`, `exportTo`, the order of the list, and match-level
// `gateways` / `sourceNamespace` (route.go sourceMatchHTTP). Over real sockets: test/e2e/vs-scope.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { meshCompileOptions, meshConfigOf } from '../../src/controlplane/mesh-config.ts';
import { serviceEntry, WAYPOINT_ALL_NAMESPACES_YAML, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { responseSet } from '../helpers/route-ops.ts';

const CLUSTER = 'inbound-vip|80|http|a.test';

/** A VirtualService for a.test whose one rule sends `x-vs: <name>` to the client. */
export function taggedVs(name: string, opts: { ns?: string; spec?: string; created?: string; match?: string } = {}): string {
  const { ns = 'istio-egress', spec = '', created = '2024-01-01T00:00:00Z', match } = opts;
  return `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}, creationTimestamp: "${created}"}
spec:
  hosts: [a.test]
${spec ? `  ${spec}\n` : ''}  http:
  - ${match ? `match: [${match}]\n    ` : ''}headers: {response: {set: {x-vs: ${name}}}}
    route: [{destination: {host: a.test}}]
`;
}

const SE = serviceEntry('a', 'hosts: [a.test]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS');
const SHOP_SE = `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a, namespace: shop, labels: {istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-egress}}
spec: {hosts: [a.test], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
`;
const ALL_NAMESPACES = `---${WAYPOINT_ALL_NAMESPACES_YAML}`;

function compiled(yaml: string, waypoint = WAYPOINT_YAML + SE): ReturnType<typeof compile> & { snapshot: Snapshot } {
  const out = compile(parseDocuments(waypoint + yaml, 'test.yaml').resources, {});
  assert.ok(out.snapshot, JSON.stringify(out.diagnostics));
  return out as ReturnType<typeof compile> & { snapshot: Snapshot };
}

/** Which VirtualService routes a.test:80 (its `x-vs` header), or undefined for the default route. */
function chosen(yaml: string, waypoint?: string): string | undefined {
  const table = compiled(yaml, waypoint).snapshot.routes.get(CLUSTER);
  return responseSet(table?.rules[0], 'x-vs');
}

function ignored(yaml: string, name: string, waypoint?: string): string[] {
  const st = compiled(yaml, waypoint).snapshot.routeStatus.virtualServices.find((v) => v.name === name);
  return st?.ignored.map((i) => i.reason) ?? [];
}

test('gateways: none and [mesh] apply; [mesh, other] applies; only other Gateways (or ns/mesh) do not', () => {
  assert.equal(chosen(taggedVs('none')), 'none');
  assert.equal(chosen(taggedVs('mesh', { spec: 'gateways: [mesh]' })), 'mesh');
  assert.equal(chosen(taggedVs('both', { spec: 'gateways: [istio-egress/egress-gw, mesh]' })), 'both');
  assert.equal(chosen(taggedVs('gw', { spec: 'gateways: [istio-egress/egress-gw]' })), undefined);
  assert.equal(chosen(taggedVs('short', { spec: 'gateways: [egress-gw]' })), undefined);
  assert.equal(chosen(taggedVs('nsmesh', { spec: 'gateways: [istio-egress/mesh]' })), undefined);
  assert.deepEqual(ignored(taggedVs('gw', { spec: 'gateways: [istio-egress/egress-gw]' }), 'gw'),
    ['bound to gateways [istio-egress/egress-gw] without mesh']);
});

test('a gateway-only VirtualService no longer shadows a later mesh one', () => {
  const yaml = taggedVs('old-gw', { spec: 'gateways: [istio-egress/egress-gw]', created: '2020-01-01T00:00:00Z' }) + taggedVs('new-mesh');
  assert.equal(chosen(yaml), 'new-mesh');
  const out = compiled(yaml);
  assert.deepEqual(out.diagnostics.filter((d) => d.level !== 'info').map((d) => d.message), []);
});

test('exportTo: ".", "*", the waypoint namespace apply; another namespace only, does not', () => {
  assert.equal(chosen(taggedVs('dot', { spec: 'exportTo: ["."]' })), 'dot');
  assert.equal(chosen(taggedVs('star', { spec: 'exportTo: ["*"]' })), 'star');
  assert.equal(chosen(taggedVs('own', { spec: 'exportTo: [istio-egress]' })), 'own');
  assert.equal(chosen(taggedVs('dot-and-shop', { spec: 'exportTo: [".", shop]' })), 'dot-and-shop');
  assert.equal(chosen(taggedVs('shop-only', { spec: 'exportTo: [shop]' })), undefined);
  assert.deepEqual(ignored(taggedVs('shop-only', { spec: 'exportTo: [shop]' }), 'shop-only'),
    ['exportTo [shop] does not make it visible in the waypoint\'s namespace (istio-egress)']);
});

test('a VirtualService in the service\'s namespace: exportTo "." hides it from the waypoint, the waypoint namespace shows it', () => {
  const wp = ALL_NAMESPACES + SHOP_SE;
  const cluster = 'inbound-vip|80|http|a.test';
  const pick = (yaml: string) => responseSet(compiled(yaml, wp).snapshot.routes.get(cluster)?.rules[0], 'x-vs');
  assert.equal(pick(taggedVs('public', { ns: 'shop' })), 'public');
  assert.equal(pick(taggedVs('private', { ns: 'shop', spec: 'exportTo: ["."]' })), undefined);
  assert.equal(pick(taggedVs('exported', { ns: 'shop', spec: 'exportTo: [".", istio-egress]' })), 'exported');
});

test('order: private to the waypoint namespace, then exported to it, then public; oldest first within each', () => {
  const wp = ALL_NAMESPACES + SHOP_SE;
  const pick = (yaml: string) => chosen(yaml, wp);
  const pub = taggedVs('public', { created: '2020-01-01T00:00:00Z' });
  const exported = taggedVs('exported', { ns: 'shop', spec: 'exportTo: [istio-egress]', created: '2021-01-01T00:00:00Z' });
  const priv = taggedVs('private', { spec: 'exportTo: ["."]', created: '2022-01-01T00:00:00Z' });
  assert.equal(pick(pub + exported + priv), 'private');
  assert.equal(pick(pub + exported), 'exported');
  assert.equal(pick(pub + taggedVs('public2', { created: '2019-01-01T00:00:00Z' })), 'public2');
  const st = compiled(pub + exported + priv, wp).snapshot.routeStatus.virtualServices;
  assert.deepEqual(st.find((v) => v.name === 'private')?.attached, [CLUSTER]);
  assert.match(st.find((v) => v.name === 'public')!.ignored[0]!.reason, /VirtualService istio-egress\/private comes first/);
});

test('match gateways: a match listing only other gateways never applies; one listing mesh does', () => {
  const rules = (m: string) => compiled(taggedVs('m', { match: m })).snapshot.routes.get(CLUSTER)?.rules.length ?? 0;
  assert.equal(rules('{uri: {prefix: /a}, gateways: [istio-egress/egress-gw]}'), 0);
  assert.equal(rules('{uri: {prefix: /a}, gateways: [istio-egress/egress-gw, mesh]}'), 1);
  assert.equal(rules('{uri: {prefix: /a}, gateways: [mesh], sourceNamespace: elsewhere}'), 1, 'with gateways, sourceNamespace is not compared');
  assert.deepEqual(ignored(taggedVs('m', { match: '{gateways: [egress-gw]}' }), 'm'),
    ['no http rule applies to port 80 at a waypoint (each match names another port, gateways without mesh, sourceLabels or another sourceNamespace); the waypoint default route is used']);
});

test('match sourceNamespace is compared with the waypoint namespace, with a warning either way', () => {
  const other = compiled(taggedVs('m', { match: '{sourceNamespace: shop}' }));
  assert.equal(other.snapshot.routes.get(CLUSTER), undefined);
  assert.match(other.diagnostics.map((d) => d.message).join('\n'), /sourceNamespace with the waypoint's own namespace \(istio-egress\), not the client's, so this match never matches/);
  const own = compiled(taggedVs('m', { match: '{sourceNamespace: istio-egress}' }));
  assert.equal(own.snapshot.routes.get(CLUSTER)?.rules.length, 1);
  assert.match(own.diagnostics.map((d) => d.message).join('\n'), /so this match applies to every client/);
});

test('equal creation times: istiod orders by name, then namespace (not namespace first)', () => {
  const wp = ALL_NAMESPACES + SHOP_SE;
  assert.equal(chosen(taggedVs('b-egress') + taggedVs('a-shop', { ns: 'shop' }), wp), 'a-shop');
  assert.equal(chosen(taggedVs('same', { ns: 'shop' }) + taggedVs('same'), wp), 'same');
  const st = compiled(taggedVs('same', { ns: 'shop' }) + taggedVs('same'), wp).snapshot.routeStatus.virtualServices;
  assert.deepEqual(st.find((v) => v.namespace === 'istio-egress')?.attached, [CLUSTER], 'same name: istio-egress sorts before shop');
});

test('meshConfig defaultVirtualServiceExportTo ["."]: a VirtualService without exportTo is private to its namespace', () => {
  const wp = ALL_NAMESPACES + SHOP_SE;
  const opts = { defaultVirtualServiceExportTo: ['.'] };
  const pick = (yaml: string) => {
    const out = compile(parseDocuments(wp + yaml, 'test.yaml').resources, opts);
    return responseSet(out.snapshot!.routes.get(CLUSTER)?.rules[0], 'x-vs');
  };
  assert.equal(pick(taggedVs('shop-default', { ns: 'shop' })), undefined);
  assert.equal(pick(taggedVs('wp-default')), 'wp-default');
  assert.equal(pick(taggedVs('shop-star', { ns: 'shop', spec: 'exportTo: ["*"]' })), 'shop-star');
  const st = compile(parseDocuments(wp + taggedVs('shop-default', { ns: 'shop' }), 'test.yaml').resources, opts).snapshot!.routeStatus.virtualServices;
  assert.deepEqual(st[0]!.ignored.map((i) => i.reason), ['meshConfig defaultVirtualServiceExportTo [.] does not make it visible in the waypoint\'s namespace (istio-egress)']);
});

test('meshConfig defaultDestinationRuleExportTo ["."]: a DestinationRule without exportTo in the service namespace does not reach the waypoint', () => {
  const wp = ALL_NAMESPACES + SHOP_SE;
  const dr = `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: lb, namespace: shop}
spec: {host: a.test, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}
`;
  const policy = (opts: object) => compile(parseDocuments(wp + dr, 'test.yaml').resources, opts).snapshot!.clusters.get(CLUSTER)?.policy;
  assert.ok(policy({}), 'default ["*"]: exported');
  assert.equal(policy({ defaultDestinationRuleExportTo: ['.'] }), undefined);
});

test('meshConfig export defaults are read from the istio ConfigMap form; a non-list is refused by name', () => {
  const m = meshConfigOf({ kind: 'ConfigMap', data: { mesh: 'defaultVirtualServiceExportTo: ["."]\ndefaultDestinationRuleExportTo: ["*"]\n' } }, 'mesh.yaml');
  const o = meshCompileOptions(m);
  assert.deepEqual([o.defaultVirtualServiceExportTo, o.defaultDestinationRuleExportTo], [['.'], ['*']]);
  assert.throws(() => meshConfigOf({ defaultVirtualServiceExportTo: '.' }, 'mesh.yaml'), /mesh.yaml: defaultVirtualServiceExportTo must be a list of strings such as \["\*"\] or \["."\], got "."/);
});
