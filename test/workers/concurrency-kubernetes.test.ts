// `run --kubernetes --concurrency 2` against a real kube-apiserver: the primary owns the Kubernetes
// source, its credentialName Secrets and the pod-IP index; the workers get copies (their init, then
// every change). Many one-shot connections (Connection: close, so the kernel spreads them over both
// workers, read back from egressway_worker_requests_total{worker}) must all see the same state:
// - a TLS upstream that requires the client certificate from a Secret and echoes its CN, before and
//   after the Secret is rotated;
// - a plaintext client identified by its pod IP (`namespaces` in policy), until the pod is deleted;
// - a worker restarted after a crash starts with the current Secrets and pods.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { connect } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { issueCert, makeCa, type CertificateAuthority } from '../helpers/certs.ts';
import { installCrds, kubePeersMissing, secretYaml, startKube, type KubeControlPlane } from '../helpers/kube.ts';
import { authorizationPolicy, destinationRule, loopbackEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { startWaypoint, type Waypoint } from '../helpers/waypoint.ts';
import { eventually as poll } from '../helpers/eventually.ts';
import { sample } from '../helpers/exposition.ts';

const eventually = (what: string, probe: () => Promise<boolean>, timeoutMs = 20_000) => poll(what, probe, timeoutMs, 100);

const skip = kubePeersMissing();
if (skip) console.log(`# concurrency-kubernetes: ${skip}`);


/** One GET on a connection of its own, from `from`: "<status>", or "<status> <CN>" from the TLS upstream. */
function oneShot(wp: Waypoint, url: string, from = '127.0.0.1'): Promise<string> {
  const proxy = wp.listeners.proxy!;
  return new Promise((resolve, reject) => {
    const s = connect({ port: proxy.port, host: proxy.host, localAddress: from });
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => { got += d; });
    s.on('error', reject);
    s.on('close', () => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? '0';
      // The TLS upstream echoes the client certificate's CN (client-one, client-two).
      const cn = /client-[a-z]+/.exec(got.slice(got.indexOf('\r\n\r\n') + 4))?.[0];
      resolve(cn ? `${status} ${cn}` : status);
    });
    s.write(`GET ${url} HTTP/1.1\r\nHost: ${new URL(url).host}\r\nConnection: close\r\n\r\n`);
  });
}

/** `n` one-shot requests, ten at a time; the distinct answers. */
async function answers(wp: Waypoint, n: number, url: string, from?: string): Promise<string[]> {
  const out = new Set<string>();
  for (let i = 0; i < n; i += 10) for (const a of await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => oneShot(wp, url, from)))) out.add(a);
  return [...out].sort();
}

const se = (name: string, port: number) => loopbackEntry(name, port);
const dr = (name: string, tls: string) => destinationRule(name, `{tls: ${tls}}`);
const secret = secretYaml;
const pod = (ns: string, name: string) => `---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: {app: ${name}}}
spec:
  containers: [{name: app, image: example.invalid/app}]
`;

