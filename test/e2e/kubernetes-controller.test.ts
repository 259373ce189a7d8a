// `egressway controller` against a real kube-apiserver, etcd and kube-controller-manager (built by
// scripts/build-peers.sh), with objects applied by the real kubectl: it provisions Gateways of its
// class by server-side apply, writes status the way istiod does, leaves other controllers' status
// alone, and a second replica takes over when the leader is killed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startControllerProcess, type ControllerProcess } from '../helpers/controller.ts';
import { startWaypoint } from '../helpers/waypoint.ts';
import { controllerManagerMissing, installCrds, kubePeersMissing, startControllerManager, startKube, type KubeControlPlane } from '../helpers/kube.ts';

const skip = kubePeersMissing();
if (skip) console.log(`# kubernetes-controller: ${skip}`);
const noKcm = controllerManagerMissing();
if (!skip && noKcm) console.log(`# kubernetes-controller garbage collection: ${noKcm}`);

const LEASE_MS = 3_000;
const CLASS = `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: egressway}
spec: {controllerName: egressway.io/gateway-controller}
`;

function gateway(name: string, extra = '', listeners = '[{name: mesh, port: 15008, protocol: HBONE}]', cls = 'egressway'): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: istio-egress}
spec:
  gatewayClassName: ${cls}
  listeners: ${listeners}
${extra}
`;
}

function entry(name: string, labels = 'istio.io/use-waypoint: egress'): string {
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: istio-egress, labels: {${labels}}}
spec:
  hosts: [${name}.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`;
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > timeoutMs) assert.fail(`${what}: not true after ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('egressway controller against a real API server', { skip, timeout: 600_000 }, () => {
  let kube: KubeControlPlane;
  let kcm: { close(): Promise<void> } | undefined;
  const controllers: ControllerProcess[] = [];
  const get = async (args: string): Promise<Json> => JSON.parse(await kube.kubectl([...args.split(' '), '-o', 'json', '--show-managed-fields']));
  const condition = (o: Json, type: string): Json | undefined => (o.status?.conditions ?? []).find((c: Json) => c.type === type);
  const start = async (id: string, extra: string[] = []) => {
    const c = await startControllerProcess(['--kubeconfig', kube.kubeconfig, '--identity', id, '--lease-namespace', 'egressway-system', '--lease-duration', `${LEASE_MS}ms`, '--resync-period', '2s', ...extra], 60_000,
      { EGRESSWAY_WAYPOINT_CLUSTER_ROLE: 'egressway-waypoint', EGRESSWAY_WAYPOINT_SECRETS_CLUSTER_ROLE: 'egressway-waypoint-secrets' });
    controllers.push(c);
    return c;
  };
  const holder = async () => (await get('get lease egressway-controller -n egressway-system')).spec?.holderIdentity as string | undefined;
  /** Each test creates what it needs (idempotent), so any one of them can run alone. */
  const ensure = async (name: string) => {
    await kube.kubectl(['apply', '-f', '-'], gateway(name));
    return programmed(name);
  };
  const programmed = (name: string) => eventually(`Gateway ${name} Programmed`, async () => {
    const g = await get(`get gateway ${name} -n istio-egress`);
    return condition(g, 'Programmed')?.status === 'True' ? g : undefined;
  });

  before(async () => {
    kube = await startKube();
    await installCrds(kube);
    if (!noKcm) kcm = await startControllerManager(kube);
    for (const ns of ['egressway-system', 'istio-egress', 'istio-system']) await kube.kubectl(['create', 'namespace', ns]);
    await kube.kubectl(['apply', '-f', '-'], `${CLASS}---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: someone-else}
