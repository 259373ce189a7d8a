// gRPC end to end: an HTTP/2 client (prior knowledge, as gRPC clients speak it) inside a CONNECT
// tunnel to a GRPC port, the waypoint forwarding over HTTP/2 with TLS origination (ALPN h2), and
// the grpc-status trailer coming back to the client and into the metrics.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { connect as h2connect, createSecureServer, type Http2SecureServer } from 'node:http2';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { issueCert, makeCa } from '../helpers/certs.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { openTunnel } from '../helpers/proxy-fetch.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';

let upstream: Http2SecureServer;
let port = 0;
let wp: InProcess;
let dir: TmpDir;
const seen: { path: string; alpn: string; body: Buffer; contentType: string }[] = [];

/** A gRPC message: 1-byte flag, 4-byte length, payload. */
const frame = (payload: string) => {
  const p = Buffer.from(payload);
  const b = Buffer.alloc(5 + p.length);
  b.writeUInt32BE(p.length, 1);
  p.copy(b, 5);
  return b;
};

before(async () => {
  const ca = await makeCa();
  const leaf = await issueCert(ca, { dnsNames: ['grpc.test'] });
  dir = await tmpDir();
  const caFile = join(dir.path, 'ca.pem');
  await writeFile(caFile, ca.cert);
  upstream = createSecureServer({ cert: leaf.cert, key: leaf.key, ALPNProtocols: ['h2'] });
  upstream.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ path: String(headers[':path']), alpn: (stream.session?.socket as { alpnProtocol?: string } | undefined)?.alpnProtocol ?? '', body, contentType: String(headers['content-type']) });
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': headers[':path'] === '/pkg.Svc/Fail' ? '14' : '0', 'grpc-message': '' }));
      stream.end(frame(`echo:${body.subarray(5).toString()}`));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  port = (upstream.address() as { port: number }).port;
  wp = await startInProcess(WAYPOINT_YAML
    + serviceEntry('grpc', `hosts: [grpc.test]\nports: [{number: 80, name: grpc, protocol: GRPC, targetPort: ${port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`)
    + `---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: grpc, namespace: istio-egress}\nspec:\n  host: grpc.test\n  trafficPolicy: {tls: {mode: SIMPLE, caCertificates: ${caFile}}}\n`);
});
after(async () => {
  await wp?.close();
  upstream?.close();
  await dir?.close();
});

async function call(path: string): Promise<{ status: number; data: Buffer; trailers: Record<string, unknown> }> {
  const t = await openTunnel(wp.proxyUrl.slice(7), 'grpc.test:80');
  assert.equal(t.status, 200);
  const session = h2connect('http://grpc.test', { createConnection: () => t.socket });
  try {
    return await new Promise((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
      let status = 0;
      const data: Buffer[] = [];
      let trailers: Record<string, unknown> = {};
      req.on('response', (h) => { status = Number(h[':status']); });
      req.on('trailers', (h) => { trailers = h; });
      req.on('data', (c: Buffer) => data.push(c));
      req.on('end', () => resolve({ status, data: Buffer.concat(data), trailers }));
      req.on('error', reject);
      req.end(frame('hello'));
    });
  } finally {
    session.close();
  }
}

test('a gRPC call goes through the tunnel over HTTP/2 with TLS origination, trailers included', async () => {
  const r = await call('/pkg.Svc/Say');
  assert.equal(r.status, 200);
  assert.equal(r.data.subarray(5).toString(), 'echo:hello');
  assert.equal(r.trailers['grpc-status'], '0');
  const up = seen.find((s) => s.path === '/pkg.Svc/Say')!;
  assert.equal(up.alpn, 'h2', 'upstream spoke HTTP/2 via ALPN');
  assert.equal(up.contentType, 'application/grpc');
  assert.equal(up.body.subarray(5).toString(), 'hello');
});

test('grpc_response_status and request_protocol="grpc" reach the metrics', async () => {
  await call('/pkg.Svc/Fail');
  const rec = await wp.nextRecord((x) => x.path === '/pkg.Svc/Fail');
  assert.equal(rec.responseCode, 200);
  const text = await (await fetch(`${wp.statsUrl}/stats/prometheus`)).text();
  assert.match(text, /istio_requests_total\{(?=[^}]*request_protocol="grpc")(?=[^}]*grpc_response_status="14")[^}]*\} 1/);
  assert.match(text, /istio_requests_total\{(?=[^}]*request_protocol="grpc")(?=[^}]*grpc_response_status="0")[^}]*\} 1/);
});