describe('run --kubernetes --concurrency 2: workers share the Secrets and pods', { skip, timeout: 300_000 }, () => {
  let kube: KubeControlPlane;
  let ca: CertificateAuthority;
  let tlsUp: Server;
  let up: HttpUpstream;
  let wp: Waypoint;
  const N = 40;
  const stats = async () => (await fetch(`${wp.listeners.stats!.url}/stats/prometheus`)).text();
  const setIp = (ns: string, name: string, ip: string) => kube.kubectl(['patch', 'pod', name, '-n', ns, '--subresource=status', '--type=merge',
    '-p', JSON.stringify({ status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } })]);
  /** Both workers served some of the requests since `before` (per-worker counters). */
  const bothServedSince = async (before: string) => {
    const now = await stats();
    for (const w of ['0', '1']) assert.ok(sample(now, 'egressway_worker_requests_total', { worker: w }) > sample(before, 'egressway_worker_requests_total', { worker: w }), `worker ${w} served some`);
  };

  before(async () => {
    kube = await startKube();
    await installCrds(kube);
    ca = await makeCa({ commonName: 'upstream root' });
    const server = await issueCert(ca, { dnsNames: ['upstream-client.test'] });
    tlsUp = createServer({ cert: server.cert, key: server.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      res.writeHead(200, { connection: 'close' }).end((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
    });
    await new Promise<void>((r) => tlsUp.listen(0, '127.0.0.1', r));
    up = await startHttpUpstream();
    for (const ns of ['istio-egress', 'shop', 'other']) await kube.kubectl(['create', 'namespace', ns]);
    const first = await issueCert(ca, { commonName: 'client-one', isClient: true });
    await kube.kubectl(['apply', '-f', '-'], WAYPOINT_YAML + secret('upstream-client', { 'tls.crt': first.cert, 'tls.key': first.key, 'ca.crt': ca.cert }, 'kubernetes.io/tls')
      + se('upstream-client', (tlsUp.address() as { port: number }).port) + dr('upstream-client', '{mode: MUTUAL, credentialName: upstream-client}')
      + loopbackEntry('by-namespace', up.port)
      + authorizationPolicy('by-namespace', 'by-namespace', 'action: ALLOW\nrules: [{from: [{source: {namespaces: ["shop"]}}]}]')
      + pod('shop', 'cart') + pod('other', 'intruder'));
    await setIp('shop', 'cart', '127.0.0.2');
    await setIp('other', 'intruder', '127.0.0.3');
    wp = await startWaypoint({
      configDir: '', env: { EGRESSWAY_TEST_HOOKS: '1' }, startTimeoutMs: 60_000,
      args: ['--kubernetes', '--kubeconfig', kube.kubeconfig, '--access-log', 'off', '--concurrency', '2', '--identify-pods-by-ip=namespaces'],
    });
  });
  after(async () => {
    await wp?.close();
    tlsUp?.close();
    await up?.close();
    await kube?.close();
  });

  test('two workers serve (no one-loop fallback)', () => {
    assert.ok(!wp.logs.some((l) => /run one event loop/.test(String(l.msg))), 'no fallback warning');
    assert.ok(wp.logs.some((l) => l.msg === 'listening' && (l as { concurrency?: number }).concurrency === 2), JSON.stringify(wp.logs.filter((l) => l.msg === 'listening')));
  });

  test('a credentialName Secret reaches both workers, and so does its rotation', async () => {
    let before = await stats();
    assert.deepEqual(await answers(wp, N, 'http://upstream-client.test/'), ['200 client-one']);
    await bothServedSince(before);
    const next = await issueCert(ca, { commonName: 'client-two', isClient: true });
    await kube.kubectl(['apply', '-f', '-'], secret('upstream-client', { 'tls.crt': next.cert, 'tls.key': next.key, 'ca.crt': ca.cert }, 'kubernetes.io/tls'));
    await eventually('client-two in use on every connection', async () => (await answers(wp, 10, 'http://upstream-client.test/')).join() === '200 client-two');
    before = await stats();
    assert.deepEqual(await answers(wp, N, 'http://upstream-client.test/'), ['200 client-two']);
    await bothServedSince(before);
  });

  test('pod-IP identity works on both workers; the index gauge is the primary\'s, once', async () => {
    const before = await stats();
    assert.deepEqual(await answers(wp, N, 'http://by-namespace.test/', '127.0.0.2'), ['200'], 'a shop pod, namespaces opted in');
    assert.deepEqual(await answers(wp, N, 'http://by-namespace.test/', '127.0.0.3'), ['403'], 'a pod of another namespace');
    await bothServedSince(before);
    const text = await stats();
    assert.equal(text.split('\n').filter((l) => l.startsWith('egressway_pod_ip_index_pods')).length, 1, 'one sample');
    assert.match(text, /^egressway_pod_ip_index_pods 2$/m);
    assert.equal(text.split('\n').filter((l) => l.startsWith('# TYPE egressway_pod_ip_index_pods')).length, 1);
  });

  test('a worker restarted after a crash starts with the current Secrets and pods; a deleted pod is gone from both', async () => {
    const from = wp.logs.length;
    process.kill(wp.pid, 'SIGUSR2'); // test hook: worker 0 throws
    await wp.waitForLog((l) => wp.logs.indexOf(l) >= from && /^worker 0 restarted/.test(String(l.msg)), 60_000);
    await eventually('ready again', async () => (await fetch(`${wp.listeners.status!.url}/healthz/ready`)).status === 200);
    let before = await stats();
    assert.deepEqual(await answers(wp, N, 'http://upstream-client.test/'), ['200 client-two']);
    assert.deepEqual(await answers(wp, N, 'http://by-namespace.test/', '127.0.0.2'), ['200']);
    await bothServedSince(before);
    await kube.kubectl(['delete', 'pod', 'cart', '-n', 'shop', '--wait=false']);
    await eventually('cart gone on every worker', async () => (await answers(wp, 10, 'http://by-namespace.test/', '127.0.0.2')).join() === '403');
    before = await stats();
    assert.deepEqual(await answers(wp, N, 'http://by-namespace.test/', '127.0.0.2'), ['403']);
    await bothServedSince(before);
    assert.match(await stats(), /^egressway_pod_ip_index_pods 1$/m);
  });
});