spec: {controllerName: example.com/other-controller}
`);
    await start('replica-a');
    await eventually('replica-a leads', async () => (await holder()) === 'replica-a');
    await start('replica-b');
  });
  after(async () => {
    for (const c of controllers) await c.stop('SIGKILL');
    await kcm?.close();
    await kube?.close();
  });

  test('GatewayClass: ours is Accepted with SupportedVersion; another controller\'s class is left alone', async () => {
    const gc = await eventually('class accepted', async () => {
      const o = await get('get gatewayclass egressway');
      return condition(o, 'Accepted')?.status === 'True' ? o : undefined;
    });
    assert.equal(condition(gc, 'Accepted')!.message, 'Handled by Egressway controller');
    assert.equal(condition(gc, 'SupportedVersion')?.status, 'True');
    const other = await get('get gatewayclass someone-else');
    assert.notEqual(condition(other, 'Accepted')?.status, 'True');
    assert.ok(!(other.metadata.managedFields ?? []).some((f: Json) => f.manager === 'egressway-controller'));
  });

  test('a Gateway becomes a ServiceAccount, Deployment, Service and PodDisruptionBudget it owns, and its status names the Service', async () => {
    await kube.kubectl(['apply', '-f', '-'], gateway('egress'));
    const g = await programmed('egress');
    const svc = await get('get service egress -n istio-egress');
    assert.equal(condition(g, 'Accepted')!.status, 'True');
    assert.equal(condition(g, 'Programmed')!.message, 'Resource programmed, assigned to service(s) egress.istio-egress.svc.cluster.local:15008');
    assert.deepEqual(g.status.addresses, [{ type: 'IPAddress', value: svc.spec.clusterIP }, { type: 'Hostname', value: 'egress.istio-egress.svc.cluster.local' }]);
    assert.deepEqual(g.status.listeners.map((l: Json) => [l.name, l.supportedKinds, l.conditions.map((c: Json) => `${c.type}=${c.status}`).join(',')]),
      [['mesh', [], 'Accepted=True,Conflicted=False,Programmed=True,ResolvedRefs=True']]);
    const uid = g.metadata.uid;
    for (const kind of ['serviceaccount', 'deployment', 'service', 'poddisruptionbudget']) {
      const o = await get(`get ${kind} egress -n istio-egress`);
      assert.deepEqual(o.metadata.ownerReferences, [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'egress', uid, controller: true }], kind);
      assert.equal(o.metadata.labels['gateway.networking.k8s.io/gateway-name'], 'egress', kind);
      assert.ok(o.metadata.managedFields.some((f: Json) => f.manager === 'egressway-controller' && f.operation === 'Apply'), `${kind} applied server-side`);
    }
    assert.deepEqual(svc.spec.ports.map((p: Json) => [p.name, p.port, p.appProtocol]),
      [['status-port', 15021, 'tcp'], ['mesh', 15008, 'hbone'], ['proxy', 15001, 'http'], ['metrics', 15020, 'http']]);
    assert.deepEqual(svc.spec.selector, { 'gateway.networking.k8s.io/gateway-name': 'egress' });
    const d = await get('get deployment egress -n istio-egress');
    const pod = d.spec.template;
    const c = pod.spec.containers[0];
    assert.deepEqual(c.args, ['run', '--kubernetes', '--waypoint', 'istio-egress/egress', '--listen-address', '0.0.0.0']);
    assert.equal(c.image, 'ghcr.io/egressway/egressway:0.1.0');
    assert.equal(pod.metadata.labels['istio.io/dataplane-mode'], 'none');
    assert.equal(pod.metadata.labels['gateway.istio.io/managed'], 'istio.io-mesh-controller');
    assert.equal(pod.spec.serviceAccountName, 'egress');
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.runAsNonRoot, true);
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/healthz/ready', port: 15021, scheme: 'HTTP' });
    assert.deepEqual(c.env.map((e: Json) => [e.name, e.valueFrom.fieldRef.fieldPath]).slice(0, 4),
      [['POD_NAME', 'metadata.name'], ['POD_NAMESPACE', 'metadata.namespace'], ['SERVICE_ACCOUNT', 'spec.serviceAccountName'], ['NODE_NAME', 'spec.nodeName']]);
    const token = pod.spec.volumes.find((v: Json) => v.name === 'istio-token');
    assert.deepEqual(token.projected.sources[0].serviceAccountToken, { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' });
    assert.deepEqual(c.volumeMounts.find((m: Json) => m.name === 'istio-token').mountPath, '/var/run/secrets/tokens');
    assert.deepEqual(pod.spec.volumes.find((v: Json) => v.name === 'istiod-ca-cert').configMap, { name: 'istio-ca-root-cert', optional: true, defaultMode: 420 });
    assert.deepEqual((await get('get pdb egress -n istio-egress')).spec.maxUnavailable, 1);
    const subjects = [{ kind: 'ServiceAccount', name: 'egress', namespace: 'istio-egress' }];
    // Applied after the Service (whose address makes the Gateway Programmed): may come a moment later.
    const crb = await eventually('ClusterRoleBinding', () => get('get clusterrolebinding egressway-waypoint-istio-egress-egress'));
    assert.deepEqual([crb.roleRef.name, crb.subjects, crb.metadata.ownerReferences], ['egressway-waypoint', subjects, undefined]);
    const rb = await eventually('RoleBinding', () => get('get rolebinding egress-egressway-secrets -n istio-egress'));
    assert.deepEqual([rb.roleRef.name, rb.subjects, rb.metadata.ownerReferences[0].uid], ['egressway-waypoint-secrets', subjects, uid]);
  });

  test('the provisioned command line runs: `egressway run` with the Deployment\'s args serves as that waypoint', async () => {
    await ensure('egress');
    const args: string[] = (await get('get deployment egress -n istio-egress')).spec.template.spec.containers[0].args;
    assert.equal(args[0], 'run');
    // As in the pod, but on loopback and with the test's kubeconfig instead of the service account.
    const local = args.slice(1).map((a, i, all) => (all[i - 1] === '--listen-address' ? '127.0.0.1' : a));
    const wp = await startWaypoint({ configDir: '', args: [...local, '--kubeconfig', kube.kubeconfig, '--access-log', 'off'], startTimeoutMs: 60_000 });
    try {
      const line = await wp.waitForLog((l) => l.msg === 'listening', 30_000);
      assert.equal(line.waypoint, 'istio-egress/egress');
      assert.equal((await fetch(`${wp.listeners.status!.url}/healthz/ready`)).status, 200);
    } finally {
      await wp.close();
    }
  });

  test('re-applies are idempotent and status does not flap; a field we do not manage survives, one we manage is restored', async () => {
    await ensure('egress');
    await kube.kubectl(['patch', 'deployment', 'egress', '-n', 'istio-egress', '--type', 'merge', '-p', '{"spec":{"revisionHistoryLimit":3},"metadata":{"annotations":{"team":"payments"}}}']);
    // What an HPA does: no parametersRef sets replicas, so the count is not ours and stays.
    await kube.kubectl(['scale', 'deployment', 'egress', '-n', 'istio-egress', '--replicas', '5']);
    await kube.kubectl(['patch', 'deployment', 'egress', '-n', 'istio-egress', '--type', 'merge', '-p', '{"spec":{"template":{"metadata":{"annotations":{"prometheus.io/scrape":"false"}}}}}']);
    // The leader applies every object again each --resync-period (2 s): wait for two of them.
    await eventually('our annotation restored', async () => (await get('get deployment egress -n istio-egress')).spec.template.metadata.annotations['prometheus.io/scrape'] === 'true', 15_000);
    // Our field manager's entries change time only when an apply changed something; the Deployment's
    // resourceVersion also moves with kube-controller-manager's status updates, so it is not compared.
    const rv = async () => Promise.all(['gateway', 'serviceaccount', 'deployment', 'service', 'poddisruptionbudget'].map(async (k) => {
      const o = await get(`get ${k} egress -n istio-egress`);
      const ours = o.metadata.managedFields.filter((f: Json) => f.manager === 'egressway-controller').map((f: Json) => `${f.subresource ?? ''}@${f.time}`);
      return [k, k === 'deployment' ? o.metadata.generation : o.metadata.resourceVersion, ours];
    }));
    const before = await rv();
    const leader = (await Promise.all(controllers.map(async (c) => [c, c.child.exitCode === null && await c.metric('egressway_controller_is_leader')] as const))).find(([, l]) => l === 1)![0];
    const statusWrites = () => leader.metric('egressway_controller_writes_total', 'kind="Gateway"');
    const writesBefore = await statusWrites();
    await new Promise((r) => setTimeout(r, 5_000));
    assert.deepEqual(await rv(), before, 'two resyncs later nothing changed: no write changed any object');
    assert.equal(await statusWrites(), writesBefore, 'and the unchanged Gateway status was not even sent');
    const d = await get('get deployment egress -n istio-egress');
    assert.equal(d.spec.replicas, 5, 'a scaled count survives resyncs (an HPA is not fought)');
    assert.equal(d.spec.revisionHistoryLimit, 3);
    assert.equal(d.metadata.annotations.team, 'payments');
  });

  test('parametersRef: the Gateway ConfigMap overrides the class ConfigMap, args from both; a missing ConfigMap is reported', async () => {
    await kube.kubectl(['apply', '-f', '-'], `
