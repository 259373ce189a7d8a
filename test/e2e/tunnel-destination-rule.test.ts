// DestinationRule settings on TCP tunnels (a CONNECT to a TCP port of a ServiceEntry), over real
// loopback sockets. The waypoint's TCP chain is a tcp_proxy to a cluster built from the
// DestinationRule (cluster_waypoint.go: connectTimeout, tcpKeepalive, TLS origination) with the
// tcp_proxy's idle_timeout / max_downstream_connection_duration from the top-level trafficPolicy
// (listener_waypoint.go buildWaypointNetworkFilters).
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { issueCert, makeCa } from '../helpers/certs.ts';
import { destinationRule, serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { connectTunnel } from '../helpers/raw-client.ts';
import { startTcpEcho, type EchoServer } from '../helpers/upstream.ts';
import { readFile } from 'node:fs/promises';
import { connectStream, h2Session, makePki, type Pki } from '../hbone/fixture.ts';

const tcpEntry = (name: string, targetPort: number, extra = '') =>
  serviceEntry(name, `hosts: [${name}.test]\nports: [{number: 9000, name: tcp, protocol: TCP, targetPort: ${targetPort}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1${extra}}]`);

function roundTrip(s: Duplex, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.length < text.length) return;
      s.off('data', onData);
      resolve(got);
    };
    s.on('data', onData);
    s.once('close', () => reject(new Error(`closed after "${got}"`)));
    setTimeout(() => reject(new Error(`no echo within 3 s, got "${got}"`)), 3000).unref();
    s.write(text);
  });
}

/** A loopback port nothing listens on (bound, then closed): connects to it are refused. */
async function closedPort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Sends CONNECT and returns the status line, however the proxy answers. */
function connectStatus(port: number, authority: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let buf = '';
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      if (buf.includes('\r\n')) {
        s.destroy();
        resolve(buf.split('\r\n')[0]!);
      }
    });
    s.once('error', reject);
    s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

/** Time until the waypoint ends the tunnel (FIN or reset; the client socket is half-open capable). */
function closed(s: Socket): Promise<number> {
  const start = Date.now();
  return new Promise((resolve) => {
    const done = () => resolve(Date.now() - start);
    s.once('end', done);
    s.once('close', done);
  });
}

/**
 * A loopback listener (listen backlog 1) that never accepts, with its accept queue filled: the next
 * SYN is dropped and a connect to it hangs, as to an unreachable host. Node's servers always accept,
 * so Python holds the socket.
 */
