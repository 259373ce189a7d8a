// The HTTP/CONNECT listener end to end: real curl, real fetch through a proxy agent, real
// upstream HTTP and TLS servers on loopback.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCert, makeCa } from '../helpers/certs.ts';
import { curl } from '../helpers/curl.ts';
import { fetchVia, openTunnel } from '../helpers/proxy-fetch.ts';
import { startHttpsUpstream, startHttpUpstream, type EchoBody, type HttpUpstream } from '../helpers/upstream.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';

describe('proxy listener', () => {
  let up: HttpUpstream;
  let tlsUp: HttpUpstream;
  let wp: InProcess;
  let caFile: string;

  before(async () => {
    const ca = await makeCa();
    const leaf = await issueCert(ca, { dnsNames: ['secure.test'] });
    caFile = join(await mkdtemp(join(tmpdir(), 'egw-ca-')), 'ca.pem');
    await writeFile(caFile, ca.cert);
    up = await startHttpUpstream({ name: 'plain' });
    tlsUp = await startHttpsUpstream({ name: 'tls', cert: leaf.cert, key: leaf.key });
    wp = await startInProcess(WAYPOINT_YAML
      + serviceEntry('api', `
hosts: [api.test]
ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}]
resolution: STATIC
endpoints: [{address: 127.0.0.1}]`)
      + serviceEntry('secure', `
hosts: [secure.test]
ports: [{number: 443, name: tls, protocol: TLS, targetPort: ${tlsUp.port}}]
resolution: STATIC
endpoints: [{address: 127.0.0.1}]`));
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    await tlsUp?.close();
  });

  test('curl -x sends an absolute-form request through the waypoint to the targetPort', async () => {
    const r = await curl(['-x', wp.proxyUrl, 'http://api.test/get?x=1']);
    assert.equal(r.status, 200, r.stderr);
    const echo = JSON.parse(r.stdout) as EchoBody;
    assert.equal(echo.url, '/get?x=1');
    assert.equal(echo.headers.host, 'api.test');
    assert.match(String(echo.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    const rec = await wp.nextRecord((x) => x.path === '/get?x=1');
    assert.equal(rec.upstreamCluster, `inbound-vip|80|http|api.test`);
    assert.equal(rec.upstreamHost, `127.0.0.1:${up.port}`);
    assert.equal(rec.responseFlags, '-');
    assert.equal(rec.responseCodeDetails, 'via_upstream');
    assert.equal(rec.destinationService, 'api.test');
  });

  test('origin-form requests are routed by Host (transparent redirection)', async () => {
    const [host, port] = wp.proxyUrl.slice(7).split(':');
    const r = await curl([`http://${host}:${port}/origin`, '-H', 'Host: api.test']);
    assert.equal(r.status, 200, r.stderr);
    assert.equal((JSON.parse(r.stdout) as EchoBody).url, '/origin');
  });

  test('curl https:// goes through a CONNECT tunnel to a TLS port and verifies the upstream', async () => {
    const r = await curl(['-x', wp.proxyUrl, '--cacert', caFile, 'https://secure.test/tls']);
    assert.equal(r.status, 200, r.stderr);
    const echo = JSON.parse(r.stdout) as EchoBody;
    assert.equal(echo.tls?.servername, 'secure.test');
    const rec = await wp.nextRecord((x) => x.method === 'CONNECT' && x.authority === 'secure.test:443');
    assert.equal(rec.protocolKind, 'tcp');
    assert.equal(rec.responseCode, 200);
    assert.equal(rec.upstreamCluster, 'inbound-vip|443|tcp|secure.test');
    assert.ok(rec.bytesSent > 0 && rec.bytesReceived > 0);
  });

  test('Node fetch with a proxy agent works, keeps the connection alive and streams bodies both ways', async () => {
    up.resetStats();
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const r1 = await fetchVia(wp.proxyUrl, 'http://api.test/post', { method: 'POST', body });
    assert.equal(r1.status, 200);
    const echo = JSON.parse(r1.text()) as EchoBody;
    assert.equal(echo.bodyLength, body.length);
    const r2 = await fetchVia(wp.proxyUrl, 'http://api.test/bytes/2000000');
    assert.equal(r2.status, 200);
    assert.equal(r2.body.length, 2_000_000);
    const rec = await wp.nextRecord((x) => x.path === '/bytes/2000000');
    assert.equal(rec.bytesSent, 2_000_000);
    const post = await wp.nextRecord((x) => x.path === '/post');
    assert.equal(post.bytesReceived, body.length);
    // undici pools upstream connections: the two requests reuse one kept-alive connection.
    assert.ok(up.stats.connections <= 1, `${up.stats.connections} new upstream connections`);
  });

  test('hop-by-hop headers are removed and x-request-id is kept when the client sends one', async () => {
    const r = await curl(['-x', wp.proxyUrl, 'http://api.test/h', '-H', 'Connection: keep-alive, x-secret',
      '-H', 'x-secret: 1', '-H', 'Proxy-Authorization: Basic Zm9vOmJhcg==', '-H', 'x-request-id: abc-123', '-H', 'TE: gzip']);
    const echo = JSON.parse(r.stdout) as EchoBody;
    assert.equal(echo.headers['x-secret'], undefined);
    assert.equal(echo.headers['proxy-authorization'], undefined);
    assert.equal(echo.headers['te'], undefined);
    assert.equal(echo.headers['x-request-id'], 'abc-123');
    // TE is the exception Envoy makes: `trailers` is kept (gRPC servers require it), nothing else.
    const t = await curl(['-x', wp.proxyUrl, 'http://api.test/h', '-H', 'TE: gzip, trailers']);
    assert.equal((JSON.parse(t.stdout) as EchoBody).headers['te'], 'trailers');
  });

  test('chunked request bodies stream through and are counted', async () => {
    const r = await curl(['-x', wp.proxyUrl, 'http://api.test/chunked', '-H', 'Transfer-Encoding: chunked', '--data-binary', 'hello world']);
    assert.equal(r.status, 200, r.stderr);
    assert.equal((JSON.parse(r.stdout) as EchoBody).bodyLength, 11);
    const rec = await wp.nextRecord((x) => x.path === '/chunked');
    assert.equal(rec.bytesReceived, 11);
  });

  test('CONNECT to an HTTP port is terminated and each request inside goes through the HTTP path', async () => {
    const t = await openTunnel(wp.proxyUrl.slice(7), 'api.test:80');
    assert.equal(t.status, 200);
    t.socket.write('GET /inside HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n');
    const text = await new Promise<string>((resolve) => {
      let buf = '';
      t.socket.on('data', (c: Buffer) => { buf += c.toString(); });
      t.socket.on('close', () => resolve(buf));
    });
    assert.match(text, /^HTTP\/1\.1 200/);
    const rec = await wp.nextRecord((x) => x.path === '/inside');
    assert.equal(rec.upstreamCluster, 'inbound-vip|80|http|api.test');
  });

  test('a tunnel to an HTTP port routes by its CONNECT authority and refuses a Host naming another destination (421)', async () => {
    const t = await openTunnel(wp.proxyUrl.slice(7), 'api.test:80');
    const before = up.stats.requests;
    t.socket.write('GET /spoof HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n');
    const text = await new Promise<string>((resolve) => {
      let buf = '';
      t.socket.on('data', (c: Buffer) => { buf += c.toString(); });
      t.socket.on('close', () => resolve(buf));
    });
    assert.match(text, /^HTTP\/1\.1 421/);
    assert.equal(up.stats.requests, before, 'a fronted request must not reach the upstream');
    const rec = await wp.nextRecord((x) => x.path === '/spoof');
    assert.equal(rec.destinationService, 'api.test');
    assert.equal(rec.responseCodeDetails, 'route_not_found{host_not_tunnel_destination}');
  });

  test('a client that half-closes right after its request still gets the response', async () => {
    const [host, port] = wp.proxyUrl.slice(7).split(':');
    const s = connect({ host, port: Number(port), allowHalfOpen: true });
    await new Promise((r) => s.once('connect', r));
    s.end('GET http://api.test/half HTTP/1.1\r\nHost: api.test\r\n\r\n');
    const text = await new Promise<string>((resolve) => {
      let buf = '';
      s.on('data', (c: Buffer) => { buf += c.toString(); });
      s.on('close', () => resolve(buf));
    });
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.match(text, /"url":"\/half"/);
  });

  test('Upgrade (WebSocket) passes through both ways', async () => {
    const [host, port] = wp.proxyUrl.slice(7).split(':');
    const s = connect({ host, port: Number(port) });
    await new Promise((r) => s.once('connect', r));
    s.write('GET http://api.test/ws HTTP/1.1\r\nHost: api.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    let buf = '';
    await new Promise<void>((resolve) => {
      s.on('data', (c: Buffer) => {
        buf += c.toString('latin1');
        if (buf.includes('\r\n\r\n') && !buf.includes('ping')) s.write('ping');
        if (buf.includes('ping')) resolve();
      });
    });
    assert.match(buf, /^HTTP\/1\.1 101/);
    s.destroy();
    const rec = await wp.nextRecord((x) => x.path === '/ws');
    assert.equal(rec.responseCode, 101);
    assert.equal(rec.protocolKind, 'tcp');
  });
});
