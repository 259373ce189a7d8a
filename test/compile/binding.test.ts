// Istio's waypoint resolution (reference §1.2) as a table: label combinations on the
// ServiceEntry, its namespace and the waypoints, and the WaypointBound result each gives.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import type { BindingReason } from '../../src/model/snapshot.ts';

const gw = (ns: string, name: string, opts: { labels?: string; allowed?: string; addresses?: boolean } = {}) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${ns}, labels: {${opts.labels ?? ''}}}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15008
    protocol: HBONE
${opts.allowed ? `    allowedRoutes: {namespaces: ${opts.allowed}}\n` : ''}${opts.addresses ? 'status: {addresses: [{type: IPAddress, value: 10.0.0.9}]}\n' : ''}`;

const ns = (name: string, labels: string) => `---
apiVersion: v1
kind: Namespace
metadata: {name: ${name}, labels: {${labels}}}
`;

const se = (namespace: string, labels: string) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc, namespace: ${namespace}, labels: {${labels}}}
spec:
  hosts: [svc.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`;

interface Row {
  name: string;
  yaml: string;
  waypoint?: string;
  bound: boolean;
  reason: BindingReason;
  servedHere: boolean;
  message?: RegExp;
}

const SELF = gw('istio-egress', 'waypoint');
const rows: Row[] = [
  { name: 'SE label names the waypoint in its namespace', yaml: SELF + se('istio-egress', 'istio.io/use-waypoint: waypoint'), bound: true, reason: 'WaypointAccepted', servedHere: true, message: /Successfully attached to waypoint istio-egress\/waypoint/ },
  { name: 'namespace label is inherited', yaml: SELF + ns('istio-egress', 'istio.io/use-waypoint: waypoint') + se('istio-egress', ''), bound: true, reason: 'WaypointAccepted', servedHere: true },
  { name: 'no label anywhere', yaml: SELF + se('istio-egress', ''), bound: false, reason: 'NoWaypoint', servedHere: false },
  { name: '"none" on the SE beats the namespace label', yaml: SELF + ns('istio-egress', 'istio.io/use-waypoint: waypoint') + se('istio-egress', 'istio.io/use-waypoint: none'), bound: false, reason: 'OptedOut', servedHere: false },
  { name: '"none" on the namespace', yaml: SELF + ns('istio-egress', 'istio.io/use-waypoint: none') + se('istio-egress', ''), bound: false, reason: 'OptedOut', servedHere: false },
  { name: 'SE label beats namespace label (other waypoint, ready)', yaml: SELF + gw('istio-egress', 'other', { addresses: true }) + ns('istio-egress', 'istio.io/use-waypoint: waypoint') + se('istio-egress', 'istio.io/use-waypoint: other'), waypoint: 'istio-egress/waypoint', bound: true, reason: 'WaypointAccepted', servedHere: false },
  { name: 'unusable SE waypoint does not fall back to the namespace one', yaml: SELF + ns('istio-egress', 'istio.io/use-waypoint: waypoint') + se('istio-egress', 'istio.io/use-waypoint: missing'), bound: false, reason: 'WaypointIsNotReady', servedHere: false, message: /missing does not exist/ },
  { name: 'another waypoint without status.addresses is not ready', yaml: SELF + gw('istio-egress', 'other') + se('istio-egress', 'istio.io/use-waypoint: other'), waypoint: 'istio-egress/waypoint', bound: false, reason: 'WaypointIsNotReady', servedHere: false, message: /no status\.addresses/ },
  { name: 'cross-namespace with default allowedRoutes (Same) is denied', yaml: SELF + se('app', 'istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-egress'), bound: false, reason: 'AttachmentDenied', servedHere: false },
  { name: 'cross-namespace with from: All', yaml: gw('istio-egress', 'waypoint', { allowed: '{from: All}' }) + se('app', 'istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-egress'), bound: true, reason: 'WaypointAccepted', servedHere: true },
  { name: 'cross-namespace with a matching Selector', yaml: gw('istio-egress', 'waypoint', { allowed: '{from: Selector, selector: {matchLabels: {egress: allowed}}}' }) + ns('app', 'egress: allowed') + se('app', 'istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-egress'), bound: true, reason: 'WaypointAccepted', servedHere: true },
  { name: 'cross-namespace with a non-matching Selector', yaml: gw('istio-egress', 'waypoint', { allowed: '{from: Selector, selector: {matchLabels: {egress: allowed}}}' }) + ns('app', 'egress: no') + se('app', 'istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-egress'), bound: false, reason: 'AttachmentDenied', servedHere: false },
  { name: 'Selector on the implicit kubernetes.io/metadata.name label', yaml: gw('istio-egress', 'waypoint', { allowed: '{from: Selector, selector: {matchLabels: {kubernetes.io/metadata.name: app}}}' }) + se('app', 'istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-egress'), bound: true, reason: 'WaypointAccepted', servedHere: true },
  { name: 'namespace label with use-waypoint-namespace from the namespace', yaml: gw('istio-egress', 'waypoint', { allowed: '{from: All}' }) + ns('app', 'istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-egress') + se('app', ''), bound: true, reason: 'WaypointAccepted', servedHere: true },
  { name: 'use-waypoint-namespace is read from the same object as use-waypoint', yaml: gw('istio-egress', 'waypoint', { allowed: '{from: All}' }) + ns('app', 'istio.io/use-waypoint-namespace: istio-egress') + se('app', 'istio.io/use-waypoint: waypoint'), bound: false, reason: 'WaypointIsNotReady', servedHere: false, message: /app\/waypoint/ },
  { name: 'waypoint-for: workload refuses service traffic', yaml: gw('istio-egress', 'waypoint', { labels: 'istio.io/waypoint-for: workload' }) + se('istio-egress', 'istio.io/use-waypoint: waypoint'), bound: false, reason: 'UnsupportedTrafficType', servedHere: false },
  { name: 'waypoint-for: all accepts service traffic', yaml: gw('istio-egress', 'waypoint', { labels: 'istio.io/waypoint-for: all' }) + se('istio-egress', 'istio.io/use-waypoint: waypoint'), bound: true, reason: 'WaypointAccepted', servedHere: true },
  { name: 'waypoint-for: none refuses service traffic', yaml: gw('istio-egress', 'waypoint', { labels: 'istio.io/waypoint-for: none' }) + se('istio-egress', 'istio.io/use-waypoint: waypoint'), bound: false, reason: 'UnsupportedTrafficType', servedHere: false },
  { name: 'GatewayClass waypoint-for is the default for its gateways', yaml: SELF + `---\napiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: istio-waypoint, labels: {istio.io/waypoint-for: workload}}\nspec: {controllerName: istio.io/mesh-controller}\n` + se('istio-egress', 'istio.io/use-waypoint: waypoint'), bound: false, reason: 'UnsupportedTrafficType', servedHere: false },
  { name: 'managed waypoint objects never get a waypoint', yaml: SELF + se('istio-egress', 'istio.io/use-waypoint: waypoint, gateway.istio.io/managed: istio.io-mesh-controller'), bound: false, reason: 'ManagedWaypoint', servedHere: false },
];

