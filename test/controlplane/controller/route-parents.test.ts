// HTTPRoute status.parents as the controller writes them for a route on a ServiceEntry, replaying
// the Gateway API conformance test HTTPRouteObservedGenerationBump: every condition carries the
// route's metadata.generation, a new generation rewrites them (lastTransitionTime kept where the
// status did not change), and the same generation writes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusWorld } from '../../../src/compile/route-status.ts';
import type { HTTPRouteSpec } from '../../../src/config/kinds/http-route.ts';
import { parseDocuments } from '../../../src/config/parse.ts';
import type { Resource } from '../../../src/config/resource.ts';
import { routeParents, type ParentStatus } from '../../../src/controlplane/controller/route-parents.ts';
import { serviceEntry } from '../../helpers/inprocess.ts';

const CONTROLLER = 'egressway.io/controller';
const YAML = serviceEntry('api', 'hosts: [api.test]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS') + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: istio-egress}
spec:
  parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: api}]
  rules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: api.test, port: 80}]}]
`;

function statusFor(generation: number, current: readonly ParentStatus[], now: string): readonly ParentStatus[] | undefined {
  const resources = parseDocuments(YAML, 'test.yaml').resources;
  const route = resources.find((r) => r.kind === 'HTTPRoute') as Resource<HTTPRouteSpec>;
  return routeParents({ route, generation, current, controllerName: CONTROLLER, world: statusWorld(resources), owner: () => ({}), now }).parents;
}

test('HTTPRouteObservedGenerationBump: conditions follow metadata.generation, and an unchanged generation writes nothing', () => {
  const first = statusFor(1, [], '2026-01-01T00:00:00Z')!;
  assert.equal(first.length, 1);
  assert.equal(first[0]!.controllerName, CONTROLLER);
  assert.deepEqual(first[0]!.conditions.map((c) => [c.type, c.status, c.observedGeneration]), [
    ['Accepted', 'True', 1], ['ResolvedRefs', 'True', 1], ['ResolvedWaypoints', 'True', 1],
  ]);
  assert.equal(statusFor(1, first, '2026-01-01T00:01:00Z'), undefined, 'same generation, same status: no write');
  const bumped = statusFor(2, first, '2026-01-01T00:02:00Z')!;
  assert.ok(bumped, 'a new generation rewrites the conditions');
  assert.deepEqual(bumped[0]!.conditions.map((c) => c.observedGeneration), [2, 2, 2]);
  assert.deepEqual(bumped[0]!.conditions.map((c) => c.lastTransitionTime), ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z']);
});
