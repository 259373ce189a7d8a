// Route status in the snapshot: HTTPRoute conditions per parentRef as istiod writes them
// (Accepted, ResolvedRefs, ResolvedWaypoints), and where each VirtualService applies.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import type { HttpRouteStatus } from '../../src/model/route.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';

const hr = (name: string, spec: string, ns = 'istio-egress') => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec.trim().split('\n').map((l) => `  ${l}`).join('\n')}
`;

const SES = serviceEntry('a', 'hosts: [a.test]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS')
  + serviceEntry('nolabel', 'hosts: [n.test]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS', 'app: x')
  + `---
apiVersion: v1
kind: Namespace
metadata: {name: istio-egress}
`;

function statusOf(yaml: string): Map<string, HttpRouteStatus> {
  const out = compile(parseDocuments(WAYPOINT_YAML + SES + yaml, 'test.yaml').resources, {});
  assert.ok(out.snapshot, JSON.stringify(out.diagnostics));
  return new Map(out.snapshot.routeStatus.httpRoutes.map((r) => [r.name, r]));
}

const brief = (r: HttpRouteStatus | undefined): Record<string, unknown>[] | undefined => r?.parents.map((p) => ({
  parent: `${p.parentRef.kind}/${p.parentRef.namespace}/${p.parentRef.name}`,
  ...Object.fromEntries(p.conditions.map((c) => [c.type, `${c.status} ${c.reason}: ${c.message}`])),
  attached: p.attachedClusters,
}));

test('an HTTPRoute on a bound ServiceEntry is Accepted with references resolved', () => {
  const s = statusOf(hr('ok', 'parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: a}]\nrules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: a.test, port: 80}]}]'));
  assert.deepEqual(brief(s.get('ok')), [{
    parent: 'ServiceEntry/istio-egress/a',
    Accepted: 'True Accepted: Route was valid',
    ResolvedRefs: 'True ResolvedRefs: All references resolved',
    ResolvedWaypoints: 'True ResolvedWaypoints: All waypoints resolved',
    attached: ['inbound-vip|80|http|a.test'],
  }]);
});

test('parent not found, parent without istio.io/use-waypoint, and backends istiod cannot resolve', () => {
  const s = statusOf(hr('bad', `
parentRefs:
- {group: networking.istio.io, kind: ServiceEntry, name: missing}
- {group: networking.istio.io, kind: ServiceEntry, name: nolabel}
rules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: nowhere.test, port: 80}]}]`)
    + hr('kind', 'parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: a}]\nrules: [{backendRefs: [{group: example.com, kind: Bucket, name: b}]}]')
    + hr('filter', 'parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: a}]\nrules: [{filters: [{type: ExtensionRef, extensionRef: {group: x, kind: y, name: z}}], backendRefs: [{group: networking.istio.io, kind: Hostname, name: a.test, port: 80}]}]'));
  assert.deepEqual(brief(s.get('bad')), [{
    parent: 'ServiceEntry/istio-egress/missing',
    Accepted: 'False NoMatchingParent: parent service entry: "missing" not found',
    ResolvedRefs: 'False BackendNotFound: backend(nowhere.test) not found',
    ResolvedWaypoints: 'True ResolvedWaypoints: parent not found',
    attached: [],
  }, {
    parent: 'ServiceEntry/istio-egress/nolabel',
    Accepted: 'True Accepted: Route was valid',
    ResolvedRefs: 'False BackendNotFound: backend(nowhere.test) not found',
    ResolvedWaypoints: 'True ResolvedWaypoints: istio.io/use-waypoint label missing from parent and parent namespace; in ambient mode, route will not be respected',
    attached: [],
  }]);
  assert.equal(brief(s.get('kind'))![0]!.ResolvedRefs, 'False InvalidKind: referencing unsupported backendRef: group "example.com" kind "Bucket"');
  assert.equal(brief(s.get('filter'))![0]!.ResolvedRefs, 'False InvalidFilter: unsupported filter type "ExtensionRef"');
});

test('Gateway parents: the waypoint (Same namespace only by default), a missing section, a missing gateway', () => {
  const gw = (more: string) => `parentRefs: [{name: waypoint, namespace: istio-egress${more}}]\nrules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: a.test, port: 80}]}]`;
  const s = statusOf(hr('same', gw('')) + hr('other-ns', gw(''), 'apps') + hr('section', gw(', sectionName: nope'))
    + hr('gone', 'parentRefs: [{name: ghost}]\nrules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: a.test, port: 80}]}]'));
  assert.equal(brief(s.get('same'))![0]!.Accepted, 'True Accepted: Route was valid');
  assert.deepEqual(brief(s.get('same'))![0]!.attached, ['inbound-vip|80|http|a.test'], 'n.test is not bound to the waypoint, so not served here');
  assert.equal(brief(s.get('other-ns'))![0]!.Accepted, 'False NotAllowedByListeners: hostnames matched parent hostname "*", but namespace "apps" is not allowed by the parent');
  assert.deepEqual(brief(s.get('other-ns'))![0]!.attached, []);
  assert.equal(brief(s.get('section'))![0]!.Accepted, 'False NoMatchingParent: sectionName "nope" not found');
  assert.equal(brief(s.get('gone'))![0]!.Accepted, 'False NoMatchingParent: parent gateway "istio-egress/ghost" not found');
});

test('VirtualService attachment: which clusters it routes, and why it is ignored elsewhere', () => {
  const vs = (name: string, ns: string, ts: string) => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}, creationTimestamp: "${ts}"}
spec:
  hosts: [a.test]
  http: [{route: [{destination: {host: a.test}}]}]
`;
  const out = compile(parseDocuments(WAYPOINT_YAML + SES + vs('first', 'istio-egress', '2024-01-01T00:00:00Z') + vs('second', 'istio-egress', '2024-01-02T00:00:00Z') + vs('far', 'apps', '2024-01-01T00:00:00Z'), 't.yaml').resources, {});
  const byName = new Map(out.snapshot!.routeStatus.virtualServices.map((v) => [v.name, v]));
  assert.deepEqual(byName.get('first')?.attached, ['inbound-vip|80|http|a.test']);
  assert.match(byName.get('second')!.ignored[0]!.reason, /istio-egress\/first comes first/);
  assert.match(byName.get('far')!.ignored[0]!.reason, /only reads VirtualServices in the service's namespace/);
});

