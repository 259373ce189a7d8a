import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { issueCert, makeCa } from '../helpers/certs.ts';
import { closeAfter, closeServer, listenLoopback, trackSockets } from '../helpers/lifecycle.ts';
import { fetchVia, openTunnel, proxyClient } from '../helpers/proxy-fetch.ts';
import { curl, hasCurl } from '../helpers/run.ts';
import { startHttpsUpstream, startHttpUpstream, startTcpEcho } from '../helpers/upstream.ts';
import type { EchoBody } from '../helpers/upstream.ts';
import { startMiniProxy } from './fixtures/mini-proxy.ts';

describe('fetchVia', () => {
  test('tunnels an http:// request through CONNECT by default', async (t) => {
    const proxy = closeAfter(t, await startMiniProxy());
    const upstream = closeAfter(t, await startHttpUpstream());
    const response = await fetchVia(proxy.url, `${upstream.url}/status/202`, { method: 'POST', body: 'x' });
    assert.equal(response.status, 202);
    assert.equal(response.json<EchoBody>().bodyLength, 1);
    assert.deepEqual(proxy.seen, [`CONNECT ${upstream.authority}`]);
  });

  test('sends absolute-form requests when tunnel is false', async (t) => {
    const proxy = closeAfter(t, await startMiniProxy());
    const upstream = closeAfter(t, await startHttpUpstream());
    const response = await fetchVia(proxy.url, `${upstream.url}/plain`, {}, { tunnel: false });
    assert.equal(response.status, 200);
    assert.deepEqual(proxy.seen, [`GET ${upstream.url}/plain`]);
  });

  test('reaches an HTTPS upstream by name through the tunnel, verifying it with `ca`', async (t) => {
    const proxy = closeAfter(t, await startMiniProxy());
    const ca = await makeCa();
    const upstream = closeAfter(t, await startHttpsUpstream(await issueCert(ca, { dnsNames: ['secure.test'] })));
    const response = await fetchVia(proxy.url, `https://secure.test:${upstream.port}/`, {}, { ca: ca.trust });
    assert.equal(response.json<EchoBody>().tls?.servername, 'secure.test');
  });

  test('proxyClient reuses one agent across requests', async (t) => {
    const proxy = closeAfter(t, await startMiniProxy());
    const upstream = closeAfter(t, await startHttpUpstream());
    const client = closeAfter(t, proxyClient(proxy.url, { connections: 1 }));
    for (let i = 0; i < 3; i++) assert.equal((await client.fetch(`${upstream.url}/n${i}`)).status, 200);
    assert.equal(upstream.stats.requests, 3);
    assert.equal(upstream.stats.connections, 1);
    assert.deepEqual(proxy.seen, [`CONNECT ${upstream.authority}`]);
  });
});

describe('openTunnel', () => {
  test('returns the CONNECT status and a socket carrying raw bytes', async (t) => {
    const proxy = closeAfter(t, await startMiniProxy());
    const echo = closeAfter(t, await startTcpEcho());
    const tunnel = closeAfter(t, await openTunnel(proxy.authority, echo.authority));
    assert.equal(tunnel.status, 200);
    tunnel.socket.write('through the tunnel');
    const [chunk] = (await once(tunnel.socket, 'data')) as [Buffer];
    assert.equal(chunk.toString(), 'through the tunnel');
  });

  test('keeps tunnelled bytes that arrive in the same packet as the response head', async (t) => {
    const server = createServer((socket) => socket.end('HTTP/1.1 200 OK\r\n\r\nearly bytes'));
    const sockets = trackSockets(server);
    const port = await listenLoopback(server);
    t.after(() => closeServer(server, sockets));
    const tunnel = closeAfter(t, await openTunnel(`127.0.0.1:${port}`, 'x.test:80'));
    const [chunk] = (await once(tunnel.socket, 'data')) as [Buffer];
    assert.equal(chunk.toString(), 'early bytes');
  });

  test('exposes a refused CONNECT with its head', async (t) => {
    const proxy = closeAfter(t, await startMiniProxy(['blocked.test:443']));
    const headers = { 'proxy-authorization': 'Basic eDp5' };
    const tunnel = closeAfter(t, await openTunnel(proxy.authority, 'blocked.test:443', headers));
    assert.equal(tunnel.status, 403);
    assert.match(tunnel.head, /x-deny-reason: denied by test/);
  });
});

describe('curl through a proxy', { skip: !hasCurl() && 'curl is not installed' }, () => {
  test('-x sends absolute-form; --proxytunnel sends CONNECT', async (t) => {
    const proxy = closeAfter(t, await startMiniProxy());
    const upstream = closeAfter(t, await startHttpUpstream());
    assert.equal((await curl(['-x', proxy.url, `${upstream.url}/a`])).status, 200);
    assert.equal((await curl(['-x', proxy.url, '--proxytunnel', `${upstream.url}/b`])).status, 200);
    assert.deepEqual(proxy.seen, [`GET ${upstream.url}/a`, `CONNECT ${upstream.authority}`]);
  });
});
