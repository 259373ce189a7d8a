// gRPC against a real gRPC stack on both ends (Python grpcio, no generated stubs): the client calls
// through the waypoint as gRPC clients do, by an HTTP CONNECT proxy (grpc.http_proxy) or inside an
// HBONE tunnel, to a GRPC port whose upstream is a grpcio server behind TLS origination (ALPN h2).
// grpc-core is strict where a Node peer is not: it refuses calls without `te: trailers`, and reads
// an immediate error only from a trailers-only response. Errors the waypoint makes itself reach
// the client as gRPC statuses, as Envoy sends them (trailers-only, grpc-status from the HTTP code).
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { issueCert, makeCa } from '../helpers/certs.ts';
import { grpcCalls, grpcioMissing, startGrpcServer, type GrpcResult, type GrpcServer } from '../helpers/grpc-peer.ts';
import { authorizationPolicy, serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { makePki, type Pki } from '../hbone/fixture.ts';

const entry = (name: string, targetPort: number) => serviceEntry(name, `hosts: [${name}.test]\nports: [{number: 80, name: grpc, protocol: GRPC, targetPort: ${targetPort}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);
const originate = (name: string, caFile: string, extra = '') => `---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ${name}, namespace: istio-egress}\nspec:\n  host: ${name}.test\n  trafficPolicy: {tls: {mode: SIMPLE, caCertificates: ${caFile}, sni: grpc.test}${extra}}\n`;

const CALLS: [string, string][] = [['Unary', 'hello'], ['Stream', '3'], ['FailNow', ''], ['FailLater', '']];
const EXPECTED: GrpcResult[] = [
  { code: 'OK', details: '', messages: ['echo:hello'] },
  { code: 'OK', details: '', messages: ['msg-0', 'msg-1', 'msg-2'] },
  // Trailers-only: one HEADERS frame with END_STREAM carries the status.
  { code: 'NOT_FOUND', details: 'no such thing', messages: [] },
  // Headers, two messages, then the status in trailers.
  { code: 'RESOURCE_EXHAUSTED', details: 'quota gone', messages: ['first', 'second'] },
];

describe('gRPC through the waypoint with grpcio on both ends', { skip: grpcioMissing }, () => {
  let dir: TmpDir;
  let pki: Pki;
  let server: GrpcServer;
  let wp: InProcess;
  let relay: Server;
  let relayPort = 0;
  let closedPort = 0;
  const sessions = new Set<ClientHttp2Session>();

  before(async () => {
    dir = await tmpDir();
    const ca = await makeCa();
    const leaf = await issueCert(ca, { dnsNames: ['grpc.test'] });
    const caFile = join(dir.path, 'ca.pem'), certFile = join(dir.path, 'leaf.pem'), keyFile = join(dir.path, 'leaf.key');
    await Promise.all([writeFile(caFile, ca.cert), writeFile(certFile, leaf.cert), writeFile(keyFile, leaf.key)]);
    server = await startGrpcServer({ certFile, keyFile });
    const spare = createServer();
    closedPort = await new Promise<number>((r) => spare.listen(0, '127.0.0.1', () => r((spare.address() as { port: number }).port)));
    await new Promise((r) => spare.close(r));
    pki = await makePki();
    wp = await startInProcess(WAYPOINT_YAML
      // One HTTP/2 connection carries every call (the pool's connection limit applies to h2 too).
      + entry('grpc', server.port) + originate('grpc', caFile, ', connectionPool: {tcp: {maxConnections: 1}}')
      + entry('grpc-denied', server.port) + originate('grpc-denied', caFile)
      + authorizationPolicy('no-grpc', 'grpc-denied', 'action: DENY\nrules: [{to: [{operation: {paths: ["/test.Echo/*"]}}]}]\n')
      + entry('grpc-down', closedPort)
      + entry('grpc-slow', server.port) + originate('grpc-slow', caFile)
      + `---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: slow, namespace: istio-egress}\nspec:\n  hosts: [grpc-slow.test]\n  http: [{timeout: 300ms, route: [{destination: {host: grpc-slow.test}}]}]\n`, {
      hbone: { port: 0, cert: pki.files.waypoint!.cert, key: pki.files.waypoint!.key, trustBundle: pki.bundle },
    });
    // HBONE side: a local port whose connections each become one HBONE CONNECT stream to
    // grpc.test:80 (what ztunnel does for a pod), presenting the cart workload's certificate.
    const hbonePort = Number(wp.wp.listeners.hbone!.split(':').pop());
    const pem = { cert: await readFile(pki.files.cart!.cert, 'utf8'), key: await readFile(pki.files.cart!.key, 'utf8'), ca: await readFile(pki.bundle, 'utf8') };
    relay = createServer((sock: Socket) => {
      const session = h2connect(`https://127.0.0.1:${hbonePort}`, { ...pem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
      sessions.add(session);
      session.on('error', () => sock.destroy());
      const stream = session.request({ ':method': 'CONNECT', ':authority': 'grpc.test:80' });
      stream.once('response', (h) => {
        if (h[':status'] !== 200) return sock.destroy();
        sock.pipe(stream).pipe(sock);
      });
      stream.on('error', () => sock.destroy());
      sock.on('error', () => stream.destroy());
      sock.once('close', () => { session.close(); sessions.delete(session); });
    });
    relayPort = await new Promise<number>((r) => relay.listen(0, '127.0.0.1', () => r((relay.address() as { port: number }).port)));
  });
  after(async () => {
    for (const s of sessions) s.destroy();
    relay?.close();
    await wp?.close();
    await server?.close();
    await pki?.dir.close();
    await dir?.close();
  });

  test('CONNECT proxy: unary, server streaming, an immediate error and an error after messages', async () => {
    assert.deepEqual(await grpcCalls({ target: 'grpc.test:80', proxy: wp.proxyUrl }, CALLS), EXPECTED);
    const rec = await wp.nextRecord((r) => r.path === '/test.Echo/FailNow');
    assert.equal(rec.responseCode, 200);
    assert.equal(rec.grpcStatus, '5');
    assert.equal(rec.responseFlags, '-');
  });

  test('HBONE tunnel: the same calls give the same results', async () => {
    assert.deepEqual(await grpcCalls({ target: `127.0.0.1:${relayPort}`, authority: 'grpc.test' }, CALLS), EXPECTED);
  });

  test('errors the waypoint makes itself are gRPC statuses: 503 UF is UNAVAILABLE, an RBAC 403 is PERMISSION_DENIED', async () => {
    const down = await grpcCalls({ target: 'grpc-down.test:80', proxy: wp.proxyUrl }, [['Unary', 'x']]);
    assert.equal(down[0]!.code, 'UNAVAILABLE');
    assert.match(down[0]!.details, /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure/);
    const denied = await grpcCalls({ target: 'grpc-denied.test:80', proxy: wp.proxyUrl }, [['Unary', 'x'], ['Stream', '2']]);
    assert.deepEqual(denied.map((d) => [d.code, d.details]), [['PERMISSION_DENIED', 'RBAC: access denied'], ['PERMISSION_DENIED', 'RBAC: access denied']]);
    // Envoy's access log and Istio's metrics see what the client saw: 200, with the grpc-status.
    const uf = await wp.nextRecord((r) => r.destinationService === 'grpc-down.test');
    assert.deepEqual([uf.responseCode, uf.grpcStatus, uf.responseFlags], [200, '14', 'UF']);
    const text = await (await fetch(`${wp.statsUrl}/stats/prometheus`)).text();
    assert.match(text, /istio_requests_total\{(?=[^}]*destination_service="grpc-down\.test")(?=[^}]*request_protocol="grpc")(?=[^}]*response_code="200")(?=[^}]*grpc_response_status="14")(?=[^}]*response_flags="UF")[^}]*\} 1/);
    assert.match(text, /istio_requests_total\{(?=[^}]*destination_service="grpc-denied\.test")(?=[^}]*response_code="200")(?=[^}]*grpc_response_status="7")[^}]*\} 2/);
  });

  test('a route timeout (504 UT) is UNAVAILABLE "upstream request timeout"', async () => {
    const [late] = await grpcCalls({ target: 'grpc-slow.test:80', proxy: wp.proxyUrl }, [['Slow', '2']]);
    assert.deepEqual([late!.code, late!.details], ['UNAVAILABLE', 'upstream request timeout (route timeout of 300 ms expired)']);
    const rec = await wp.nextRecord((r) => r.destinationService === 'grpc-slow.test');
    assert.deepEqual([rec.responseCode, rec.grpcStatus, rec.responseFlags], [200, '14', 'UT']);
  });
});
