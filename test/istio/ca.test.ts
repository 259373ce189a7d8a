// Egressway's HBONE identity from a real istiod's CA: istiod (pilot-discovery built from
// istio.io/istio) runs out of cluster against a real kube-apiserver; the waypoint CLI gets its
// certificate with a token from `kubectl create token <sa> --audience istio-ca`, serves HBONE with it
// and rotates it. Clients hold certificates from the same istiod (signed for their own service
// accounts through the same CA client) or from another CA (`egressway certs`). No mock in between.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { createKeyAndCsr } from '../../src/identity/csr.ts';
import { IstioCaClient } from '../../src/identity/istio-ca-client.ts';
import { createMeshCa, issueWorkload } from '../../src/certs/pki.ts';
import { authorizationPolicy, loopbackEntry, serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { installCrds, startKube, type KubeControlPlane } from '../helpers/kube.ts';
import { istiodMissing, startIstiod, type Istiod } from '../helpers/istiod.ts';
import { startHttpUpstream, startTcpEcho, type EchoServer, type HttpUpstream } from '../helpers/upstream.ts';
import { startWaypoint, type Waypoint } from '../helpers/waypoint.ts';
import { connectStream, h2Session } from '../hbone/fixture.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { LogCollector, type LogLine } from '../helpers/log-lines.ts';
import { spawn } from 'node:child_process';
import { REPO_ROOT } from '../helpers/waypoint.ts';

const skip = istiodMissing();
if (skip) console.log(`# istio ca: ${skip}`);

interface Pem { cert: string; key: string; ca: string }

/** Runs `egressway run` until a log line matches (it never listens while istiod refuses), then kills it. */
async function firstLogLine(configDir: string, args: string[], pred: (l: LogLine) => boolean): Promise<LogLine> {
  const child = spawn(join(REPO_ROOT, 'node_modules/.bin/node'), ['src/cli/main.ts', 'run', '--config', configDir, '--proxy-port', '0', '--admin-port', '0', '--status-port', '0', '--stats-port', '0', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const logs = new LogCollector(child.stdout!);
  try {
    return await logs.waitFor(pred, 30_000, () => `${logs.lines.map((l) => JSON.stringify(l)).join('\n')}\n${stderr}`);
  } finally {
    child.kill('SIGKILL');
  }
}

describe("HBONE identity from a real istiod's CA", { skip, timeout: 600_000 }, () => {
  let kube: KubeControlPlane;
  let istiod: Istiod;
  let dir: TmpDir;
  let up: HttpUpstream;
  let echo: EchoServer;
  let rootFile: string;
  let root: string;
  let configDir: string;
  const waypoints: Waypoint[] = [];

  const token = async (ns: string, sa: string, audience = 'istio-ca'): Promise<string> => {
    const file = join(dir.path, `${ns}-${sa}-${audience.replace(/[^a-z0-9.-]/gi, '_')}.token`);
    await writeFile(file, (await kube.kubectl(['create', 'token', sa, '-n', ns, '--audience', audience, '--duration', '1h'])).trim());
    return file;
  };
  /** A client certificate for ns/sa from istiod, through the same CA client the waypoint uses. */
  const istiodCert = async (ns: string, sa: string): Promise<Pem> => {
    const client = new IstioCaClient({ address: istiod.caAddress, serverName: istiod.serverName, rootPem: root, rootFile, tokenFile: await token(ns, sa), clusterId: 'Kubernetes' });
    try {
      const { key, csr } = await createKeyAndCsr(`spiffe://cluster.local/ns/${ns}/sa/${sa}`);
      const chain = await client.createCertificate(csr, 3600);
      return { cert: chain.slice(0, -1).join(''), key, ca: chain[chain.length - 1]! };
    } finally {
      client.close();
    }
  };
  const caArgs = (tokenFile: string, extra: string[] = []) => [
    '--hbone-port', '0', '--ca-address', istiod.caAddress, '--ca-server-name', istiod.serverName,
    '--ca-root-cert', rootFile, '--ca-token-file', tokenFile, '--pod-namespace', 'istio-egress', '--service-account', 'waypoint', ...extra,
  ];
  const hbonePort = (w: Waypoint) => w.listeners.hbone!.port;
  /**
   * One CONNECT on a new connection, described: "response 200", or how it failed. With TLS 1.3 the
   * client finishes its side of the handshake first and learns of a refused certificate on its next
   * read, so a refusal shows up as the connection closing, not as a handshake error.
   */
  const connectOutcome = (port: number, pem: Pem, authority: string) => h2Session(port, pem).then((s) => new Promise<string>((resolve) => {
    const stream = s.request({ ':method': 'CONNECT', ':authority': authority });
    stream.once('response', (h) => resolve(`response ${h[':status']}`));
    stream.once('error', (err: Error) => resolve(`stream error: ${err.message}`));
    stream.once('close', () => resolve('closed without a response'));
    s.once('error', (err: Error) => resolve(`session error: ${err.message}`));
  }).finally(() => s.destroy()), (err: Error) => `handshake error: ${err.message}`);
  /** HTTP/1.1 GET through one CONNECT stream; resolves with the status line or the CONNECT status. */
  const getVia = async (s: ClientHttp2Session, host: string, path: string): Promise<string> => {
    const { status, stream } = await connectStream(s, `${host}:80`);
    if (status !== 200) return `CONNECT ${status}`;
    stream.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    // The response head is enough; the tunnel may stay half-open after the upstream closes.
    const text = await new Promise<string>((resolve, reject) => {
      let got = '';
      stream.on('data', (c: Buffer) => {
        got += c.toString('latin1');
        if (got.includes('\r\n\r\n')) resolve(got);
      });
      stream.once('end', () => resolve(got));
      stream.once('error', reject);
    });
    stream.close();
    return text.split('\r\n')[0]!;
  };

  before(async () => {
    kube = await startKube();
    await installCrds(kube);
    dir = await tmpDir('egressway-istio-ca-');
    for (const ns of ['istio-egress', 'shop']) await kube.kubectl(['create', 'namespace', ns]);
    for (const [ns, sa] of [['istio-egress', 'waypoint'], ['shop', 'cart'], ['shop', 'web'], ['shop', 'gone']]) await kube.kubectl(['create', 'serviceaccount', sa, '-n', ns]);
    istiod = await startIstiod(kube);
    root = await istiod.rootCert('istio-egress');
    rootFile = join(dir.path, 'root-cert.pem');
    await writeFile(rootFile, root);
    up = await startHttpUpstream();
    echo = await startTcpEcho();
    configDir = join(dir.path, 'config');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(configDir);
    await writeFile(join(configDir, 'config.yaml'), WAYPOINT_YAML + loopbackEntry('payments', up.port)
      + serviceEntry('raw', `hosts: [raw.test]\nports: [{number: 9000, name: tcp, protocol: TCP, targetPort: ${echo.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`)
      + authorizationPolicy('payments', 'payments', 'action: ALLOW\nrules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/cart"]}}]}]\n'));
  });
  after(async () => {
    for (const w of waypoints) await w.close().catch(() => {});
    await istiod?.close();
    await up?.close();
    await echo?.close();
    await dir?.close();
    await kube?.close();
  });

  test('the waypoint serves HBONE with its istiod certificate; istiod-signed clients are accepted, their SPIFFE ID is source.principal; another CA is refused', { timeout: 120_000 }, async () => {
    const wp = await startWaypoint({ configDir, args: caArgs(await token('istio-egress', 'waypoint')), startTimeoutMs: 60_000 });
    waypoints.push(wp);
    const asked = wp.logs.find((l) => /requesting a certificate/.test(String(l.msg)))!;
    const issued = await wp.waitForLog((l) => l.msg === 'istiod CA: certificate issued');
    console.log(`# time to first certificate from istiod: ${Number(issued.time) - Number(asked.time)} ms (istiod start ${Math.round(istiod.startMs)} ms)`);
    // What the waypoint presents: its own SPIFFE ID, signed by istiod's root.
    const served = await new Promise<X509Certificate>((resolve, reject) => {
      const cart = istiodCert('shop', 'cart');
      void cart.then((c) => {
        const s = tlsConnect({ host: '127.0.0.1', port: hbonePort(wp), ...c, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined }, () => {
          resolve(s.getPeerX509Certificate()!);
          s.destroy();
        });
        s.once('error', reject);
      }, reject);
    });
    assert.equal(served.subjectAltName, 'URI:spiffe://cluster.local/ns/istio-egress/sa/waypoint');
    assert.ok(served.checkIssued(new X509Certificate(root)), "the waypoint's certificate is issued by istiod's root");

    const cart = await istiodCert('shop', 'cart');
    const web = await istiodCert('shop', 'web');
    assert.match(new X509Certificate(cart.cert).subjectAltName!, /spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart/);
    const cartSession = await h2Session(hbonePort(wp), { ...cart, ca: root });
    assert.match(await getVia(cartSession, 'payments.test', '/charge-cart'), /^HTTP\/1\.1 200 /);
    cartSession.close();
    const webSession = await h2Session(hbonePort(wp), { ...web, ca: root });
    assert.match(await getVia(webSession, 'payments.test', '/charge-web'), /^HTTP\/1\.1 403 /, 'the ALLOW policy names only cart: web is denied by its principal');
    webSession.close();
    const text = await (await fetch(`${wp.listeners.stats!.url}/stats/prometheus`)).text();
    assert.match(text, /istio_requests_total\{(?=[^}]*response_code="200")(?=[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart")(?=[^}]*connection_security_policy="mutual_tls")[^}]*\}/);
    assert.match(text, /istio_requests_total\{(?=[^}]*response_code="403")(?=[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web")[^}]*\}/);
    const expiry = /^egressway_identity_cert_expiry_timestamp_seconds (\S+)$/m.exec(text);
    assert.ok(expiry && Math.abs(Number(expiry[1]) * 1000 - new Date(served.validTo).getTime()) < 1000, 'expiry gauge = the served certificate notAfter');

    // Same SPIFFE ID, another CA: the TLS handshake fails.
    const rogueCa = await createMeshCa({ trustDomain: 'cluster.local' });
    const rogue = await issueWorkload(rogueCa, { namespace: 'shop', serviceAccount: 'cart' });
    const rogueTry = await connectOutcome(hbonePort(wp), { cert: rogue.cert, key: rogue.key, ca: root }, 'payments.test:80');
    console.log(`# client from another CA: ${rogueTry}`);
    assert.doesNotMatch(rogueTry, /^response/, 'a client certificate from another CA is refused');
    // And a client that trusts only the other CA does not accept the waypoint either.
    await assert.rejects(h2Session(hbonePort(wp), { ...cart, ca: rogueCa.cert }));
  });

  test('rotation: short-lived certificates from istiod are replaced several times while tunnels stay up; no request fails', { timeout: 120_000 }, async () => {
    // 8 s: rotation every ~4 s leaves a loaded CI machine seconds to get each new certificate.
    const ttlS = 8;
    const wp = await startWaypoint({ configDir, args: caArgs(await token('istio-egress', 'waypoint'), ['--cert-ttl', `${ttlS}s`]), startTimeoutMs: 60_000 });
    waypoints.push(wp);
    await wp.waitForLog((l) => l.msg === 'istiod CA: certificate issued');
    const cart = { ...(await istiodCert('shop', 'cart')), ca: root };
    // Long-lived tunnels opened before any rotation.
    const held = await h2Session(hbonePort(wp), cart);
    const tunnels = await Promise.all([1, 2, 3].map(async () => {
      const { status, stream } = await connectStream(held, 'raw.test:9000');
      assert.equal(status, 200);
      return stream;
    }));
    const echoOn = (s: typeof tunnels[number], text: string) => new Promise<string>((resolve, reject) => {
      let got = '';
      const onData = (d: Buffer) => {
        got += d.toString();
        if (got.length >= text.length) {
          s.off('data', onData);
          s.off('error', onError);
          resolve(got);
        }
      };
      const onError = (err: Error) => reject(err);
      s.on('data', onData);
      s.once('error', onError);
      s.write(text);
    });
    const serials = new Set<string>();
    let requests = 0;
    let failures = 0;
    let lastFailure = '';
    const until = Date.now() + 3 * ttlS * 1000;
    let i = 0;
    while (Date.now() < until) {
      try {
        // A new connection each round: a new handshake sees the certificate being served now.
        const s = await h2Session(hbonePort(wp), cart);
        serials.add((s.socket as import('node:tls').TLSSocket).getPeerX509Certificate()!.serialNumber);
        const line = await getVia(s, 'payments.test', `/r${i}`);
        s.close();
        if (!line.startsWith('HTTP/1.1 200')) throw new Error(line);
        for (const [n, t] of tunnels.entries()) assert.equal(await echoOn(t, `t${n}-${i}|`), `t${n}-${i}|`);
      } catch (err) {
        failures++;
        lastFailure = (err as Error).message;
      }
      requests++;
      i++;
      await new Promise((r) => setTimeout(r, 200));
    }
    const rotated = wp.logs.filter((l) => /certificate rotated/.test(String(l.msg))).length;
    const text = await (await fetch(`${wp.listeners.stats!.url}/stats/prometheus`)).text();
    const counted = Number(/^egressway_identity_cert_rotations_total (\S+)$/m.exec(text)?.[1]);
    console.log(`# rotation: ttl ${ttlS}s, ${rotated} rotations in ${3 * ttlS}s, ${serials.size} distinct served certificates, ${requests} requests, ${failures} failed`);
    assert.equal(failures, 0, `${failures} of ${requests} requests failed during rotation (${lastFailure})`);
    assert.ok(rotated >= 3, `only ${rotated} rotations in ${3 * ttlS} s`);
    assert.equal(counted, rotated, 'egressway_identity_cert_rotations_total counts the rotations');
    assert.ok(serials.size >= 3, `new handshakes saw only ${serials.size} certificates`);
    for (const [n, t] of tunnels.entries()) assert.equal(await echoOn(t, `after-${n}`), `after-${n}`, 'tunnels opened before the rotations still carry bytes');
    held.close();
  });

  test('trust-bundle update: a new root in the mounted root file is trusted for clients and a new certificate is fetched', { timeout: 120_000 }, async () => {
    const own = join(dir.path, 'root-bundle.pem');
    await writeFile(own, root);
    const args = caArgs(await token('istio-egress', 'waypoint'));
    args[args.indexOf('--ca-root-cert') + 1] = own;
    const wp = await startWaypoint({ configDir, args, startTimeoutMs: 60_000 });
    waypoints.push(wp);
    await wp.waitForLog((l) => l.msg === 'istiod CA: certificate issued');
    const otherCa = await createMeshCa({ trustDomain: 'cluster.local' });
    const other = await issueWorkload(otherCa, { namespace: 'shop', serviceAccount: 'cart' });
    const tryOther = () => connectOutcome(hbonePort(wp), { cert: other.cert, key: other.key, ca: root }, 'payments.test:80');
    const before = await tryOther();
    assert.doesNotMatch(before, /^response/, 'before the update the other root is not trusted');
    // What the kubelet does when istio-ca-root-cert gains a root (a CA migration): the file changes.
    await writeFile(own, root + otherCa.cert);
    await wp.waitForLog((l) => /mesh root changed/.test(String(l.msg)), 10_000);
    await wp.waitForLog((l) => /certificate rotated/.test(String(l.msg)), 20_000);
    const afterUpdate = await tryOther();
    console.log(`# trust bundle: client of an added root before the file changed: ${before}; after: ${afterUpdate}`);
    assert.equal(afterUpdate, 'response 200', 'a client of the added root is accepted');
  });

  test('clear one-line errors against the real istiod: wrong audience, unknown service account, wrong cluster ID, root mismatch, unreachable', { timeout: 120_000 }, async () => {
    const run = (args: string[]) => startWaypoint({ configDir, args, startTimeoutMs: 60_000 });
    const exitLine = async (args: string[]): Promise<string> => {
      const w = await run(args).then((x) => { waypoints.push(x); return x; }, (err: Error) => err);
      if (w instanceof Error) return w.message;
      throw new Error('the waypoint started');
    };
    // 1. An API-audience token: refused before istiod is asked.
    const wrongAud = await exitLine(caArgs(await token('istio-egress', 'waypoint', 'https://kubernetes.default.svc.cluster.local')));
    assert.match(wrongAud, /error: the token in \S+ has audience https:\/\/kubernetes\.default\.svc\.cluster\.local, istiod's CA accepts only istio-ca: project it with audience: istio-ca/);

    // Remote failures are retried (the pod stays unready) and each attempt logs one line.
    const firstWarn = (args: string[]) => firstLogLine(configDir, args, (l) => l.level === 40 && /istiod CA: /.test(String(l.msg)));
    // 2. A token for a service account that no longer exists: istiod's TokenReview fails.
    const goneToken = await token('shop', 'gone');
    await kube.kubectl(['delete', 'serviceaccount', 'gone', '-n', 'shop']);
    const gone = await firstWarn(caArgs(goneToken, ['--pod-namespace', 'shop', '--service-account', 'gone']));
    console.log(`# gone: ${String(gone.msg)}`);
    assert.equal(gone.kind, 'unauthenticated');
    assert.match(String(gone.msg), /istiod at \S+ refused the token in \S+ \(request authenticate failure\): the service account must exist/);
    // 3. A cluster ID istiod does not know.
    const cluster = await firstWarn(caArgs(await token('istio-egress', 'waypoint'), ['--cluster-id', 'elsewhere']));
    console.log(`# cluster: ${String(cluster.msg)}`);
    assert.equal(cluster.kind, 'unauthenticated');
    assert.match(String(cluster.msg), /--cluster-id \(elsewhere\) must be istiod's cluster ID/);
    // 4. A root that is not istiod's.
    const otherRoot = join(dir.path, 'other-root.pem');
    await writeFile(otherRoot, (await createMeshCa({ trustDomain: 'cluster.local' })).cert);
    const args = caArgs(await token('istio-egress', 'waypoint'));
    args[args.indexOf('--ca-root-cert') + 1] = otherRoot;
    const mismatch = await firstWarn(args);
    console.log(`# mismatch: ${String(mismatch.msg)}`);
    assert.equal(mismatch.kind, 'root_mismatch');
    assert.match(String(mismatch.msg), /istiod's certificate at \S+ does not chain to the root in \S+other-root\.pem .*use root-cert\.pem from the istio-ca-root-cert ConfigMap/);
    assert.doesNotMatch(String(mismatch.msg), /use-system-ca/, "node's system-CA hint does not apply to a mesh root");
    // 5. A server name istiod's certificate does not carry.
    const named = caArgs(await token('istio-egress', 'waypoint'));
    named[named.indexOf('--ca-server-name') + 1] = 'istiod.elsewhere.svc';
    const wrongName = await firstWarn(named);
    console.log(`# server name: ${String(wrongName.msg)}`);
    assert.equal(wrongName.kind, 'server_name');
    assert.match(String(wrongName.msg), /istiod's certificate at \S+ is not for the name istiod\.elsewhere\.svc .*set --ca-server-name to a name it carries/);
    // 6. Nothing listening.
    const closed = caArgs(await token('istio-egress', 'waypoint'));
    closed[closed.indexOf('--ca-address') + 1] = '127.0.0.1:1';
    const unreachable = await firstWarn(closed);
    console.log(`# unreachable: ${String(unreachable.msg)}`);
    assert.equal(unreachable.kind, 'unreachable');
    assert.match(String(unreachable.msg), /istiod at 127\.0\.0\.1:1 is unreachable \(connect ECONNREFUSED 127\.0\.0\.1:1\); check --ca-address/);
  });
});
