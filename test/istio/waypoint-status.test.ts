// What a real istiod makes of an Egressway waypoint: a Gateway of our own GatewayClass with an HBONE
// listener on 15008 is a waypoint once it has status.addresses (istio/istio#48362: no requirement on
// the class). istiod writes istio.io/WaypointBound on the labelled ServiceEntry, points the service
// at the waypoint's address in the view it serves ztunnel, and with the sandwich annotation on the
// GatewayClass gives the waypoint's workloads the PROXY inbound binding.
//
// The Gateway status is written here with `kubectl patch --subresource=status`, as our controller
// (issue 12, another engineer's code) does in a cluster, so this proof does not depend on it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { installCrds, startKube, type KubeControlPlane } from '../helpers/kube.ts';
import { istiodMissing, startIstiod, type Istiod } from '../helpers/istiod.ts';
import { subscribeWds, type WdsSubscription } from '../helpers/wds.ts';

const skip = istiodMissing();
if (skip) console.log(`# istio waypoint status: ${skip}`);

const NS = 'istio-egress';
const WAYPOINT_HOST = `egress.${NS}.svc.cluster.local`;

interface Condition { type: string; status: string; reason: string; message: string }
interface AmbientService {
  name: string; namespace: string; hostname: string;
  waypoint?: { hostname?: { namespace: string; hostname: string }; address?: { address: string }; hboneMtlsPort?: number };
}
interface AmbientWorkload { name: string; namespace: string; applicationTunnel?: { protocol?: string; port?: number } }
interface Ambientz { services?: AmbientService[]; workloads?: AmbientWorkload[] }

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > timeoutMs) assert.fail(`${what}: not true after ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('a real istiod treats an Egressway Gateway as a waypoint', { skip, timeout: 600_000 }, () => {
  let kube: KubeControlPlane;
  let istiod: Istiod;
  /** What istiod pushes to ztunnel: a delta xDS subscription to istio.workload.Address on 15010. */
  let wds: WdsSubscription;
  const wdsService = (host: string) => [...wds.addresses.values()].find((a) => a.service?.hostname === host)?.service;
  const wdsWorkload = (name: string) => [...wds.addresses.values()].find((a) => a.workload?.name === name)?.workload;

  const condition = async (name: string): Promise<Condition | undefined> => {
    const se = JSON.parse(await kube.kubectl(['get', 'serviceentry', name, '-n', NS, '-o', 'json'])) as { status?: { conditions?: Condition[] } };
    return se.status?.conditions?.find((c) => c.type === 'istio.io/WaypointBound');
  };
  const ambientz = () => istiod.debug<Ambientz>('/debug/ambientz');

  before(async () => {
    kube = await startKube();
    await installCrds(kube);
    await kube.kubectl(['create', 'namespace', NS]);
    istiod = await startIstiod(kube);
    wds = subscribeWds(istiod.grpcAddress);
    console.log(`# istiod ready in ${Math.round(istiod.startMs)} ms; env ${JSON.stringify(istiod.env)}; args ${istiod.args.join(' ')}`);
    await kube.kubectl(['apply', '-f', '-'], `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: egressway}
spec: {controllerName: egressway.dev/waypoint-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: egress, namespace: ${NS}}
spec:
  gatewayClassName: egressway
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE}
  - {name: proxy, port: 15088, protocol: istio.io/PROXY}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin, namespace: ${NS}, labels: {istio.io/use-waypoint: egress}}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`);
  });
  after(async () => {
    wds?.close();
    await istiod?.close();
    await kube?.close();
  });

  test('no address yet: WaypointBound=False, WaypointIsNotReady; with status.addresses: True, WaypointAccepted, and the service points at the waypoint', async () => {
    const notReady = await eventually('WaypointBound on the ServiceEntry', async () => (await condition('httpbin')) ?? undefined);
    console.log(`# not ready: ${JSON.stringify(notReady)}`);
    assert.equal(notReady.status, 'False');
    assert.equal(notReady.reason, 'WaypointIsNotReady');
    assert.equal(notReady.message, `waypoint "${NS}/egress" is not ready`);
    const before = (await ambientz()).services?.find((s) => s.hostname === 'httpbin.org');
    assert.ok(before, "istiod's ambient index has the ServiceEntry");
    assert.equal(before.waypoint, undefined, 'no waypoint while the Gateway has no address');

    const t0 = Date.now();
    await kube.kubectl(['patch', 'gateway', 'egress', '-n', NS, '--subresource=status', '--type=merge', '-p',
      JSON.stringify({ status: { addresses: [{ type: 'Hostname', value: WAYPOINT_HOST }] } })]);
    const bound = await eventually('WaypointBound=True', async () => {
      const c = await condition('httpbin');
      return c?.status === 'True' ? c : undefined;
    });
    console.log(`# bound ${Date.now() - t0} ms after the Gateway status patch: ${JSON.stringify(bound)}`);
    assert.equal(bound.reason, 'WaypointAccepted');
    assert.equal(bound.message, `Successfully attached to waypoint ${NS}/egress`);
    const svc = await eventually('the service points at the waypoint in /debug/ambientz', async () => {
      const s = (await ambientz()).services?.find((x) => x.hostname === 'httpbin.org');
      return s?.waypoint ? s : undefined;
    });
    console.log(`# /debug/ambientz service: ${JSON.stringify(svc)}`);
    assert.deepEqual(svc.waypoint, { hostname: { namespace: NS, hostname: WAYPOINT_HOST }, hboneMtlsPort: 15008 });
    // What ztunnel receives over xDS says the same.
    const pushed = await eventually('the service with its waypoint over WDS', async () => wdsService('httpbin.org')?.waypoint ? wdsService('httpbin.org') : undefined);
    console.log(`# WDS service pushed to ztunnel: ${JSON.stringify(pushed)}`);
    assert.deepEqual(pushed.waypoint, { hostname: { namespace: NS, hostname: WAYPOINT_HOST }, hboneMtlsPort: 15008 });
  });

  test('the sandwich annotation on the GatewayClass gives the waypoint workloads the PROXY inbound binding', async () => {
    // A waypoint instance: istiod finds instances by the gateway-name label (pods, or a WorkloadEntry
    // as here, since no kubelet runs pods in this cluster).
    await kube.kubectl(['apply', '-f', '-'], `
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: egress-0, namespace: ${NS}, labels: {gateway.networking.k8s.io/gateway-name: egress}}
spec: {address: 10.0.0.5, serviceAccount: egress}
`);
    const plain = await eventually('the waypoint instance in /debug/ambientz', async () => (await ambientz()).workloads?.find((w) => w.name === 'egress-0'));
    assert.equal(plain.applicationTunnel, undefined, 'without the annotation ztunnel speaks HBONE to the waypoint');
    // istiod's debug index and its push to ztunnel are not one step: wait for the push too.
    const pushedPlain = await eventually('the waypoint instance pushed over WDS', async () => wdsWorkload('egress-0'));
    assert.equal(pushedPlain.applicationTunnel, undefined);
    await kube.kubectl(['annotate', 'gatewayclass', 'egressway', 'ambient.istio.io/waypoint-inbound-binding=PROXY/15088']);
    const sandwich = await eventually('applicationTunnel PROXY/15088', async () => {
      const w = (await ambientz()).workloads?.find((x) => x.name === 'egress-0');
      return w?.applicationTunnel ? w : undefined;
    });
    console.log(`# /debug/ambientz waypoint workload: ${JSON.stringify(sandwich)}`);
    assert.deepEqual(sandwich.applicationTunnel, { protocol: 'PROXY', port: 15088 });
    const pushed = await eventually('applicationTunnel over WDS', async () => wdsWorkload('egress-0')?.applicationTunnel ? wdsWorkload('egress-0') : undefined);
    console.log(`# WDS workload pushed to ztunnel: ${JSON.stringify(pushed)}`);
    assert.deepEqual(pushed.applicationTunnel, { protocol: 'PROXY', port: 15088 });
    // The binding also moves attachment to the PROXY listener; the service stays bound.
    assert.equal((await condition('httpbin'))?.status, 'True');
  });
});
