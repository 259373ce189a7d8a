// --identify-pods-by-ip against a real API server: Pods created with kubectl, their status.podIP set
// through the status subresource, and clients bound to those loopback addresses (127.0.0.x). A
// plaintext client is named in telemetry (namespace, workload) with connection_security_policy "none";
// policy `principals` never matches it; `namespaces` matches it only with `=namespaces`.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { installCrds, kubePeersMissing, startKube, type KubeControlPlane } from '../helpers/kube.ts';
import { authorizationPolicy, loopbackEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { startWaypoint, type Waypoint } from '../helpers/waypoint.ts';
import { eventually } from '../helpers/eventually.ts';

const skip = kubePeersMissing();
if (skip) console.log(`# kubernetes-pod-ip: ${skip}`);


/** An absolute-form GET through the proxy from a chosen loopback source address. */
function getFrom(wp: Waypoint, from: string, url: string): Promise<number> {
  const proxy = wp.listeners.proxy!;
  return new Promise((resolve, reject) => {
    const req = request({ host: proxy.host, port: proxy.port, localAddress: from, path: url, headers: { host: new URL(url).host, connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const pod = (ns: string, name: string, sa: string, extra = '') => `---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: {app: ${name}}}
spec:
  serviceAccountName: ${sa}${extra}
  containers: [{name: app, image: example.invalid/app}]
`;

describe('--identify-pods-by-ip', { skip, timeout: 300_000 }, () => {
  let kube: KubeControlPlane;
  let up: HttpUpstream;
  let telemetryOnly: Waypoint;
  let withNamespaces: Waypoint;
  const setIp = (ns: string, name: string, ip: string) => kube.kubectl(['patch', 'pod', name, '-n', ns, '--subresource=status', '--type=merge',
    '-p', JSON.stringify({ status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } })]);

  before(async () => {
    kube = await startKube();
    await installCrds(kube);
    up = await startHttpUpstream();
    for (const ns of ['istio-egress', 'shop', 'other']) await kube.kubectl(['create', 'namespace', ns]);
    await kube.kubectl(['apply', '-f', '-'], WAYPOINT_YAML + loopbackEntry('by-principal', up.port) + loopbackEntry('by-namespace', up.port)
      + authorizationPolicy('by-principal', 'by-principal', 'action: ALLOW\nrules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/cart"]}}]}]')
      + authorizationPolicy('by-namespace', 'by-namespace', 'action: ALLOW\nrules: [{from: [{source: {namespaces: ["shop"]}}]}]')
      + pod('shop', 'cart', 'cart') + pod('other', 'intruder', 'default')
      // hostNetwork pods carry their node's IP, shared by many: never an identity.
      + pod('shop', 'node-agent', 'cart', '\n  hostNetwork: true'));
    await setIp('shop', 'cart', '127.0.0.2');
    await setIp('other', 'intruder', '127.0.0.3');
    await setIp('shop', 'node-agent', '127.0.0.4');
    const args = ['--kubernetes', '--kubeconfig', kube.kubeconfig, '--access-log', 'off'];
    telemetryOnly = await startWaypoint({ configDir: '', args: [...args, '--identify-pods-by-ip'], startTimeoutMs: 60_000 });
    withNamespaces = await startWaypoint({ configDir: '', args: [...args, '--identify-pods-by-ip=namespaces'], startTimeoutMs: 60_000 });
  });
  after(async () => {
    await telemetryOnly?.close();
    await withNamespaces?.close();
    await up?.close();
    await kube?.close();
  });

  test('principals never match a pod-IP identity; namespaces match it only with =namespaces', async () => {
    assert.equal(await getFrom(withNamespaces, '127.0.0.2', 'http://by-principal.test/'), 403, 'an IP is not a principal');
    assert.equal(await getFrom(withNamespaces, '127.0.0.2', 'http://by-namespace.test/'), 200, 'shop pod, namespaces opted in');
    assert.equal(await getFrom(withNamespaces, '127.0.0.3', 'http://by-namespace.test/'), 403, 'a pod of another namespace');
    assert.equal(await getFrom(withNamespaces, '127.0.0.4', 'http://by-namespace.test/'), 403, 'a hostNetwork pod is not identified');
    assert.equal(await getFrom(withNamespaces, '127.0.0.1', 'http://by-namespace.test/'), 403, 'no pod at this IP');
    assert.equal(await getFrom(telemetryOnly, '127.0.0.2', 'http://by-namespace.test/'), 403, 'telemetry only: policy does not see it');
  });

  test('telemetry names the pod\'s namespace and workload, with connection_security_policy="none"', async () => {
    assert.equal(await getFrom(telemetryOnly, '127.0.0.2', 'http://by-principal.test/'), 403);
    const stats = await (await fetch(`${telemetryOnly.listeners.stats!.url}/stats/prometheus`)).text();
    const line = stats.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('source_workload="cart"'));
    assert.ok(line, stats.split('\n').filter((l) => l.startsWith('istio_requests_total')).join('\n'));
    assert.match(line, /source_workload_namespace="shop"/);
    assert.match(line, /source_principal="unknown"/);
    assert.match(line, /connection_security_policy="none"/);
    assert.match(stats, /^egressway_pod_ip_index_pods 2$/m, 'cart and intruder; not the hostNetwork pod');
  });

  test('a deleted pod no longer identifies its IP', async () => {
    await kube.kubectl(['delete', 'pod', 'cart', '-n', 'shop', '--wait=false']);
    await eventually('cart gone from the index', async () => (await getFrom(withNamespaces, '127.0.0.2', 'http://by-namespace.test/')) === 403);
  });
});