describe('waypoint binding (Istio resolution, reference §1.2)', () => {
  for (const row of rows) {
    test(row.name, () => {
      const parsed = parseDocuments(row.yaml, 'binding.yaml');
      assert.deepEqual(parsed.diagnostics.filter((d) => d.level === 'error'), []);
      const out = compile(parsed.resources, { waypoint: row.waypoint });
      assert.ok(out.snapshot, JSON.stringify(out.diagnostics));
      const b = out.snapshot.bindings.find((x) => x.resource.name === 'svc')!;
      assert.equal(b.reason, row.reason, b.message);
      assert.equal(b.bound, row.bound);
      assert.equal(b.servedHere, row.servedHere);
      if (row.message) assert.match(b.message, row.message);
      const served = out.snapshot.hosts.exact.has('svc.example.com');
      assert.equal(served, row.servedHere, 'only ServiceEntries bound here are routable');
    });
  }

  test('NAMESPACE visibility forbids a waypoint in another namespace', () => {
    const yaml = gw('istio-egress', 'waypoint', { allowed: '{from: All}' }) + ns('app', 'team: a') + se('app', 'istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-egress');
    const vis = { defaultVisibility: 'PUBLIC' as const, policies: [{ visibility: 'NAMESPACE' as const, matchingRules: [{ namespaceSelector: { matchLabels: { team: 'a' } } }] }] };
    const out = compile(parseDocuments(yaml, 'v.yaml').resources, { serviceEntryVisibility: vis });
    const b = out.snapshot!.bindings.find((x) => x.resource.name === 'svc')!;
    assert.equal(b.reason, 'CrossNamespaceWaypointForbidden');
  });
});
