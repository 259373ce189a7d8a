// Which ServiceEntry port protocols make the waypoint speak HTTP/2 upstream: Istio's IsHTTP2
// (pkg/config/protocol: HTTP2, GRPC and GRPC-Web), for which cluster_builder.go setUpstreamProtocol
// calls setH2Options on the waypoint's inbound-vip cluster too. In plaintext that is h2c with prior
// knowledge, so an h2c-only backend answers; an HTTP port stays HTTP/1.1.
import assert from 'node:assert/strict';
import { createServer as createH2cServer, type Http2Server } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { loopbackEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { proxyClient, type ProxyClient } from '../helpers/proxy-fetch.ts';
import { startHttpUpstream, type EchoBody, type HttpUpstream } from '../helpers/upstream.ts';

describe('HTTP/2 upstream for the HTTP2, GRPC and GRPC-Web port protocols (IsHTTP2)', () => {
  let h2c: Http2Server;
  let h1: HttpUpstream;
  let wp: InProcess;
  let client: ProxyClient;

  before(async () => {
    h2c = createH2cServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ httpVersion: req.httpVersion, url: req.url }));
    });
    await new Promise<void>((r) => h2c.listen(0, '127.0.0.1', r));
    const h2cPort = (h2c.address() as { port: number }).port;
    h1 = await startHttpUpstream({ name: 'h1' });
    wp = await startInProcess(WAYPOINT_YAML
      + loopbackEntry('web', h2cPort, { protocol: 'GRPC-Web', portName: 'grpc-web' })
      + loopbackEntry('grpc', h2cPort, { protocol: 'GRPC', portName: 'grpc' })
      + loopbackEntry('h2', h2cPort, { protocol: 'HTTP2', portName: 'http2' })
      + loopbackEntry('plain', h1.port));
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
});
