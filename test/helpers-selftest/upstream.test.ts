import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { issueCert, makeCa } from '../helpers/certs.ts';
import { closeAfter } from '../helpers/lifecycle.ts';
import {
  bytesPayload, sha256, startHttpsUpstream, startHttpUpstream, startTcpEcho, startTlsEcho,
} from '../helpers/upstream.ts';
import type { EchoBody, RouteHandler } from '../helpers/upstream.ts';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface RequestOptions {
  method?: string;
  body?: Buffer | string;
  agent?: Agent | false;
  tls?: { ca: string; servername?: string; cert?: string; key?: string; ALPNProtocols?: string[] };
}

/** A plain node:http(s) request; rejects with the socket error for /reset and friends. */
function send(url: string, opts: RequestOptions = {}): Promise<Reply> {
  const request = opts.tls ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', agent: opts.agent ?? false, ...opts.tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function echoOf(reply: Reply): EchoBody {
  return JSON.parse(reply.body.toString('utf8')) as EchoBody;
}

/** Writes `data` and resolves with what came back once `done` says it is all there. */
function exchange(
  socket: Socket,
  data: string,
  done = (received: string) => received.length >= data.length,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('latin1');
      if (!done(received)) return;
      socket.off('data', onData);
      resolve(received);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(data);
  });
}

