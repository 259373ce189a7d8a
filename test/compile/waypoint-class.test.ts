// Which Gateways are waypoints: class istio-waypoint, or any class with an HBONE listener (istiod has
// no requirement on the class, istio/istio#48362). Regression: Gateways that `egressway controller`
// provisions are of its own class, and their pods run `run --kubernetes --waypoint <ns>/<name>`,
// which refused them ("not in the config") while only istio-waypoint counted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { isWaypoint } from '../../src/compile/waypoints.ts';
import { parseDocuments } from '../../src/config/parse.ts';

const gateway = (name: string, cls: string, protocol: string) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: istio-egress}
spec:
  gatewayClassName: ${cls}
  listeners: [{name: l, port: 15008, protocol: ${protocol}}]
`;

test('a Gateway of another class with an HBONE listener is a waypoint; one without is not', () => {
  const { resources } = parseDocuments(gateway('ours', 'egressway', 'HBONE') + gateway('ingress', 'istio', 'HTTP') + gateway('mesh', 'istio-waypoint', 'HBONE'), 'x.yaml');
  assert.deepEqual(resources.filter(isWaypoint).map((r) => r.metadata.name), ['ours', 'mesh']);
  const r = compile(resources, { waypoint: 'istio-egress/ours' });
  assert.equal(r.snapshot?.waypoint.name, 'ours');
  const wrong = compile(resources, { waypoint: 'istio-egress/ingress' });
  const d = wrong.diagnostics.find((x) => x.code === 'EGW0010');
  assert.match(d?.message ?? '', /^waypoint istio-egress\/ingress is not in the config \(waypoint Gateways found: istio-egress\/mesh, istio-egress\/ours;/);
});

test("a waypoint's own GatewayClass gives its istio.io/waypoint-for default, whatever the class name", () => {
  const yaml = gateway('ours', 'egressway', 'HBONE') + `---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: egressway, labels: {istio.io/waypoint-for: workload}}
spec: {controllerName: egressway.io/gateway-controller}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se, namespace: istio-egress, labels: {istio.io/use-waypoint: ours}}
spec: {hosts: [se.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
`;
  const r = compile(parseDocuments(yaml, 'x.yaml').resources, { waypoint: 'istio-egress/ours' });
  assert.equal(r.snapshot?.bindings.find((b) => b.resource.name === 'se')?.reason, 'UnsupportedTrafficType');
});
