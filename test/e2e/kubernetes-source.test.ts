// `egressway run --kubernetes` against a real kube-apiserver and etcd (built by scripts/build-peers.sh),
// with the Istio and Gateway API CRDs from their own modules and config applied by the real kubectl:
// the waypoint serves what the API server holds, applies changes and deletions, keeps serving through an
// API server restart, and keeps an object's last good version when a new one is rejected.
import assert from 'node:assert/strict';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { installCrds, kubePeersMissing, PEERS_DIR, startKube, type KubeControlPlane } from '../helpers/kube.ts';
import { authorizationPolicy, loopbackEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { fetchVia } from '../helpers/proxy-fetch.ts';
import { KubeSource } from '../../src/controlplane/kube-source.ts';
import { SnapshotStore } from '../../src/controlplane/store.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { startWaypoint, type Waypoint } from '../helpers/waypoint.ts';
import { eventually } from '../helpers/eventually.ts';

const skip = kubePeersMissing();
if (skip) console.log(`# kubernetes-source: ${skip}`);

/** Polls `probe` until it returns true; resolves with the elapsed milliseconds. */

describe('Kubernetes config source against a real API server', { skip, timeout: 300_000 }, () => {
  let kube: KubeControlPlane;
  let up: HttpUpstream;
  let wp: Waypoint;
  /** The same waypoint, but its credentials come from an exec plugin that fails while `credsDown` exists. */
  let wpExec: Waypoint;
  let credsDown: string;
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
    const token = /token: (\S+)/.exec(await readFile(kube.kubeconfig, 'utf8'))![1]!;
    credsDown = join(kube.dir, 'creds-down');
    const plugin = join(kube.dir, 'creds.sh');
    await writeFile(plugin, `#!/bin/sh\n[ -e '${credsDown}' ] && { echo 'credentials unavailable' >&2; exit 1; }\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${token}"}}'\n`);
    await chmod(plugin, 0o755);
    const execConfig = join(kube.dir, 'exec.kubeconfig');
    await writeFile(execConfig, (await readFile(kube.kubeconfig, 'utf8')).replace(/    token: \S+/, `    exec: {apiVersion: client.authentication.k8s.io/v1, command: '${plugin}', interactiveMode: Never}`));
    wpExec = await startWaypoint({ configDir: '', args: ['--kubernetes', '--kubeconfig', execConfig, '--access-log', 'off'], startTimeoutMs: 60_000 });
  });
  after(async () => {
    await wp?.close();
    await wpExec?.close();
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

  test('an unchanged warning is not logged again on every change (it blocked the event loop at scale)', async () => {
    const warning = /will deny all traffic to TCP ports under its scope/;
    const count = () => wp.logs.filter((l) => warning.test(String(l.msg)) && String(l.msg).includes('istio-egress/warned@')).length;
    const loaded = () => wp.logs.filter((l) => String(l.msg).startsWith('config loaded')).length;
    await kube.kubectl(['apply', '-f', '-'], authorizationPolicy('warned', 'httpbin', 'action: DENY\nrules: [{to: [{operation: {paths: ["/warned"]}}]}]'));
    await eventually('the warning is logged', async () => count() === 1);
    for (const path of ['/a', '/b']) {
      const before = loaded();
      await kube.kubectl(['apply', '-f', '-'], authorizationPolicy('other', 'httpbin', `action: DENY\nrules: [{to: [{operation: {paths: ["${path}"], ports: ["80"]}}]}]`));
      await eventually('the change is loaded', async () => loaded() > before);
    }
    assert.equal(count(), 1, 'logged once, not once per reload');
    await kube.kubectl(['delete', 'authorizationpolicy', 'warned', 'other', '-n', 'istio-egress']);
    await eventually('deleted', async () => (await status('/warned')) === 200);
  });

  test('an object the API server accepts but Egressway rejects keeps its last good version', async () => {
    await kube.kubectl(['apply', '-f', '-'], authorizationPolicy('deny-post', 'httpbin', 'action: DENY\nrules: [{to: [{operation: {methods: ["POST"]}}]}]'));
    await eventually('DENY POST applied', async () => (await get('http://httpbin.test/post', { method: 'POST', body: 'x' })).status === 403);
    // The CRD's schema lets this through; Istio's validation (and ours) refuses a port that is not a number.
    await kube.kubectl(['apply', '-f', '-'], authorizationPolicy('deny-post', 'httpbin', 'action: DENY\nrules: [{to: [{operation: {methods: ["POST"], ports: ["abc"]}}]}]'));
    await wp.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('AuthorizationPolicy istio-egress/deny-post@') && l.msg.includes('last good version'), 15_000);
    assert.equal((await get('http://httpbin.test/post', { method: 'POST', body: 'x' })).status, 403, 'the last good version still denies');
    // Reported on the object as an Event: one, though two waypoints (wp and wpExec) rejected it.
    const events = async (name: string) => JSON.parse(await kube.kubectl(['get', 'events', '-n', 'istio-egress', '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])).items as { reason: string; type: string; count: number; message: string; involvedObject: { kind: string; uid: string } }[];
    await eventually('an EgresswayRejected Event', async () => (await events('deny-post')).some((e) => e.reason === 'EgresswayRejected'));
    await new Promise((r) => setTimeout(r, 1_000));
    let rejected = (await events('deny-post')).filter((e) => e.reason === 'EgresswayRejected');
    assert.equal(rejected.length, 1, JSON.stringify(rejected));
    assert.equal(rejected[0]!.type, 'Warning');
    assert.equal(rejected[0]!.count, 1, 'two waypoints, one occurrence');
    assert.equal(rejected[0]!.involvedObject.kind, 'AuthorizationPolicy');
    assert.match(rejected[0]!.message, /AuthorizationPolicy istio-egress\/deny-post@\d+: .*abc.*last good version stays in force/);
    // A new version rejected for the same reason: the same Event, count 2 (a series, not a new Event).
    await kube.kubectl(['apply', '-f', '-'], authorizationPolicy('deny-post', 'httpbin', 'action: DENY\nrules: [{to: [{operation: {methods: ["POST", "PUT"], ports: ["abc"]}}]}]'));
    await eventually('count 2', async () => (await events('deny-post')).some((e) => e.reason === 'EgresswayRejected' && e.count === 2));
    await new Promise((r) => setTimeout(r, 1_000));
    rejected = (await events('deny-post')).filter((e) => e.reason === 'EgresswayRejected');
    assert.deepEqual(rejected.map((e) => e.count), [2], 'one Event, counted once per new version whichever waypoint saw it first');
    // Fixed: one Normal Event says so.
    await kube.kubectl(['apply', '-f', '-'], authorizationPolicy('deny-post', 'httpbin', 'action: DENY\nrules: [{to: [{operation: {methods: ["POST"]}}]}]'));
    await eventually('EgresswayAccepted', async () => (await events('deny-post')).some((e) => e.reason === 'EgresswayAccepted' && e.type === 'Normal'));
    // A new object whose first version is rejected has nothing to keep: it is left out, and says so.
    await kube.kubectl(['apply', '-f', '-'], authorizationPolicy('bad-first', 'httpbin', 'action: DENY\nrules: [{to: [{operation: {ports: ["abc"]}}]}]'));
    const line = await wp.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('AuthorizationPolicy istio-egress/bad-first@'), 15_000);
    assert.match(String(line.msg), /no good version yet and is left out/);
    assert.equal(await status('/get'), 200);
    await kube.kubectl(['delete', 'authorizationpolicy', 'deny-post', 'bad-first', '-n', 'istio-egress']);
    await eventually('deny-post deleted', async () => (await get('http://httpbin.test/post', { method: 'POST', body: 'x' })).status === 200);
  });

  test('closed during its first sync, the source opens no watch that outlives it', async () => {
    // The API server's own count of open watches (wp and wpExec hold theirs throughout).
    const watches = async () => (await kube.kubectl(['get', '--raw', '/metrics'])).split('\n')
      .filter((l) => l.startsWith('apiserver_longrunning_requests{') && l.includes('verb="WATCH"'))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    // Runs before the restart test, so wp's and wpExec's watches are settled.
    const before = await watches();
    assert.ok(before > 0, 'the waypoints hold watches');
    // Closed before discovery answers, and while the lists are under way, as a SIGTERM would.
    for (const ms of [0, 20, 60, 120]) {
      const source = new KubeSource(new SnapshotStore(), {
        kubeconfig: kube.kubeconfig, compile: {}, onResult: () => {}, warn: () => {},
      });
      let synced = false;
      const first = source.reload().then((r) => ((synced = true), r));
      await new Promise((r) => setTimeout(r, ms));
      const closedFirst = !synced;
      source.close();
      if (closedFirst) assert.equal((await first).ok, false, `closed after ${ms} ms: nothing is compiled from a sync that did not finish`);
      else await first;
    }
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(await watches(), before, 'every watch the closed sources opened is closed');
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
    // wpExec's credentials fail while the API server is away: its watches' reconnects cannot authenticate.
    await writeFile(credsDown, '');
    await kube.restartApiServer();
    stop = true;
    await load;
    assert.ok(during.length > 10, `only ${during.length} requests during the restart`);
    assert.deepEqual([...new Set(during)], [200], 'every request during the restart is served from the last snapshot');
    await kube.kubectl(['apply', '-f', '-'], authorizationPolicy('deny-all-get', 'httpbin', 'action: DENY\nrules: [{to: [{operation: {methods: ["GET"]}}]}]'));
    await eventually('a change after the restart', async () => (await status()) === 403, 30_000);
    // A credential failure on a watch's reconnect is that watch's failure, retried with backoff; it was an
    // unhandled rejection that left the kind's informer dead for good.
    await rm(credsDown);
    const viaExec = (await fetchVia(wpExec.proxyUrl, 'http://httpbin.test/get', {}, { tunnel: false })).status;
    assert.ok(viaExec === 200 || viaExec === 403, `wpExec still serves (${viaExec})`);
    await eventually('the change reaches the waypoint whose credentials failed', async () => (await fetchVia(wpExec.proxyUrl, 'http://httpbin.test/get', {}, { tunnel: false })).status === 403, 30_000);
    assert.doesNotMatch(wpExec.stderr, /internal error/);
    await kube.kubectl(['delete', 'authorizationpolicy', 'deny-all-get', '-n', 'istio-egress']);
    await eventually('deleted after the restart', async () => (await status()) === 200, 30_000);
  });

  test('a kind this identity may not list: the waypoint stays unready and says which RBAC rule is missing', async () => {
    await kube.kubectl(['create', 'serviceaccount', 'no-authz', '-n', 'istio-egress']);
    await kube.kubectl(['create', 'clusterrole', 'no-authz', '--verb', 'get,list,watch',
      '--resource', 'namespaces,configmaps,gateways.gateway.networking.k8s.io,gatewayclasses.gateway.networking.k8s.io,httproutes.gateway.networking.k8s.io,grpcroutes.gateway.networking.k8s.io,serviceentries.networking.istio.io,virtualservices.networking.istio.io,destinationrules.networking.istio.io']);
    await kube.kubectl(['create', 'clusterrolebinding', 'no-authz', '--clusterrole', 'no-authz', '--serviceaccount', 'istio-egress:no-authz']);
    const warnings: string[] = [];
    const source = new KubeSource(new SnapshotStore(), {
      kubeconfig: await kube.kubeconfigFor('istio-egress', 'no-authz'), compile: {}, onResult: () => {}, warn: (m) => void warnings.push(m),
    });
    let synced = false;
    const first = source.reload().then((r) => ((synced = true), r));
    try {
      await eventually('a warning about AuthorizationPolicy', async () => warnings.some((w) => w.includes('/authorizationpolicies')));
      const w = warnings.find((x) => x.includes('/authorizationpolicies'))!;
      assert.match(w, /HTTP 403/);
      assert.match(w, /stays unready/);
      assert.match(w, /grant it get, list and watch there/);
      assert.equal(synced, false, 'not ready without AuthorizationPolicies');
    } finally {
      source.close();
      await first;
    }
  });

  test('the mesh ConfigMap istio-system/istio sets outboundTrafficPolicy', async () => {
    await kube.kubectl(['create', 'namespace', 'istio-system']);
    await kube.kubectl(['create', 'configmap', 'istio', '-n', 'istio-system', '--from-literal', 'mesh=outboundTrafficPolicy: {mode: ALLOW_ANY}']);
    await eventually('ALLOW_ANY from the ConfigMap', async () => (await get(`http://127.0.0.1:${up.port}/get`)).status !== 502);
    await kube.kubectl(['delete', 'configmap', 'istio', '-n', 'istio-system']);
    await eventually('back to REGISTRY_ONLY', async () => (await get(`http://127.0.0.1:${up.port}/get`)).status === 502);
  });

  test('a CRD installed after start is watched without a restart', async () => {
    const crd = 'requestauthentications.security.istio.io';
    await kube.kubectl(['delete', 'crd', crd]);
    const warnings: string[] = [];
    const source = new KubeSource(new SnapshotStore(), {
      kubeconfig: kube.kubeconfig, compile: {}, onResult: () => {}, warn: (m) => void warnings.push(m), rediscoverMs: 200,
    });
    try {
      assert.equal((await source.reload()).ok, true);
      assert.ok(warnings.some((w) => w.startsWith('RequestAuthentication') && w.includes('not served')), warnings.join('\n'));
      await kube.kubectl(['apply', '--server-side', '-f', join(PEERS_DIR, 'crds', 'istio.yaml')]);
      await kube.kubectl(['wait', '--for', 'condition=Established', '--timeout', '60s', 'crd', crd]);
      // Rejected by Egressway (no issuer), so the log names it: proof that the new kind's objects are read.
      await kube.kubectl(['apply', '-f', '-'], 'apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: no-issuer, namespace: istio-egress}\nspec:\n  jwtRules: [{audiences: [a]}]\n');
      await eventually('the late kind\'s object is read', async () => warnings.some((w) => w.includes('RequestAuthentication istio-egress/no-issuer@')));
    } finally {
      source.close();
    }
  });
});