async function blackHole(): Promise<{ port: number; close: () => void }> {
  const py: ChildProcess = spawn('/usr/bin/python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(1)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(600)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => py.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  const fillers: Socket[] = [];
  for (let i = 0; i < 8; i++) {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    fillers.push(s);
    const ok = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 300);
      s.once('connect', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    if (!ok) break;
  }
  return { port, close: () => { for (const s of fillers) s.destroy(); py.kill(); } };
}

describe('DestinationRule settings on TCP tunnels', () => {
  let wp: InProcess;
  let proxyPort: number;
  let echo: EchoServer;
  let hole: { port: number; close: () => void };
  let tlsServer: TlsServer;
  let tlsPort: number;
  const sniSeen: (string | false | null)[] = [];
  let dir: string;
  let pki: Pki;
  let mtlsServer: TlsServer;
  const clientCns: string[] = [];
  let refused: number;

  before(async () => {
    echo = await startTcpEcho();
    hole = await blackHole();
    const ca = await makeCa();
    const other = await makeCa();
    const leaf = await issueCert(ca, { dnsNames: ['tls-upstream.example'] });
    tlsServer = createTlsServer({ cert: leaf.cert, key: leaf.key }, (s: TLSSocket) => {
      sniSeen.push(s.servername);
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    tlsPort = (tlsServer.address() as { port: number }).port;
    // MUTUAL: a server that requires a client certificate from `ca` and echoes.
    const client = await issueCert(ca, { dnsNames: ['waypoint-client.example'], isClient: true });
    mtlsServer = createTlsServer({ cert: leaf.cert, key: leaf.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (s: TLSSocket) => {
      clientCns.push(String(s.getPeerCertificate().subjectaltname));
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    mtlsServer.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => mtlsServer.listen(0, '127.0.0.1', resolve));
    const mtlsPort = (mtlsServer.address() as { port: number }).port;
    refused = await closedPort();
    pki = await makePki();
    dir = await mkdtemp(join(tmpdir(), 'egw-tunnel-dr-'));
    await writeFile(join(dir, 'client.crt'), client.cert);
    await writeFile(join(dir, 'client.key'), client.key);
    await writeFile(join(dir, 'ca.crt'), ca.cert);
    await writeFile(join(dir, 'other.crt'), other.cert);
    const yaml = WAYPOINT_YAML
      + tcpEntry('slow', hole.port) + destinationRule('slow', '{connectionPool: {tcp: {connectTimeout: 200ms}}}')
      + tcpEntry('idle', echo.port) + destinationRule('idle', '{connectionPool: {tcp: {idleTimeout: 300ms}}}')
      + tcpEntry('dur', echo.port) + destinationRule('dur', '{connectionPool: {tcp: {maxConnectionDuration: 400ms}}}')
      + tcpEntry('ka', echo.port) + destinationRule('ka', '{connectionPool: {tcp: {tcpKeepalive: {time: 7s, interval: 3s}}}}')
      + tcpEntry('tls', tlsPort) + destinationRule('tls', `{tls: {mode: SIMPLE, sni: tls-upstream.example, caCertificates: ${join(dir, 'ca.crt')}}}`)
      + tcpEntry('badca', tlsPort) + destinationRule('badca', `{tls: {mode: SIMPLE, sni: tls-upstream.example, caCertificates: ${join(dir, 'other.crt')}}}`)
      + tcpEntry('mtls', mtlsPort) + destinationRule('mtls', `{tls: {mode: MUTUAL, caCertificates: ${join(dir, 'ca.crt')}, clientCertificate: ${join(dir, 'client.crt')}, privateKey: ${join(dir, 'client.key')}, subjectAltNames: [tls-upstream.example]}}`)
      + tcpEntry('nocert', mtlsPort) + destinationRule('nocert', `{tls: {mode: SIMPLE, caCertificates: ${join(dir, 'ca.crt')}}}`)
      + tcpEntry('nosni', tlsPort) + destinationRule('nosni', `{tls: {mode: SIMPLE, caCertificates: ${join(dir, 'ca.crt')}}}`)
      + tcpEntry('badsan', tlsPort) + destinationRule('badsan', `{tls: {mode: SIMPLE, caCertificates: ${join(dir, 'ca.crt')}, subjectAltNames: [not-it.example]}}`)
      // Two endpoints, one refusing connections: tunnel dial failures count for outlier detection.
      + serviceEntry('od', `hosts: [od.test]\nports: [{number: 9000, name: tcp, protocol: TCP}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1, ports: {tcp: ${refused}}}, {address: 127.0.0.1, ports: {tcp: ${echo.port}}}]`)
      + destinationRule('od', '{loadBalancer: {simple: ROUND_ROBIN}, outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}}')
      + serviceEntry('odall', `hosts: [odall.test]\nports: [{number: 9000, name: tcp, protocol: TCP}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1, ports: {tcp: ${refused}}}]`)
      + destinationRule('odall', '{outlierDetection: {consecutive5xxErrors: 1, baseEjectionTime: 30s, maxEjectionPercent: 100}}')
      // A tcp route to a subset: the subset's connectTimeout applies (its cluster), the top level has none.
      + tcpEntry('sub', hole.port, ', labels: {v: one}') + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: sub, namespace: istio-egress}
spec:
  host: sub.test
  subsets: [{name: one, labels: {v: one}, trafficPolicy: {connectionPool: {tcp: {connectTimeout: 200ms}}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: sub, namespace: istio-egress}
spec:
  hosts: [sub.test]
  tcp: [{route: [{destination: {host: sub.test, subset: one, port: {number: 9000}}}]}]
`;
    wp = await startInProcess(yaml, { hbone: { port: 0, cert: pki.files.waypoint!.cert, key: pki.files.waypoint!.key, trustBundle: pki.bundle } });
    proxyPort = Number(wp.wp.listeners.proxy.split(':').pop());
  });
  after(async () => {
    await wp?.close();
    hole?.close();
    await echo?.close();
    tlsServer?.close();
    mtlsServer?.close();
    await pki?.dir.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('connectTimeout 200ms: a tunnel to an upstream that never answers the SYN fails fast with UF (not after --connect-timeout 10s)', async () => {
    const start = Date.now();
    assert.match(await connectStatus(proxyPort, 'slow.test:9000'), /^HTTP\/1\.1 503/);
    const took = Date.now() - start;
    assert.ok(took >= 150 && took < 2000, `took ${took} ms`);
    const rec = await wp.nextRecord((r) => r.authority === 'slow.test:9000');
    assert.equal(rec.responseFlags, 'UF');
    assert.equal(rec.responseCodeDetails, 'upstream_reset_before_response_started{connection_timeout}');
    assert.match(rec.upstreamTransportFailureReason, /timed out after 200 ms/);
  });

  test('a VirtualService tcp route to a subset: the subset cluster\'s connectTimeout applies', async () => {
    const start = Date.now();
    assert.match(await connectStatus(proxyPort, 'sub.test:9000'), /^HTTP\/1\.1 503/);
    assert.ok(Date.now() - start < 2000, `took ${Date.now() - start} ms`);
    const rec = await wp.nextRecord((r) => r.authority === 'sub.test:9000');
    assert.equal(rec.upstreamCluster, 'inbound-vip|9000|tcp/one|sub.test');
    assert.equal(rec.responseFlags, 'UF');
  });

  test('idleTimeout 300ms: an idle tunnel is closed (tcp_proxy idle_timeout), the 1 h default does not apply', async () => {
    const s = await connectTunnel(proxyPort, 'idle.test:9000');
    assert.equal(await roundTrip(s, 'hello'), 'hello');
    const ms = await Promise.race([closed(s), new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    assert.ok(ms >= 200 && ms < 3000, `closed after ${ms} ms`);
    const rec = await wp.nextRecord((r) => r.authority === 'idle.test:9000');
    assert.equal(rec.connectionTerminationDetails, 'idle_timeout');
  });

  test('maxConnectionDuration 400ms: a busy tunnel is closed at 400 ms with flag DT', async () => {
    const s = await connectTunnel(proxyPort, 'dur.test:9000');
    s.on('data', () => {});
    const tick = setInterval(() => s.writable && s.write('x'), 50);
    const ms = await Promise.race([closed(s), new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    clearInterval(tick);
    assert.ok(ms >= 300 && ms < 3000, `closed after ${ms} ms`);
    const rec = await wp.nextRecord((r) => r.authority === 'dur.test:9000');
    assert.equal(rec.responseFlags, 'DT');
    assert.equal(rec.connectionTerminationDetails, 'max_connection_duration_reached');
    const stats = await (await fetch(`${wp.statsUrl}/stats/prometheus`)).text();
    assert.match(stats, /egressway_downstream_limit_total\{limit="tunnel_max_duration"\} 1/);
  });

  test('tcpKeepalive: the tunnel\'s upstream socket has SO_KEEPALIVE with the DestinationRule\'s time', async () => {
    const s = await connectTunnel(proxyPort, 'ka.test:9000');
    assert.equal(await roundTrip(s, 'ka'), 'ka');
    const out = await new Promise<string>((resolve, reject) => execFile('ss', ['-tnoH', 'state', 'established', 'dst', `127.0.0.1:${echo.port}`], (err, stdout) => (err ? reject(err) : resolve(stdout))));
    s.destroy();
    // ss shows the keepalive timer (counting down from 7 s) on the waypoint's connection to the echo.
    assert.match(out, /timer:\(keepalive,[0-7](\.\d+)?s?/, out);
  });

  test('tls SIMPLE: the tunnel originates TLS with the DestinationRule\'s SNI, checked against caCertificates', async () => {
    const before = sniSeen.length;
    const s = await connectTunnel(proxyPort, 'tls.test:9000');
    assert.equal(await roundTrip(s, 'plain in, TLS out'), 'plain in, TLS out');
    s.end();
    assert.deepEqual(sniSeen.slice(before), ['tls-upstream.example']);
    const rec = await wp.nextRecord((r) => r.authority === 'tls.test:9000');
    // Bytes are the client's (tcp_proxy counts the downstream connection), not the TLS records.
    assert.equal(rec.bytesReceived, 17);
    assert.equal(rec.bytesSent, 17);
    assert.equal(rec.responseFlags, '-');
  });

  test('tls SIMPLE with the wrong CA: the tunnel is refused with UF and the transport failure reason', async () => {
    assert.match(await connectStatus(proxyPort, 'badca.test:9000'), /^HTTP\/1\.1 503/);
    const rec = await wp.nextRecord((r) => r.authority === 'badca.test:9000');
    assert.equal(rec.responseFlags, 'UF');
    assert.equal(rec.responseCodeDetails, 'upstream_reset_before_response_started{connection_failure,TLS_error}');
    assert.match(rec.upstreamTransportFailureReason, /certificate verify failed: unknown CA/);
  });

  test('tls SIMPLE without sni or subjectAltNames: no SNI is sent and only the chain is checked (no Host header on a TCP chain for auto SNI / SAN validation)', async () => {
    const before = sniSeen.length;
    const s = await connectTunnel(proxyPort, 'nosni.test:9000');
    assert.equal(await roundTrip(s, 'no sni'), 'no sni');
    s.destroy();
    assert.deepEqual(sniSeen.slice(before), [false]);
  });

  test('tls SIMPLE with subjectAltNames the certificate lacks: refused with UF, SAN mismatch', async () => {
    const before = sniSeen.length;
    assert.match(await connectStatus(proxyPort, 'badsan.test:9000'), /^HTTP\/1\.1 503/);
    const rec = await wp.nextRecord((r) => r.authority === 'badsan.test:9000');
    assert.equal(rec.responseFlags, 'UF');
    assert.match(rec.upstreamTransportFailureReason, /SAN mismatch/);
    assert.equal(sniSeen.length, before); // the handshake failed on the waypoint's side
  });

  test('tls MUTUAL: the client certificate is presented, subjectAltNames checked; over HBONE, the same path', async () => {
    const before = clientCns.length;
    const pem = { cert: await readFile(pki.files.cart!.cert, 'utf8'), key: await readFile(pki.files.cart!.key, 'utf8'), ca: pki.ca.cert };
    const session = await h2Session(Number(wp.wp.listeners.hbone!.split(':').pop()), pem);
    const { status, stream } = await connectStream(session, 'mtls.test:9000');
    assert.equal(status, 200);
    assert.equal(await roundTrip(stream, 'mutual over hbone'), 'mutual over hbone');
    stream.end();
    session.close();
    assert.deepEqual(clientCns.slice(before), ['DNS:waypoint-client.example']);
  });

  test('tls SIMPLE to a server that requires a client certificate: under TLS 1.3 its alert comes after the handshake, so the opened tunnel is closed and the log names the alert', async () => {
    const s = await connectTunnel(proxyPort, 'nocert.test:9000');
    s.on('data', () => {});
    s.write('no client cert');
    const ms = await Promise.race([closed(s), new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    assert.ok(ms >= 0, 'the tunnel was not closed');
    const rec = await wp.nextRecord((r) => r.authority === 'nocert.test:9000');
    assert.match(rec.connectionTerminationDetails, /^upstream_error: .*certificate required/);
    assert.equal(rec.bytesSent, 0);
  });

  test('outlier detection counts tunnel dial failures (tcp_proxy: a refused connect is a 503 to the detector): the refusing endpoint is ejected', async () => {
    const statuses: string[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await connectStatus(proxyPort, 'od.test:9000')).split(' ')[1]!);
    // Round robin: refused, echo, refused (2nd consecutive failure: ejected), echo, then only echo.
    assert.deepEqual(statuses, ['503', '200', '503', '200', '200', '200', '200', '200']);
    const rec = await wp.nextRecord((r) => r.authority === 'od.test:9000' && r.responseCode === 503);
    assert.equal(rec.responseFlags, 'UF');
  });

  test('a tunnel to a cluster whose every endpoint is ejected is refused 503 UH', async () => {
    assert.match(await connectStatus(proxyPort, 'odall.test:9000'), /^HTTP\/1\.1 503/);
    assert.equal((await wp.nextRecord((r) => r.authority === 'odall.test:9000')).responseFlags, 'UF');
    assert.match(await connectStatus(proxyPort, 'odall.test:9000'), /^HTTP\/1\.1 503/);
    assert.equal((await wp.nextRecord((r) => r.authority === 'odall.test:9000' && r.responseFlags !== 'UF')).responseFlags, 'UH');
  });
});
