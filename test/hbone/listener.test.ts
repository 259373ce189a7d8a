// The waypoint's HBONE listener driven by node:http2: classic CONNECT to a TCP port (bytes echo)
// and to an HTTP port (HTTP/1.1 inside the tunnel, through the same pipeline as 15001), Istio's
// refusals, identity from the peer certificate, and baggage/forwarded into the record.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { connectStream, h2Session, startMesh, type Mesh } from './fixture.ts';

describe('HBONE listener', () => {
  let m: Mesh;
  const pem = async (who: string) => ({ cert: await readFile(m.pki.files[who]!.cert, 'utf8'), key: await readFile(m.pki.files[who]!.key, 'utf8'), ca: m.pki.ca.cert });

  before(async () => {
    m = await startMesh();
  });
  after(async () => m?.close());

  test('CONNECT to a TCP port: 200, then bytes both ways', async () => {
    const s = await h2Session(m.hbonePort, await pem('cart'));
    const { status, stream } = await connectStream(s, 'raw.test:9000');
    assert.equal(status, 200);
    stream.write('ping');
    const got = await new Promise<string>((r) => stream.once('data', (d: Buffer) => r(d.toString())));
    assert.equal(got, 'ping');
    stream.end();
    const rec = await m.wp.nextRecord((r) => r.authority === 'raw.test:9000');
    assert.equal(rec.sourcePrincipal, 'spiffe://cluster.local/ns/shop/sa/cart');
    assert.equal(rec.connectionSecurityPolicy, 'mutual_tls');
    s.close();
  });

  test('CONNECT to an HTTP port: the HTTP/1.1 request inside reaches the upstream', async () => {
    const s = await h2Session(m.hbonePort, await pem('cart'));
    const { status, stream } = await connectStream(s, 'api.test:80', {
      forwarded: 'for="10.42.0.8:40324";host=api.test', baggage: 'k8s.namespace.name=shop,k8s.deployment.name=cart',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00',
    });
    assert.equal(status, 200);
    stream.write('GET /hello HTTP/1.1\r\nhost: api.test\r\nconnection: close\r\n\r\n');
    let body = '';
    for await (const c of stream) body += c;
    assert.match(body, /^HTTP\/1\.1 200/);
    assert.match(body, /"\/hello"/);
    const rec = await m.wp.nextRecord((r) => r.path === '/hello');
    assert.equal(rec.sourcePrincipal, 'spiffe://cluster.local/ns/shop/sa/cart');
    assert.equal(rec.sourceWorkload, 'cart');
    assert.equal(rec.connectionSecurityPolicy, 'mutual_tls');
    s.close();
  });
});
