// `egressway run --kubernetes` against a real kube-apiserver and etcd (built by scripts/build-peers.sh),
// with the Istio and Gateway API CRDs from their own modules and config applied by the real kubectl:
// the waypoint serves what the API server holds, applies changes and deletions, keeps serving through an
// API server restart, and keeps an object's last good version when a new one is rejected.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { installCrds, kubePeersMissing, startKube, type KubeControlPlane } from '../helpers/kube.ts';
import { authorizationPolicy, loopbackEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { fetchVia } from '../helpers/proxy-fetch.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { startWaypoint, type Waypoint } from '../helpers/waypoint.ts';

const skip = kubePeersMissing();
if (skip) console.log(`# kubernetes-source: ${skip}`);

/** Polls `probe` until it returns true; resolves with the elapsed milliseconds. */
async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await probe().catch(() => false)) return performance.now() - start;
    if (performance.now() - start > timeoutMs) assert.fail(`${what}: not true after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Kubernetes config source against a real API server', { skip, timeout: 300_000 }, () => {
  let kube: KubeControlPlane;
  let up: HttpUpstream;
  let wp: Waypoint;
  // Absolute-form requests (HTTP_PROXY style), so a refusal is a status, not a failed CONNECT.
  const get = (url: string, init: Parameters<typeof fetchVia>[2] = {}) => fetchVia(wp.proxyUrl, url, init, { tunnel: false });
  const status = async (path = '/get') => (await get(`http://httpbin.test${path}`)).status;

  before(async () => {
    kube = await startKube();
    await installCrds(kube);
    up = await startHttpUpstream();
    await kube.kubectl(['create', 'namespace', 'istio-egress']);
    await kube.kubectl(['apply', '-f', '-'], WAYPOINT_YAML + loopbackEntry('httpbin', up.port));
    wp = await startWaypoint({ configDir: '', args: ['--kubernetes', '--kubeconfig', kube.kubeconfig, '--access-log', 'off'], startTimeoutMs: 60_000 });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    await kube?.close();
  });

  test('the ServiceEntry applied with kubectl is served once the first list is done', async () => {
    assert.equal(await status(), 200);
    assert.equal((await get('http://unknown.test/')).status, 502);
  });

  test('an AuthorizationPolicy applied with kubectl takes effect, and its deletion too', async () => {
    await kube.kubectl(['apply', '-f', '-'], authorizationPolicy('deny-admin', 'httpbin', 'action: DENY\nrules: [{to: [{operation: {paths: ["/admin"]}}]}]'));
    const applied = await eventually('DENY /admin applied', async () => (await status('/admin')) === 403);
    assert.equal(await status('/get'), 200);
    await kube.kubectl(['delete', 'authorizationpolicy', 'deny-admin', '-n', 'istio-egress']);
    const deleted = await eventually('DENY /admin deleted', async () => (await status('/admin')) === 200);
    console.log(`# kubectl apply -> effect ${applied.toFixed(0)} ms; kubectl delete -> effect ${deleted.toFixed(0)} ms`);
  });

  test('an object the API server accepts but Egressway rejects keeps its last good version', async () => {
    await kube.kubectl(['apply', '-f', '-'], authorizationPolicy('deny-post', 'httpbin', 'action: DENY\nrules: [{to: [{operation: {methods: ["POST"]}}]}]'));
    await eventually('DENY POST applied', async () => (await get('http://httpbin.test/post', { method: 'POST', body: 'x' })).status === 403);
    // The CRD's schema lets this through; Istio's validation (and ours) refuses a port that is not a number.
    await kube.kubectl(['apply', '-f', '-'], authorizationPolicy('deny-post', 'httpbin', 'action: DENY\nrules: [{to: [{operation: {methods: ["POST"], ports: ["abc"]}}]}]'));
    await wp.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('AuthorizationPolicy istio-egress/deny-post@') && l.msg.includes('last good version'), 15_000);
    assert.equal((await get('http://httpbin.test/post', { method: 'POST', body: 'x' })).status, 403, 'the last good version still denies');
    await kube.kubectl(['delete', 'authorizationpolicy', 'deny-post', '-n', 'istio-egress']);
    await eventually('deny-post deleted', async () => (await get('http://httpbin.test/post', { method: 'POST', body: 'x' })).status === 200);
  });

  test('an API server restart: traffic keeps being served, and changes made after it are picked up', async () => {
    const during: number[] = [];
    let stop = false;
    const load = (async () => {
      while (!stop) {
        during.push(await status().catch(() => 0));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await kube.restartApiServer();
    stop = true;
    await load;
    assert.ok(during.length > 10, `only ${during.length} requests during the restart`);
    assert.deepEqual([...new Set(during)], [200], 'every request during the restart is served from the last snapshot');
    await kube.kubectl(['apply', '-f', '-'], authorizationPolicy('deny-all-get', 'httpbin', 'action: DENY\nrules: [{to: [{operation: {methods: ["GET"]}}]}]'));
    await eventually('a change after the restart', async () => (await status()) === 403, 30_000);
    await kube.kubectl(['delete', 'authorizationpolicy', 'deny-all-get', '-n', 'istio-egress']);
    await eventually('deleted after the restart', async () => (await status()) === 200, 30_000);
  });

  test('the mesh ConfigMap istio-system/istio sets outboundTrafficPolicy', async () => {
    await kube.kubectl(['create', 'namespace', 'istio-system']);
    await kube.kubectl(['create', 'configmap', 'istio', '-n', 'istio-system', '--from-literal', 'mesh=outboundTrafficPolicy: {mode: ALLOW_ANY}']);
    await eventually('ALLOW_ANY from the ConfigMap', async () => (await get(`http://127.0.0.1:${up.port}/get`)).status !== 502);
    await kube.kubectl(['delete', 'configmap', 'istio', '-n', 'istio-system']);
    await eventually('back to REGISTRY_ONLY', async () => (await get(`http://127.0.0.1:${up.port}/get`)).status === 502);
  });
});
