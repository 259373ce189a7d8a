// VirtualService tls/tcp rules on TCP chains, over real sockets through every door (CONNECT on the
// proxy listener, HBONE, PROXY protocol): a tunnel to a TCP/TLS port of a.test goes to b.test's
// endpoints when a rule applies (listener_waypoint.go buildWaypointNetworkFilters), and to a.test's
// own otherwise. A tls rule applies when its sniHosts is exactly [a.test]: the waypoint does not read
// the SNI the client sends. Unit-level semantics: test/compile/tcp-routes.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { issueCert, makeCa } from '../helpers/certs.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { connectTunnel } from '../helpers/raw-client.ts';
import { startTcpEcho, startTlsEcho, type EchoServer } from '../helpers/upstream.ts';
import { connectStream, h2Session, makePki, type Pki } from '../hbone/fixture.ts';

const entry = (name: string, ports: string) => serviceEntry(JSON.stringify(name), `hosts: [${name}.test]\nports: [${ports}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);
const vs = (name: string, host: string, body: string) => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: istio-egress}
spec:
  hosts: [${host}]
${body}`;

/** Writes `text`, returns what comes back (the echo) once `text.length` bytes arrived. */
function roundTrip(s: Duplex, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) {
        s.off('data', onData);
        resolve(got);
      }
    };
    s.on('data', onData);
    s.once('close', () => reject(new Error(`closed after "${got}"`)));
    s.write(text);
  });
}

const PY = '/usr/bin/python3';
const PP_CLIENT = fileURLToPath(new URL('./proxy_v2_client.py', import.meta.url));

