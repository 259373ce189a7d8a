// The controller's pure parts, without an API server: settings from parametersRef ConfigMaps and
// annotations, condition merging (no status flapping), Gateway status, WaypointBound.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { conditionsMatch, mergeConditions } from '../../../src/controlplane/controller/conditions.ts';
import { gatewayStatus, humanReadableJoin } from '../../../src/controlplane/controller/gateway-status.ts';
import { resolveSettings, type ParamsInput } from '../../../src/controlplane/controller/params.ts';
import { renderGateway } from '../../../src/controlplane/controller/render.ts';
import { nextConditions, waypointBoundCondition } from '../../../src/controlplane/controller/waypoint-bound.ts';
import type { Binding } from '../../../src/model/snapshot.ts';

const cms: Record<string, Record<string, string>> = {
  'sys/class': { replicas: '2', args: '[--a, "1"]', nodeSelector: '{kubernetes.io/os: linux}' },
  'app/gw': { replicas: '4', args: '[--b]', image: 'r/e:1' },
  'app/bad-yaml': { resources: '{requests: [' },
  'app/typo': { replica: '2' },
  'app/zero': { replicas: '0' },
};
const input = (o: Partial<ParamsInput> = {}): ParamsInput => ({
  gatewayNamespace: 'app', classAnnotations: {}, gatewayAnnotations: {}, defaultImage: 'default:1',
  configMap: (ns, name) => cms[`${ns}/${name}`], ...o,
});
const cm = (name: string, namespace?: string) => ({ group: '', kind: 'ConfigMap', name, ...(namespace ? { namespace } : {}) });

describe('resolveSettings', () => {
  test('defaults without any parametersRef: no replicas (an autoscaler or `kubectl scale` owns the count)', () => {
    assert.deepEqual(resolveSettings(input()).settings, { image: 'default:1', args: [] });
  });
  test('the Gateway ConfigMap overrides the class one key by key; args from both, the class first', () => {
    assert.deepEqual(resolveSettings(input({ classRef: cm('class', 'sys'), gatewayRef: cm('gw') })).settings,
      { replicas: 4, image: 'r/e:1', args: ['--a', '1', '--b'], nodeSelector: { 'kubernetes.io/os': 'linux' } });
  });
  test('the inbound-binding annotation: Gateway over class; a bad or reserved port is an error', () => {
    assert.equal(resolveSettings(input({ classAnnotations: { 'ambient.istio.io/waypoint-inbound-binding': 'PROXY/15088' } })).settings?.proxyProtocolPort, 15088);
    assert.equal(resolveSettings(input({ classAnnotations: { 'ambient.istio.io/waypoint-inbound-binding': 'PROXY/15088' }, gatewayAnnotations: { 'ambient.istio.io/waypoint-inbound-binding': 'PROXY/16000' } })).settings?.proxyProtocolPort, 16000);
    assert.match(resolveSettings(input({ gatewayAnnotations: { 'ambient.istio.io/waypoint-inbound-binding': 'PROXY' } })).error!.message, /is not PROXY\/<port>/);
    assert.match(resolveSettings(input({ gatewayAnnotations: { 'ambient.istio.io/waypoint-inbound-binding': 'PROXY/15008' } })).error!.message, /port 15008 is taken by the waypoint/);
  });
  test('each bad reference or value names the ConfigMap and the fix', () => {
    const err = (o: Partial<ParamsInput>) => resolveSettings(input(o)).error?.message;
    assert.equal(err({ gatewayRef: cm('missing') }), 'Gateway parametersRef ConfigMap app/missing not found');
    assert.equal(err({ classRef: cm('class') }), 'GatewayClass parametersRef ConfigMap class has no namespace; set parametersRef.namespace');
    assert.equal(err({ gatewayRef: { group: 'example.com', kind: 'Params', name: 'x' } }), 'Gateway parametersRef must be a ConfigMap (group "", kind ConfigMap), not example.com/Params');
    assert.match(err({ gatewayRef: cm('bad-yaml') })!, /^ConfigMap app\/bad-yaml: resources is not YAML/);
    assert.equal(err({ gatewayRef: cm('typo') }), 'ConfigMap app/typo: unknown key(s) replica; known: replicas, image, resources, args, nodeSelector, tolerations');
    assert.equal(err({ gatewayRef: cm('zero') }), 'ConfigMap app/zero: replicas "0" is not a whole number from 1 to 1000');
  });
});

describe('conditions', () => {
  const c = (status: 'True' | 'False', message = 'm') => ({ type: 'Ready', status, reason: 'R', message, observedGeneration: 1 });
  test('an unchanged status keeps its lastTransitionTime and compares equal', () => {
    const first = mergeConditions(undefined, [c('True')], 't1');
    assert.equal(first[0]!.lastTransitionTime, 't1');
    assert.equal(mergeConditions(first, [c('True', 'other')], 't2')[0]!.lastTransitionTime, 't1', 'message changes keep the time');
    assert.equal(mergeConditions(first, [c('False')], 't2')[0]!.lastTransitionTime, 't2');
    assert.ok(conditionsMatch(first, [c('True')]));
    assert.ok(!conditionsMatch(first, [c('True', 'other')]));
    assert.ok(!conditionsMatch(first, [{ ...c('True'), observedGeneration: 2 }]));
  });
});

