// `egressway controller` against a real kube-apiserver, etcd and kube-controller-manager (built by
// scripts/build-peers.sh), with objects applied by the real kubectl: it provisions Gateways of its
// class by server-side apply, writes status the way istiod does, leaves other controllers' status
// alone, and a second replica takes over when the leader is killed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startControllerProcess, type ControllerProcess } from '../helpers/controller.ts';
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
${extra}`;
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
    const c = await startControllerProcess(['--kubeconfig', kube.kubeconfig, '--identity', id, '--lease-namespace', 'egressway-system', '--lease-duration', `${LEASE_MS}ms`, '--resync-period', '2s', ...extra]);
    controllers.push(c);
    return c;
  };
  const holder = async () => (await get('get lease egressway-controller -n egressway-system')).spec?.holderIdentity as string | undefined;
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
  });

  test('re-applies are idempotent and status does not flap; a field we do not manage survives, one we manage is restored', async () => {
    await programmed('egress');
    await kube.kubectl(['patch', 'deployment', 'egress', '-n', 'istio-egress', '--type', 'merge', '-p', '{"spec":{"revisionHistoryLimit":3},"metadata":{"annotations":{"team":"payments"}}}']);
    await kube.kubectl(['scale', 'deployment', 'egress', '-n', 'istio-egress', '--replicas', '5']);
    // The leader applies every object again each --resync-period (2 s): wait for two of them.
    await eventually('replicas restored', async () => (await get('get deployment egress -n istio-egress')).spec.replicas === 1, 15_000);
    const rv = async () => Promise.all(['gateway', 'serviceaccount', 'deployment', 'service', 'poddisruptionbudget'].map(async (k) => (await get(`get ${k} egress -n istio-egress`)).metadata.resourceVersion));
    const before = await rv();
    await new Promise((r) => setTimeout(r, 5_000));
    assert.deepEqual(await rv(), before, 'two resyncs later nothing changed: no write changed any object');
    const d = await get('get deployment egress -n istio-egress');
    assert.equal(d.spec.revisionHistoryLimit, 3);
    assert.equal(d.metadata.annotations.team, 'payments');
  });
});
