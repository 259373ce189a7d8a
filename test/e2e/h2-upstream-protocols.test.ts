// Which ServiceEntry port protocols make the waypoint speak HTTP/2 upstream: Istio's IsHTTP2
// (pkg/config/protocol: HTTP2, GRPC and GRPC-Web), for which cluster_builder.go setUpstreamProtocol
// calls setH2Options on the waypoint's inbound-vip cluster too. In plaintext that is h2c with prior
// knowledge, so an h2c-only backend answers; an HTTP port stays HTTP/1.1.
import assert from 'node:assert/strict';
import { createServer as createH2cServer, type Http2Server } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { destinationRule, loopbackEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { h2GetInTunnel, proxyClient, type ProxyClient } from '../helpers/proxy-fetch.ts';
import { rawExchange } from '../helpers/raw-client.ts';
import { startHttpUpstream, type EchoBody, type HttpUpstream } from '../helpers/upstream.ts';

describe('HTTP/2 upstream for the HTTP2, GRPC and GRPC-Web port protocols (IsHTTP2)', () => {
  let h2c: Http2Server;
  let h2cSessions = 0;
  let h1: HttpUpstream;
  let wp: InProcess;
  let client: ProxyClient;

  before(async () => {
    h2c = createH2cServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ httpVersion: req.httpVersion, url: req.url }));
    });
    h2c.on('session', () => h2cSessions++);
    await new Promise<void>((r) => h2c.listen(0, '127.0.0.1', r));
    const h2cPort = (h2c.address() as { port: number }).port;
    h1 = await startHttpUpstream({ name: 'h1' });
    wp = await startInProcess(WAYPOINT_YAML
      + loopbackEntry('web', h2cPort, { protocol: 'GRPC-Web', portName: 'grpc-web' })
      + loopbackEntry('grpc', h2cPort, { protocol: 'GRPC', portName: 'grpc' })
      + loopbackEntry('h2', h2cPort, { protocol: 'HTTP2', portName: 'http2' })
      + loopbackEntry('plain', h1.port)
      // useClientProtocol: the client's HTTP version upstream, over the port's protocol.
      + loopbackEntry('grpc-h1', h1.port, { protocol: 'GRPC', portName: 'grpc' }) + destinationRule('grpc-h1', '{connectionPool: {http: {useClientProtocol: true}}}')
      + loopbackEntry('grpc-h1-no', h1.port, { protocol: 'GRPC', portName: 'grpc' })
      + loopbackEntry('h2-capped', h2cPort, { protocol: 'HTTP2', portName: 'http2' }) + destinationRule('h2-capped', '{connectionPool: {http: {maxRequestsPerConnection: 2}}}')
      + loopbackEntry('plain-h2', h2cPort) + destinationRule('plain-h2', '{connectionPool: {http: {useClientProtocol: true}}}'));
    client = proxyClient(wp.proxyUrl, { tunnel: false });
  });
  after(async () => {
    await client?.close();
    await wp?.close();
    await h1?.close();
    await new Promise((r) => h2c?.close(r));
  });

  for (const host of ['web', 'grpc', 'h2']) {
    test(`${host}.test: an HTTP/1.1 request reaches the h2c-only backend over HTTP/2`, async () => {
      const res = await client.fetch(`http://${host}.test/x`);
      assert.equal(res.status, 200, res.text());
      assert.deepEqual(res.json(), { httpVersion: '2.0', url: '/x' });
    });
  }

  test('an HTTP port stays HTTP/1.1 upstream', async () => {
    const res = await client.fetch('http://plain.test/y');
    assert.equal(res.status, 200, res.text());
    const e = res.json<EchoBody>();
    assert.deepEqual([e.upstream, e.httpVersion], ['h1', '1.1']);
  });

  test('useClientProtocol: an HTTP/1.1 request to a GRPC port goes upstream as HTTP/1.1 (use_downstream_protocol_config)', async () => {
    const res = await client.fetch('http://grpc-h1.test/z');
    assert.equal(res.status, 200, res.text());
    assert.deepEqual([res.json<EchoBody>().upstream, res.json<EchoBody>().httpVersion], ['h1', '1.1']);
    // Without it the port's HTTP/2 applies, which this HTTP/1.1-only backend cannot speak.
    assert.notEqual((await client.fetch('http://grpc-h1-no.test/z')).status, 200);
  });

  test('useClientProtocol: a WebSocket upgrade to a GRPC port goes upstream as HTTP/1.1 and becomes a tunnel', async () => {
    const upgrades = h1.stats.upgrades;
    const r = await rawExchange(Number(new URL(wp.proxyUrl).port), [
      'GET http://grpc-h1.test/ws HTTP/1.1\r\nHost: grpc-h1.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      'ping-through-the-tunnel',
    ]);
    assert.deepEqual(r.statuses, [101]);
    assert.match(r.text, /ping-through-the-tunnel$/);
    assert.equal(h1.stats.upgrades, upgrades + 1);
  });

  test('useClientProtocol: an h2c client (in a CONNECT tunnel, as inside HBONE) on an HTTP port goes upstream as HTTP/2', async () => {
    const out = await h2GetInTunnel(wp.proxyUrl.slice('http://'.length), 'plain-h2.test:80', '/h2-client');
    assert.equal(out.tunnelStatus, 200);
    assert.equal(out.status, 200, out.text);
    assert.deepEqual(JSON.parse(out.text), { httpVersion: '2.0', url: '/h2-client' });
    // An HTTP/1.1 client of the same cluster stays HTTP/1.1 (this backend speaks only h2c: refused).
    assert.notEqual((await client.fetch('http://plain-h2.test/h1-client')).status, 200);
  });

  test('maxRequestsPerConnection on an HTTP/2 upstream: each connection carries at most N requests, then a new one is opened (Envoy drains it)', async () => {
    const before = h2cSessions;
    for (let i = 0; i < 6; i++) {
      const res = await client.fetch(`http://h2-capped.test/n${i}`);
      assert.equal(res.status, 200, res.text());
    }
    assert.equal(h2cSessions - before, 3);
    // Concurrent requests on a retiring connection finish on it.
    const all = await Promise.all(Array.from({ length: 7 }, (_, i) => client.fetch(`http://h2-capped.test/c${i}`)));
    assert.deepEqual(all.map((r) => r.status), [200, 200, 200, 200, 200, 200, 200]);
  });
});