describe('VirtualService tls/tcp routes on TCP chains', () => {
  let echoA: EchoServer;
  let echoB: EchoServer;
  let tlsB: EchoServer;
  let pki: Pki;
  let wp: InProcess;
  let proxyPort: number;

  before(async () => {
    echoA = await startTcpEcho();
    echoB = await startTcpEcho();
    const ca = await makeCa();
    const leaf = await issueCert(ca, { dnsNames: ['b.test'] });
    tlsB = await startTlsEcho({ cert: leaf.cert, key: leaf.key });
    pki = await makePki();
    const yaml = WAYPOINT_YAML
      // a.test's own endpoints are the plain echo A, on both ports (a TLS handshake there fails).
      + entry('a', `{number: 9000, name: tcp, protocol: TCP, targetPort: ${echoA.port}}, {number: 443, name: tls, protocol: TLS, targetPort: ${echoA.port}}`)
      + entry('b', `{number: 9000, name: tcp, protocol: TCP, targetPort: ${echoB.port}}, {number: 443, name: tls, protocol: TLS, targetPort: ${tlsB.port}}`)
      + entry('n', `{number: 9000, name: tcp, protocol: TCP, targetPort: ${echoA.port}}`)
      + vs('a-to-b', 'a.test', `  tls: [{match: [{sniHosts: [a.test], port: 443}], route: [{destination: {host: b.test, port: {number: 443}}}]}]
  tcp: [{match: [{port: 9000}], route: [{destination: {host: b.test, port: {number: 9000}}}]}]
`)
      // Rules that never apply at a waypoint: another SNI, another port.
      + vs('n-nowhere', 'n.test, "*.n.test"', `  tls: [{match: [{sniHosts: [x.n.test]}], route: [{destination: {host: b.test, port: {number: 9000}}}]}]
  tcp: [{match: [{port: 9001}], route: [{destination: {host: b.test, port: {number: 9000}}}]}]
`);
    wp = await startInProcess(yaml, {
      hbone: { port: 0, cert: pki.files.waypoint!.cert, key: pki.files.waypoint!.key, trustBundle: pki.bundle },
      proxyProtocol: { port: 0 },
    });
    proxyPort = Number(wp.wp.listeners.proxy.split(':').pop());
  });
  type VsStatus = { resource: string; tcp?: { cluster: string; rule: string; to: string[] }[]; ignored: { cluster: string; reason: string }[] };
  const dump = async () => {
    const body = await (await fetch(`${wp.adminUrl}/config_dump`)).json() as { snapshot: { routeStatus: { virtualServices: VsStatus[] } } };
    return new Map(body.snapshot.routeStatus.virtualServices.map((v) => [v.resource, v]));
  };
  after(async () => {
    await wp?.close();
    await Promise.all([echoA?.close(), echoB?.close(), tlsB?.close()]);
    await pki?.dir.close();
  });

  test('CONNECT to a TCP port: the tcp rule sends the tunnel to b.test, logged and counted as b.test', async () => {
    const [a, b] = [echoA.stats.connections, echoB.stats.connections];
    const s = await connectTunnel(proxyPort, 'a.test:9000');
    assert.equal(await roundTrip(s, 'over connect'), 'over connect');
    s.end();
    assert.equal(echoB.stats.connections, b + 1);
    assert.equal(echoA.stats.connections, a);
    const rec = await wp.nextRecord((r) => r.authority === 'a.test:9000' && r.method === 'CONNECT');
    assert.equal(rec.upstreamCluster, 'inbound-vip|9000|tcp|b.test');
    assert.equal(rec.destinationService, 'b.test');
    assert.equal(rec.destinationServiceNamespace, 'istio-egress');
    const stats = await (await fetch(`${wp.statsUrl}/stats/prometheus`)).text();
    assert.match(stats, /istio_tcp_connections_opened_total\{[^}]*destination_service="b\.test"/);
  });

  test('CONNECT to a TLS port: the tls rule (sniHosts [a.test]) applies whatever SNI the client sends', async () => {
    const before = tlsB.stats.connections;
    const s = await connectTunnel(proxyPort, 'a.test:443');
    const t = tlsConnect({ socket: s, servername: 'client-picked.example', rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      t.once('secureConnect', resolve);
      t.once('error', reject);
    });
    assert.equal(await roundTrip(t, 'over tls'), 'over tls');
    t.end();
    assert.equal(tlsB.stats.connections, before + 1);
    const rec = await wp.nextRecord((r) => r.authority === 'a.test:443');
    assert.equal(rec.upstreamCluster, 'inbound-vip|443|tcp|b.test');
  });

  test('no rule that applies: the tunnel keeps the ServiceEntry\'s own endpoints, and /config_dump says why', async () => {
    const [a, b] = [echoA.stats.connections, echoB.stats.connections];
    const s = await connectTunnel(proxyPort, 'n.test:9000');
    assert.equal(await roundTrip(s, 'own endpoints'), 'own endpoints');
    s.end();
    assert.equal(echoA.stats.connections, a + 1);
    assert.equal(echoB.stats.connections, b);
    const rec = await wp.nextRecord((r) => r.authority === 'n.test:9000');
    assert.equal(rec.upstreamCluster, 'inbound-vip|9000|tcp|n.test');
    assert.equal(rec.destinationService, 'n.test');
    const n = (await dump()).get('VirtualService/istio-egress/n-nowhere')!;
    assert.deepEqual(n.tcp, []);
    assert.match(n.ignored.find((i) => i.cluster === 'inbound-vip|9000|tcp|n.test')!.reason, /no tls\/tcp rule applies to port 9000 of n\.test.*sniHosts must be exactly \[n\.test\]/);
  });

  test('HBONE takes the same route', async () => {
    const b = echoB.stats.connections;
    const pem = { cert: await readFile(pki.files.cart!.cert, 'utf8'), key: await readFile(pki.files.cart!.key, 'utf8'), ca: pki.ca.cert };
    const s = await h2Session(Number(wp.wp.listeners.hbone!.split(':').pop()), pem);
    const { status, stream } = await connectStream(s, 'a.test:9000');
    assert.equal(status, 200);
    assert.equal(await roundTrip(stream, 'over hbone'), 'over hbone');
    stream.end();
    s.close();
    assert.equal(echoB.stats.connections, b + 1);
  });

  test('the PROXY protocol door takes the same route', async () => {
    const b = echoB.stats.connections;
    const port = Number(wp.wp.listeners.proxyProtocol!.split(':').pop());
    const out = await new Promise<string>((resolve, reject) => {
      execFile(PY, [PP_CLIENT, '--port', String(port), '--identity', 'spiffe://cluster.local/ns/shop/sa/cart', '--hostname', 'a.test', '--dst', '240.240.0.9:9000', '--send', 'over proxy v2', '--half-close'],
        { timeout: 15_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    assert.equal((JSON.parse(out) as { data: string }).data, 'over proxy v2');
    assert.equal(echoB.stats.connections, b + 1);
  });

  test('/config_dump shows which rule routes which TCP chain', async () => {
    assert.deepEqual((await dump()).get('VirtualService/istio-egress/a-to-b')!.tcp, [
      { cluster: 'inbound-vip|443|tcp|a.test', rule: 'tls[0]', to: ['inbound-vip|443|tcp|b.test'] },
      { cluster: 'inbound-vip|9000|tcp|a.test', rule: 'tcp[0]', to: ['inbound-vip|9000|tcp|b.test'] },
    ]);
  });
});