describe('startHttpUpstream', () => {
  test('echoes the request it received as JSON', async (t) => {
    const upstream = closeAfter(t, await startHttpUpstream({ name: 'alpha' }));
    const body = 'hello upstream';
    const reply = await send(`${upstream.url}/anything?x=1`, { method: 'POST', body });
    assert.equal(reply.status, 200);
    const echo = echoOf(reply);
    assert.equal(echo.upstream, 'alpha');
    assert.equal(echo.method, 'POST');
    assert.equal(echo.url, '/anything?x=1');
    assert.equal(echo.headers.host, upstream.authority);
    assert.equal(echo.bodyLength, body.length);
    assert.equal(echo.bodySha256, sha256(Buffer.from(body)));
    assert.equal(echo.remoteAddress, '127.0.0.1');
    assert.ok(echo.remotePort > 0);
    assert.equal(echo.tls, null);
    assert.deepEqual(upstream.received, [echo]);
  });

  test('/status/N answers N, with no body for 204', async (t) => {
    const upstream = closeAfter(t, await startHttpUpstream());
    assert.equal((await send(`${upstream.url}/status/503`)).status, 503);
    const noContent = await send(`${upstream.url}/status/204`);
    assert.equal(noContent.status, 204);
    assert.equal(noContent.body.length, 0);
    assert.equal((await send(`${upstream.url}/status/42`)).status, 400);
  });

  test('/delay/MS holds the response for about MS', async (t) => {
    const upstream = closeAfter(t, await startHttpUpstream());
    const started = performance.now();
    assert.equal((await send(`${upstream.url}/delay/150`)).status, 200);
    assert.ok(performance.now() - started >= 140);
  });

  test('/bytes/N streams the deterministic payload, with or without content-length', async (t) => {
    const upstream = closeAfter(t, await startHttpUpstream());
    const size = 300_000;
    const fixed = await send(`${upstream.url}/bytes/${size}`);
    assert.equal(fixed.headers['content-length'], String(size));
    assert.equal(sha256(fixed.body), sha256(bytesPayload(size)));
    const chunked = await send(`${upstream.url}/bytes/${size}?chunked=1`);
    assert.equal(chunked.headers['transfer-encoding'], 'chunked');
    assert.equal(chunked.body.length, size);
  });

  test('/reset resets the connection before any response', async (t) => {
    const upstream = closeAfter(t, await startHttpUpstream());
    await assert.rejects(send(`${upstream.url}/reset`), { code: 'ECONNRESET' });
    await assert.rejects(send(`${upstream.url}/close`), { code: 'ECONNRESET', message: 'socket hang up' });
    assert.equal(upstream.stats.paths.get('/reset'), 1);
  });

  test('/close-mid-body sends headers and part of the body, then drops the connection', async (t) => {
    const upstream = closeAfter(t, await startHttpUpstream());
    const outcome = await new Promise<{ status: number; received: number; error: string }>((resolve) => {
      httpRequest(`${upstream.url}/close-mid-body`, { agent: false }, (res) => {
        let received = 0;
        res.on('data', (chunk: Buffer) => void (received += chunk.length));
        res.on('error', (err: Error) => resolve({ status: res.statusCode ?? 0, received, error: err.message }));
      }).end();
    });
    assert.equal(outcome.status, 200);
    assert.equal(outcome.received, 1024);
    assert.equal(outcome.error, 'aborted');
  });

  test('/drip writes one chunk per interval', async (t) => {
    const upstream = closeAfter(t, await startHttpUpstream());
    const started = performance.now();
    const reply = await send(`${upstream.url}/drip?chunks=4&intervalMs=40&size=8`);
    assert.equal(reply.body.toString(), 'x'.repeat(32));
    assert.ok(performance.now() - started >= 150);
  });

  test('/ws answers an Upgrade with 101 and echoes bytes, including those sent with the request', async (t) => {
    const upstream = closeAfter(t, await startHttpUpstream());
    const socket = connect({ host: upstream.host, port: upstream.port });
    t.after(() => socket.destroy());
    const head = 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n'
      + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nearly';
    const handshake = await exchange(socket, head, (received) => received.endsWith('\r\n\r\nearly'));
    assert.match(handshake, /^HTTP\/1\.1 101 /);
    assert.match(handshake, /sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
    assert.equal(await exchange(socket, 'ping'), 'ping');
    assert.equal(upstream.stats.upgrades, 1);
  });

  test('counts requests per path and connections, showing keep-alive reuse', async (t) => {
    const upstream = closeAfter(t, await startHttpUpstream());
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    for (let i = 0; i < 3; i++) await send(`${upstream.url}/a?i=${i}`, { agent });
    await send(`${upstream.url}/b`, { agent });
    assert.equal(upstream.stats.requests, 4);
    assert.equal(upstream.stats.connections, 1);
    assert.equal(upstream.stats.paths.get('/a'), 3);
    assert.equal(upstream.stats.paths.get('/b'), 1);
    const paths = upstream.stats.paths;
    upstream.resetStats();
    assert.equal(paths.size, 0);
    assert.equal(upstream.received.length, 0);
  });

  test('custom routes take precedence over built-in behaviours', async (t) => {
    const routes: Record<string, RouteHandler> = { '/status/200': ({ res }) => void res.writeHead(418).end() };
    const upstream = closeAfter(t, await startHttpUpstream({ routes }));
    assert.equal((await send(`${upstream.url}/status/200`)).status, 418);
  });

  test('listens on ::1 when asked', async (t) => {
    const upstream = closeAfter(t, await startHttpUpstream({ host: '::1' }));
    assert.match(upstream.url, /^http:\/\/\[::1\]:\d+$/);
    assert.equal(echoOf(await send(`${upstream.url}/`)).remoteAddress, '::1');
  });

  test('close() returns promptly with a keep-alive connection still open', async () => {
    const upstream = await startHttpUpstream();
    const agent = new Agent({ keepAlive: true });
    await send(`${upstream.url}/`, { agent });
    const started = performance.now();
    await upstream.close();
    agent.destroy();
    assert.ok(performance.now() - started < 1000);
  });
});

describe('startHttpsUpstream', () => {
  test('reports SNI, ALPN and the verified client certificate', async (t) => {
    const ca = await makeCa();
    const server = await issueCert(ca, { dnsNames: ['secure.test'] });
    const client = await issueCert(ca, { uris: ['spiffe://cluster.local/ns/a/sa/b'], isClient: true, commonName: 'b' });
    const upstream = closeAfter(t, await startHttpsUpstream({ ...server, ca: ca.trust, requestCert: true }));
    assert.match(upstream.url, /^https:\/\//);
    const tls = { ...client, ca: ca.trust, servername: 'secure.test', ALPNProtocols: ['h2', 'http/1.1'] };
    const echo = echoOf(await send(`${upstream.url}/`, { tls }));
    assert.equal(echo.tls?.servername, 'secure.test');
    assert.equal(echo.tls?.alpnProtocol, 'http/1.1');
    assert.equal(echo.tls?.authorized, true);
    assert.equal(echo.tls?.clientCert?.subject, 'CN=b');
    assert.equal(echo.tls?.clientCert?.subjectAltName, 'URI:spiffe://cluster.local/ns/a/sa/b');
  });

  test('without a client certificate the echo says so', async (t) => {
    const ca = await makeCa();
    const upstream = closeAfter(t, await startHttpsUpstream(await issueCert(ca, { dnsNames: ['plain.test'] })));
    const echo = echoOf(await send(`${upstream.url}/`, { tls: { ca: ca.trust, servername: 'plain.test' } }));
    assert.equal(echo.tls?.clientCert, null);
    assert.match(echo.tls?.protocol ?? '', /^TLSv1\.[23]$/);
  });
});

describe('echo servers', () => {
  test('startTcpEcho echoes bytes and counts them', async (t) => {
    const echo = closeAfter(t, await startTcpEcho());
    const socket = connect({ host: echo.host, port: echo.port });
    t.after(() => socket.destroy());
    assert.equal(await exchange(socket, 'raw bytes'), 'raw bytes');
    assert.deepEqual(echo.stats, { connections: 1, bytes: 9 });
  });

  test('startTlsEcho echoes over TLS', async (t) => {
    const ca = await makeCa();
    const echo = closeAfter(t, await startTlsEcho(await issueCert(ca, { dnsNames: ['echo.test'] })));
    const socket = tlsConnect({ host: echo.host, port: echo.port, ca: ca.trust, servername: 'echo.test' });
    t.after(() => socket.destroy());
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    assert.equal(await exchange(socket, 'secret'), 'secret');
  });
});