apiVersion: v1
kind: ConfigMap
metadata: {name: class-params, namespace: egressway-system}
data: {replicas: "2", args: "[--ca-address, istiod.istio-system.svc:15012]", resources: "{requests: {cpu: 50m}}"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: gw-params, namespace: istio-egress}
data: {replicas: "3", image: "registry.test/egressway:dev", args: "[--log-level, debug]"}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: egressway-tuned
  annotations: {ambient.istio.io/waypoint-inbound-binding: PROXY/15088}
spec:
  controllerName: egressway.io/gateway-controller
  parametersRef: {group: "", kind: ConfigMap, name: class-params, namespace: egressway-system}
` + gateway('tuned', '  infrastructure: {parametersRef: {group: "", kind: ConfigMap, name: gw-params}}', undefined, 'egressway-tuned')
      + gateway('untuned', '  infrastructure: {parametersRef: {group: "", kind: ConfigMap, name: no-such-params}}', undefined, 'egressway-tuned'));
    await programmed('tuned');
    const d = await get('get deployment tuned -n istio-egress');
    const c = d.spec.template.spec.containers[0];
    assert.equal(d.spec.replicas, 3);
    assert.equal(c.image, 'registry.test/egressway:dev');
    assert.deepEqual(c.resources, { requests: { cpu: '50m' } });
    assert.deepEqual(c.args.slice(6), ['--proxy-protocol-port', '15088', '--ca-address', 'istiod.istio-system.svc:15012', '--log-level', 'debug']);
    assert.ok(c.ports.some((p: Json) => p.containerPort === 15088 && p.name === 'proxy-protocol'));
    assert.ok((await get('get service tuned -n istio-egress')).spec.ports.some((p: Json) => p.port === 15088));
    assert.equal((await get('get pdb tuned -n istio-egress')).spec.minAvailable, 1);
    const bad = await eventually('untuned refused', async () => {
      const g = await get('get gateway untuned -n istio-egress');
      return condition(g, 'Accepted')?.status === 'False' ? g : undefined;
    });
    assert.equal(condition(bad, 'Accepted')!.reason, 'InvalidParameters');
    assert.equal(condition(bad, 'Accepted')!.message, 'Gateway parametersRef ConfigMap istio-egress/no-such-params not found');
    await assert.rejects(kube.kubectl(['get', 'deployment', 'untuned', '-n', 'istio-egress']), /NotFound/);
    // Fixed by creating it: provisioned without touching the Gateway.
    await kube.kubectl(['create', 'configmap', 'no-such-params', '-n', 'istio-egress', '--from-literal=replicas=1']);
    await programmed('untuned');
    assert.equal((await get('get deployment untuned -n istio-egress')).spec.replicas, 1);
  });

  test('a Gateway of our class without an HBONE listener is refused with a clear condition, and nothing is provisioned', async () => {
    await kube.kubectl(['apply', '-f', '-'], gateway('http-only', '', '[{name: http, port: 80, protocol: HTTP}]'));
    const g = await eventually('http-only refused', async () => {
      const o = await get('get gateway http-only -n istio-egress');
      return condition(o, 'Accepted')?.status === 'False' ? o : undefined;
    });
    assert.equal(condition(g, 'Accepted')!.reason, 'ListenersNotValid');
    assert.match(condition(g, 'Accepted')!.message, /no HBONE listener/);
    assert.equal(condition(g, 'Programmed')!.status, 'False');
    assert.equal(g.status.listeners[0].conditions.find((c: Json) => c.type === 'Accepted').reason, 'UnsupportedProtocol');
    await assert.rejects(kube.kubectl(['get', 'deployment', 'http-only', '-n', 'istio-egress']), /NotFound/);
    // One log line for the problem, not one per pass (the leader re-runs every 2 s resync).
    await new Promise((r) => setTimeout(r, 4_500));
    const lines = controllers.flatMap((c) => c.logs.lines).filter((l) => String(l.msg).startsWith('Gateway istio-egress/http-only not accepted'));
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0]!.msg, 'Gateway istio-egress/http-only not accepted (ListenersNotValid): no HBONE listener: an Egressway waypoint needs one, e.g. {name: mesh, port: 15008, protocol: HBONE}; its objects are left as they are');
  });

  test('HTTPRoute: our parent entries are written, another controller\'s entry is left intact', async () => {
    await ensure('egress');
    await kube.kubectl(['apply', '-f', '-'], entry('httpbin') + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: httpbin, namespace: istio-egress}
spec:
  parentRefs:
  - {group: networking.istio.io, kind: ServiceEntry, name: httpbin}
  - {name: elsewhere}
  rules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: httpbin.example.com, port: 80}]}]
`);
    const other = { parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'elsewhere' }, controllerName: 'example.com/other-controller',
      conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'theirs', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 }] };
    await kube.kubectl(['patch', 'httproute', 'httpbin', '-n', 'istio-egress', '--subresource', 'status', '--type', 'merge', '-p', JSON.stringify({ status: { parents: [other] } })]);
    const hr = await eventually('our parent entry', async () => {
      const o = await get('get httproute httpbin -n istio-egress');
      return o.status?.parents?.some((p: Json) => p.controllerName === 'egressway.io/gateway-controller') ? o : undefined;
    });
    const ours = hr.status.parents.filter((p: Json) => p.controllerName === 'egressway.io/gateway-controller');
    assert.deepEqual(ours.map((p: Json) => p.parentRef), [{ group: 'networking.istio.io', kind: 'ServiceEntry', name: 'httpbin' }], 'only the parent bound to our waypoint');
    assert.deepEqual(ours[0].conditions.map((c: Json) => `${c.type}=${c.status}:${c.reason}`), ['Accepted=True:Accepted', 'ResolvedRefs=True:ResolvedRefs', 'ResolvedWaypoints=True:ResolvedWaypoints']);
    assert.deepEqual(hr.status.parents.find((p: Json) => p.controllerName === 'example.com/other-controller'), other);
    // A broken backend shows on our entry; theirs still untouched.
    await kube.kubectl(['patch', 'httproute', 'httpbin', '-n', 'istio-egress', '--type', 'json', '-p', '[{"op":"replace","path":"/spec/rules/0/backendRefs/0/name","value":"nowhere.example.com"}]']);
    const broken = await eventually('ResolvedRefs False', async () => {
      const o = await get('get httproute httpbin -n istio-egress');
      const p = o.status.parents.find((x: Json) => x.controllerName === 'egressway.io/gateway-controller');
      return p?.conditions.find((c: Json) => c.type === 'ResolvedRefs')?.status === 'False' ? o : undefined;
    });
    assert.equal(broken.status.parents.find((x: Json) => x.controllerName === 'egressway.io/gateway-controller').conditions.find((c: Json) => c.type === 'ResolvedRefs').message, 'backend(nowhere.example.com) not found');
    assert.deepEqual(broken.status.parents.find((p: Json) => p.controllerName === 'example.com/other-controller'), other);
  });

  test('HTTPRoute parents: a Gateway of ours counts in attachedRoutes; a Kubernetes Service bound to our waypoint is refused with the reason', async () => {
    await ensure('egress');
    await kube.kubectl(['apply', '-f', '-'], `
apiVersion: v1
kind: Service
metadata: {name: in-cluster, namespace: istio-egress, labels: {istio.io/use-waypoint: egress}}
spec: {ports: [{port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: via-gateway, namespace: istio-egress}
spec:
  parentRefs: [{name: egress}, {group: "", kind: Service, name: in-cluster}, {group: "", kind: Service, name: unbound-or-missing}]
  rules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: httpbin.example.com, port: 80}]}]
` + entry('httpbin'));
    const hr = await eventually('parents written', async () => {
      const o = await get('get httproute via-gateway -n istio-egress');
      return o.status?.parents?.length === 2 ? o : undefined;
    });
    const byKind = Object.fromEntries(hr.status.parents.map((p: Json) => [p.parentRef.kind, p.conditions.find((c: Json) => c.type === 'Accepted')]));
    assert.equal(byKind.Gateway.status, 'True');
    assert.deepEqual([byKind.Service.status, byKind.Service.reason], ['False', 'UnsupportedValue']);
    assert.equal(byKind.Service.message, 'parent Service "istio-egress/in-cluster" is bound to waypoint istio-egress/egress, but Egressway waypoints route ServiceEntry hosts only; attach the route to a ServiceEntry');
    await eventually('attachedRoutes', async () => (await get('get gateway egress -n istio-egress')).status.listeners[0].attachedRoutes >= 1);
  });

  test('ServiceEntry WaypointBound: written with istiod\'s strings while no istiod runs, never once an istiod Deployment exists', async () => {
    await ensure('egress');
    await kube.kubectl(['apply', '-f', '-'], gateway('http-only', '', '[{name: http, port: 80, protocol: HTTP}]') + entry('bound') + entry('not-ready', 'istio.io/use-waypoint: http-only') + entry('unrelated', 'istio.io/use-waypoint: someone-elses'));
    const bound = await eventually('bound', async () => {
      const o = await get('get serviceentry bound -n istio-egress');
      return condition(o, 'istio.io/WaypointBound') ? o : undefined;
    });
    assert.deepEqual(Object.fromEntries(Object.entries(condition(bound, 'istio.io/WaypointBound')!).filter(([k]) => k !== 'lastTransitionTime')),
      { type: 'istio.io/WaypointBound', status: 'True', reason: 'WaypointAccepted', message: 'Successfully attached to waypoint istio-egress/egress', observedGeneration: 1 });
    const notReady = await eventually('not-ready', async () => condition(await get('get serviceentry not-ready -n istio-egress'), 'istio.io/WaypointBound'));
    assert.deepEqual([notReady.status, notReady.reason, notReady.message], ['False', 'WaypointIsNotReady', 'waypoint "istio-egress/http-only" is not ready']);
    assert.equal(condition(await get('get serviceentry unrelated -n istio-egress'), 'istio.io/WaypointBound'), undefined, 'a waypoint that is not ours');
    // Opting out removes the condition we wrote.
    await kube.kubectl(['label', 'serviceentry', 'not-ready', '-n', 'istio-egress', '--overwrite', 'istio.io/use-waypoint=none']);
    await eventually('condition removed', async () => condition(await get('get serviceentry not-ready -n istio-egress'), 'istio.io/WaypointBound') === undefined);
    // istiod appears: from now on it writes WaypointBound; the controller does not.
    const leader = controllers.find((c) => c.child.exitCode === null && c.logs.lines.some((l) => l.msg === 'leading: this replica writes now'))!;
    await kube.kubectl(['apply', '-f', '-'], `
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system, labels: {app: istiod}}
spec:
  replicas: 0
  selector: {matchLabels: {app: istiod}}
  template: {metadata: {labels: {app: istiod}}, spec: {containers: [{name: discovery, image: istio/pilot}]}}
`);
    await leader.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('istiod manages this cluster'), 15_000);
    await kube.kubectl(['apply', '-f', '-'], entry('after-istiod'));
    await new Promise((r) => setTimeout(r, 3_000));
    const after = await get('get serviceentry after-istiod -n istio-egress');
    assert.equal(condition(after, 'istio.io/WaypointBound'), undefined);
    assert.ok(!(after.metadata.managedFields ?? []).some((f: Json) => f.manager === 'egressway-controller'));
    await kube.kubectl(['delete', 'deployment', 'istiod', '-n', 'istio-system']);
    await eventually('written again without istiod', async () => condition(await get('get serviceentry after-istiod -n istio-egress'), 'istio.io/WaypointBound'));
  });

  test('the RBAC listed in controller.ts is enough: a controller on exactly those permissions provisions and writes every status', async () => {
    await kube.kubectl(['apply', '-f', '-'], `
apiVersion: v1
kind: ServiceAccount
metadata: {name: rbac-check, namespace: egressway-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: rbac-check}
rules:
- {apiGroups: [gateway.networking.k8s.io], resources: [gatewayclasses, gateways, httproutes, referencegrants], verbs: [get, list, watch]}
- {apiGroups: [gateway.networking.k8s.io], resources: [gatewayclasses/status, gateways/status, httproutes/status], verbs: [patch]}
- {apiGroups: [networking.istio.io], resources: [serviceentries], verbs: [get, list, watch]}
- {apiGroups: [networking.istio.io], resources: [serviceentries/status], verbs: [patch]}
- {apiGroups: [""], resources: [namespaces, services, configmaps], verbs: [get, list, watch]}
- {apiGroups: [""], resources: [services, serviceaccounts], verbs: [create, patch]}
- {apiGroups: [""], resources: [serviceaccounts], verbs: [list, watch]}
- {apiGroups: [apps], resources: [deployments], verbs: [create, patch, list, watch]}
- {apiGroups: [policy], resources: [poddisruptionbudgets], verbs: [create, patch, list, watch]}
- {apiGroups: [apiextensions.k8s.io], resources: [customresourcedefinitions], resourceNames: [gateways.gateway.networking.k8s.io], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: rbac-check}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: rbac-check}
subjects: [{kind: ServiceAccount, name: rbac-check, namespace: egressway-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: rbac-check-lease, namespace: egressway-system}
rules: [{apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, create, update]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rbac-check-lease, namespace: egressway-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: rbac-check-lease}
subjects: [{kind: ServiceAccount, name: rbac-check, namespace: egressway-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: rbac-check-istiod, namespace: istio-system}
rules: [{apiGroups: [apps], resources: [deployments], verbs: [list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rbac-check-istiod, namespace: istio-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: rbac-check-istiod}
subjects: [{kind: ServiceAccount, name: rbac-check, namespace: egressway-system}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: egressway-rbac}
spec: {controllerName: egressway.io/rbac-check}
` + gateway('rbac', '', undefined, 'egressway-rbac') + entry('rbac-bound', 'istio.io/use-waypoint: rbac') + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: rbac, namespace: istio-egress}
spec:
  parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: rbac-bound}]