test('ReferenceGrant: a Gateway-parented route reaches another namespace only through a grant naming its namespace, kind and backend', () => {
  const grant = (name: string, from: string, to: string) => `---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: ${name}, namespace: team-b}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ${from}}]
  to: [${to}]
`;
  const other = `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: b, namespace: team-b}
spec: {hosts: [b.test], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
`;
  const route = (name: string) => hr(name, `parentRefs: [{name: waypoint}]\nrules: [{backendRefs: [{group: networking.istio.io, kind: ServiceEntry, name: b, namespace: team-b, port: 80}]}]`);
  const refs = (yaml: string) => {
    const st = statusOf(other + yaml + route('r'));
    return st.get('r')!.parents[0]!.conditions.find((c) => c.type === 'ResolvedRefs')!;
  };
  assert.equal(refs('').reason, 'RefNotPermitted');
  assert.equal(refs('').message, 'backendRef b/team-b not accessible to a HTTPRoute in namespace "istio-egress" (missing a ReferenceGrant?)');
  assert.equal(refs(grant('all', 'istio-egress', '{group: networking.istio.io, kind: ServiceEntry}')).status, 'True');
  assert.equal(refs(grant('named', 'istio-egress', '{group: networking.istio.io, kind: ServiceEntry, name: b}')).status, 'True');
  assert.equal(refs(grant('other-name', 'istio-egress', '{group: networking.istio.io, kind: ServiceEntry, name: c}')).reason, 'RefNotPermitted');
  assert.equal(refs(grant('other-ns', 'shop', '{group: networking.istio.io, kind: ServiceEntry}')).reason, 'RefNotPermitted');
  assert.equal(refs(grant('other-kind', 'istio-egress', '{group: "", kind: Service}')).reason, 'RefNotPermitted');
});

/** A waypoint taking routes from every namespace, and ServiceEntry team-a/p bound to it. */
const TEAM_A_SERVICE = WAYPOINT_YAML.replace('protocol: HBONE}', 'protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}')
    + `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: p, namespace: team-a, labels: {istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-egress}}
spec: {hosts: [p.test], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
`;