describe('Gateway status', () => {
  const g = { name: 'egress', namespace: 'ns', generation: 3, listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] };
  test('Programmed waits for the Service, then reports it; the address is never removed once set', () => {
    const none = gatewayStatus(g, undefined, undefined, new Map());
    assert.deepEqual(none.conditions.map((x) => [x.type, x.status, x.reason, x.message]), [
      ['Accepted', 'True', 'Accepted', 'Resource accepted'],
      ['Programmed', 'False', 'AddressNotAssigned', 'Failed to assign to any requested addresses: hostname "egress.ns.svc.cluster.local" not found'],
    ]);
    assert.equal(none.addresses, undefined);
    const ok = gatewayStatus(g, { clusterIPs: ['10.96.0.7'], ports: [15021, 15008] }, undefined, new Map([['mesh', 2]]));
    assert.equal(ok.conditions[1]!.message, 'Resource programmed, assigned to service(s) egress.ns.svc.cluster.local:15008');
    assert.deepEqual(ok.addresses, [{ type: 'IPAddress', value: '10.96.0.7' }, { type: 'Hostname', value: 'egress.ns.svc.cluster.local' }]);
    assert.equal(ok.listeners[0]!.attachedRoutes, 2);
    const gone = gatewayStatus({ ...g, status: { addresses: ok.addresses } }, undefined, undefined, new Map());
    assert.deepEqual(gone.addresses, ok.addresses);
  });
  test('humanReadableJoin as istiod writes lists', () => {
    assert.deepEqual(['a', 'a and b', 'a, b, and c'], [humanReadableJoin(['a']), humanReadableJoin(['a', 'b']), humanReadableJoin(['a', 'b', 'c'])]);
  });
});

describe('render', () => {
  test('the Deployment carries replicas only when the parameters set it', () => {
    const gw = { name: 'w', namespace: 'n', uid: 'u', className: 'c', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] };
    const spec = (replicas?: number) => renderGateway(gw, { ...(replicas ? { replicas } : {}), image: 'i', args: [] }, 'x/y').find((r) => r.body.kind === 'Deployment')!.body.spec as Record<string, unknown>;
    assert.equal(spec(3).replicas, 3);
    assert.ok(!('replicas' in spec()), 'not set: the field is not ours, so an HPA is never fought');
  });
  test('one replica gets maxUnavailable 1 (a drain never hangs on it); more keep one up', () => {
    const gw = { name: 'w', namespace: 'n', uid: 'u', className: 'c', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] };
    const pdb = (replicas?: number) => renderGateway(gw, { ...(replicas ? { replicas } : {}), image: 'i', args: [] }, 'x/y').find((r) => r.body.kind === 'PodDisruptionBudget')!.body.spec;
    assert.deepEqual(pdb(1), { selector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'w' } }, maxUnavailable: 1 });
    assert.deepEqual(pdb(), { selector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'w' } }, maxUnavailable: 1 }, 'a count nobody set: one eviction at a time');
    assert.deepEqual(pdb(2), { selector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'w' } }, minAvailable: 1 });
  });
});

describe('WaypointBound', () => {
  const b = (reason: Binding['reason'], bound = false): Binding => ({ resource: { kind: 'ServiceEntry', namespace: 'a', name: 's' }, bound, reason, message: '', waypoint: 'ns/wp', servedHere: false });
  test("istiod's messages, with the ingress hint", () => {
    assert.equal(waypointBoundCondition(b('WaypointAccepted', true), {}, {}, 1)!.message, 'Successfully attached to waypoint ns/wp');
    assert.equal(waypointBoundCondition(b('WaypointAccepted', true), { 'istio.io/ingress-use-waypoint': 'true' }, {}, 1)!.message, 'Successfully attached to waypoint ns/wp. Ingress traffic will traverse the waypoint');
    assert.equal(waypointBoundCondition(b('WaypointAccepted', true), {}, { 'istio.io/ingress-use-waypoint': 'no' }, 1)!.message,
      'Successfully attached to waypoint ns/wp. Ingress traffic is not using the waypoint, set the istio.io/ingress-use-waypoint label to true if desired.');
    assert.equal(waypointBoundCondition(b('AttachmentDenied'), {}, {}, 1)!.message, 'we are not permitted to attach to waypoint "ns/wp" (missing allowedRoutes?)');
    assert.equal(waypointBoundCondition(b('UnsupportedTrafficType'), {}, {}, 1)!.message, 'attempting to bind to traffic type "service" which the waypoint "ns/wp" does not support');
    assert.equal(waypointBoundCondition(b('OptedOut'), {}, {}, 1), undefined);
  });
  test("others' conditions are carried; ours is removed only when we wrote it; an equal one is not rewritten", () => {
    const theirs = { type: 'Other', status: 'True' as const, reason: 'X', message: 'y' };
    const want = waypointBoundCondition(b('WaypointIsNotReady'), {}, {}, 1)!;
    const written = nextConditions([theirs], want, false, 't1')!;
    assert.deepEqual(written, [theirs, { ...want, lastTransitionTime: 't1' }]);
    assert.equal(nextConditions(written, want, true, 't2'), undefined);
    assert.equal(nextConditions(written, undefined, false, 't2'), undefined, 'not ours to remove');
    assert.deepEqual(nextConditions(written, undefined, true, 't2'), [theirs]);
  });
});