`);
    const restricted = await kube.kubeconfigFor('egressway-system', 'rbac-check');
    const c = await startControllerProcess(['--kubeconfig', restricted, '--identity', 'rbac', '--lease-namespace', 'egressway-system', '--lease-name', 'rbac-check', '--controller-name', 'egressway.io/rbac-check', '--lease-duration', '3s']);
    controllers.push(c);
    try {
      const g = await programmed('rbac');
      assert.equal(g.status.addresses.length, 2);
      const gc = await get('get gatewayclass egressway-rbac');
      assert.equal(condition(gc, 'SupportedVersion')?.status, 'True');
      await eventually('WaypointBound', async () => condition(await get('get serviceentry rbac-bound -n istio-egress'), 'istio.io/WaypointBound')?.status === 'True');
      await eventually('route parent', async () => (await get('get httproute rbac -n istio-egress')).status?.parents?.some((p: Json) => p.controllerName === 'egressway.io/rbac-check'));
      for (const kind of ['serviceaccount', 'deployment', 'poddisruptionbudget']) await kube.kubectl(['get', kind, 'rbac', '-n', 'istio-egress']);
      const denied = c.logs.lines.filter((l) => /\b403\b|forbidden/i.test(String(l.msg)));
      assert.deepEqual(denied, [], 'no request was refused');
      assert.equal(await c.metric('egressway_controller_writes_total', 'result="error"'), 0);
    } finally {
      await c.stop('SIGTERM');
      controllers.splice(controllers.indexOf(c), 1);
    }
  });

  test('two replicas: only the leader writes; SIGKILL the leader and the other takes over within a lease duration', async () => {
    const first = await holder();
    const leader = controllers.find((c) => c.child.exitCode === null && c.logs.lines.some((l) => l.msg === 'leading: this replica writes now'))!;
    const follower = controllers.find((c) => c !== leader && c.child.exitCode === null)!;
    assert.ok(first && leader && follower);
    assert.equal(await follower.metric('egressway_controller_writes_total'), 0, 'the follower wrote nothing');
    assert.equal(await follower.metric('egressway_controller_is_leader'), 0);
    assert.equal((await fetch(`${follower.url}/healthz/ready`)).status, 200, 'a follower is ready: its caches are warm');
    assert.equal(await leader.metric('egressway_controller_is_leader'), 1);
    assert.ok(await leader.metric('egressway_controller_writes_total', 'result="ok"') > 0);
    const killedAt = Date.now();
    await leader.stop('SIGKILL');
    await kube.kubectl(['apply', '-f', '-'], gateway('after-failover'));
    await follower.waitForLog((l) => l.msg === 'leading: this replica writes now', LEASE_MS * 3);
    const tookOver = Date.now() - killedAt;
    await programmed('after-failover');
    const flowing = Date.now() - killedAt;
    assert.notEqual(await holder(), first);
    console.log(`# failover after SIGKILL (lease ${LEASE_MS} ms): new leader after ${tookOver} ms, new Gateway Programmed ${flowing} ms after the kill`);
    // client-go's rule: a follower waits one lease duration from the last renewal it saw (its own
    // clock), then takes the lease at its next retry (retry period = 2/15 of the lease duration).
    const retry = Math.round(LEASE_MS * 2 / 15);
    assert.ok(tookOver >= LEASE_MS - retry, `not before the lease could have expired (${tookOver} ms)`);
    // + 1.5 s of slack for a busy shared machine (measured: 3.4 to 3.7 s).
    assert.ok(tookOver < LEASE_MS + 2 * retry + 1_500, `took over in ${tookOver} ms`);
    // SIGTERM releases the lease: a fresh follower takes over at its next retry, not a lease duration later.
    const third = await start('replica-c');
    const termAt = Date.now();
    await follower.stop('SIGTERM');
    await third.waitForLog((l) => l.msg === 'leading: this replica writes now', LEASE_MS * 3);
    const handover = Date.now() - termAt;
    console.log(`# handover after SIGTERM (lease released): ${handover} ms`);
    assert.ok(handover < LEASE_MS, `released lease taken in ${handover} ms`);
  });

  test('a deleted Deployment, ServiceAccount or PodDisruptionBudget is recreated at once, not at the next resync', async () => {
    // A leader whose resync is 10 minutes away: only the deletion watch can bring them back.
    const slow = await start('replica-slow', ['--resync-period', '10m']);
    for (const c of controllers.filter((x) => x !== slow && x.child.exitCode === null)) await c.stop('SIGTERM');
    await slow.waitForLog((l) => l.msg === 'leading: this replica writes now', LEASE_MS * 3);
    await ensure('egress');
    for (const kind of ['deployment', 'serviceaccount', 'poddisruptionbudget']) {
      const uid = (await get(`get ${kind} egress -n istio-egress`)).metadata.uid;
      const t0 = Date.now();
      await kube.kubectl(['delete', kind, 'egress', '-n', 'istio-egress', '--wait=false']);
      await eventually(`${kind} recreated`, async () => {
        try {
          return (await get(`get ${kind} egress -n istio-egress`)).metadata.uid !== uid;
        } catch {
          return false;
        }
      }, 20_000);
      console.log(`# ${kind} recreated ${Date.now() - t0} ms after its deletion`);
    }
  });

  test('deleting a Gateway garbage-collects its objects (kube-controller-manager)', { skip: noKcm }, async () => {
    await ensure('after-failover');
    await eventually('its bindings exist first', () => get('get clusterrolebinding egressway-waypoint-istio-egress-after-failover'));
    await eventually('its bindings exist first', () => get('get rolebinding after-failover-egressway-secrets -n istio-egress'));
    await kube.kubectl(['delete', 'gateway', 'after-failover', '-n', 'istio-egress']);
    for (const [kind, name] of [['deployment', 'after-failover'], ['service', 'after-failover'], ['serviceaccount', 'after-failover'], ['poddisruptionbudget', 'after-failover'],
      ['rolebinding', 'after-failover-egressway-secrets'], ['clusterrolebinding', 'egressway-waypoint-istio-egress-after-failover']]) {
      await eventually(`${kind} collected`, async () => {
        try {
          await kube.kubectl(['get', kind!, name!, '-n', 'istio-egress']);
          return false;
        } catch (err) {
          return /NotFound/.test((err as Error).message);
        }
      }, 60_000);
    }
  });

  // Last: it removes the ServiceEntry CRD for good.
  test('without Istio\'s CRDs the controller still syncs, becomes ready and provisions (regression: it waited for ServiceEntries forever)', async () => {
    await kube.kubectl(['delete', 'crd', 'serviceentries.networking.istio.io']);
    await kube.kubectl(['apply', '-f', '-'], `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: egressway-no-istio}
spec: {controllerName: egressway.io/no-istio}
` + gateway('no-istio', '', undefined, 'egressway-no-istio'));
    const c = await startControllerProcess(['--kubeconfig', kube.kubeconfig, '--identity', 'no-istio', '--lease-namespace', 'egressway-system', '--lease-name', 'no-istio', '--controller-name', 'egressway.io/no-istio', '--lease-duration', '3s'], 30_000);
    controllers.push(c);
    assert.equal((await fetch(`${c.url}/healthz/ready`)).status, 200);
    await programmed('no-istio');
  });
});