test('a consumer route (another namespace than the ServiceEntry and the waypoint) is Accepted but not attached here, with a warning', () => {
  const yaml = TEAM_A_SERVICE
    + hr('consumer', 'parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: p, namespace: team-a}]\nrules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: p.test, port: 80}]}]', 'team-c')
    + hr('producer', 'parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: p}]\nrules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: p.test, port: 80}]}]', 'team-a');
  const out = compile(parseDocuments(yaml, 'test.yaml').resources, {});
  assert.ok(out.snapshot, JSON.stringify(out.diagnostics));
  const st = new Map(out.snapshot.routeStatus.httpRoutes.map((r) => [r.name, r]));
  assert.equal(st.get('consumer')!.parents[0]!.conditions[0]!.status, 'True');
  assert.deepEqual(st.get('consumer')!.parents[0]!.attachedClusters, []);
  assert.deepEqual(st.get('producer')!.parents[0]!.attachedClusters, ['inbound-vip|80|http|p.test']);
  const warn = out.diagnostics.filter((d) => d.resource?.name === 'consumer');
  assert.equal(warn.length, 1);
  assert.match(warn[0]!.message, /consumer route.*only routes in the service's namespace \(team-a\) or its own \(istio-egress\)/);
  assert.equal(warn[0]!.path, 'spec.parentRefs[0]');
});

test('a Hostname backendRef without a port: ResolvedRefs InvalidDestination (istiod drops the route), its rule answers 500, a portless mirror is dropped', () => {
  const yaml = WAYPOINT_YAML + SES + hr('noport', `
parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: a}]
rules:
- matches: [{path: {type: PathPrefix, value: /x}}]
  backendRefs: [{group: networking.istio.io, kind: Hostname, name: a.test}]
- filters: [{type: RequestMirror, requestMirror: {backendRef: {group: networking.istio.io, kind: Hostname, name: a.test}}}]
  backendRefs: [{group: networking.istio.io, kind: Hostname, name: a.test, port: 80}]`);
  const out = compile(parseDocuments(yaml, 'test.yaml').resources, {});
  assert.ok(out.snapshot, JSON.stringify(out.diagnostics));
  const st = out.snapshot.routeStatus.httpRoutes.find((r) => r.name === 'noport')!;
  assert.deepEqual(brief(st)![0]!.ResolvedRefs, 'False InvalidDestination: port is required in backendRef');
  const rules = out.snapshot.routes.get('inbound-vip|80|http|a.test')!.rules;
  assert.deepEqual(rules[0]!.action, { kind: 'direct', status: 500, body: '' });
  assert.equal(rules[1]!.mirrors[0]!.cluster, undefined);
  assert.deepEqual(out.diagnostics.filter((d) => d.resource?.name === 'noport').map((d) => d.path), ['spec.rules[0].backendRefs[0]', 'spec.rules[1].filters[0].requestMirror.backendRef']);
});

test('routes for one ServiceEntry from its namespace and the waypoint\'s: the waypoint\'s namespace applies even when its route is newer (one VirtualService per namespace; Gateway API routes of the waypoint\'s namespace come first in its SidecarScope)', () => {
  const yaml = TEAM_A_SERVICE
    + hr('in-egress', 'parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: p, namespace: team-a}]\nrules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: p.test, port: 80}]}]')
    + hr('in-team', 'parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: p}]\nrules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: p.test, port: 80}]}]', 'team-a')
    + hr('in-team-too', 'parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: p}]\nrules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: p.test, port: 80}]}]', 'team-a');
  const withAge = yaml.replace('name: in-team, namespace: team-a}', 'name: in-team, namespace: team-a, creationTimestamp: "2026-01-01T00:00:00Z"}')
    .replace('name: in-team-too, namespace: team-a}', 'name: in-team-too, namespace: team-a, creationTimestamp: "2026-03-01T00:00:00Z"}')
    .replace('name: in-egress, namespace: istio-egress}', 'name: in-egress, namespace: istio-egress, creationTimestamp: "2026-02-01T00:00:00Z"}');
  const out = compile(parseDocuments(withAge, 'test.yaml').resources, {});
  assert.ok(out.snapshot, JSON.stringify(out.diagnostics));
  const attached = (n: string) => out.snapshot!.routeStatus.httpRoutes.find((r) => r.name === n)!.parents[0]!.attachedClusters;
  assert.deepEqual(attached('in-egress'), ['inbound-vip|80|http|p.test']);
  assert.deepEqual(attached('in-team'), []);
  assert.deepEqual(attached('in-team-too'), []);
  assert.equal(out.snapshot.routes.get('inbound-vip|80|http|p.test')!.source, 'HTTPRoute istio-egress/in-egress');
  for (const name of ['in-team', 'in-team-too']) {
    const warn = out.diagnostics.filter((d) => d.resource?.name === name);
    assert.equal(warn.length, 1, name);
    assert.match(warn[0]!.message, /HTTPRoute istio-egress\/in-egress routes it from namespace istio-egress/);
  }
});
