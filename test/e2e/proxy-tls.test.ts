// The TLS-wrapped proxy listener: clients present a certificate from the mesh CA, and its SPIFFE
// ID becomes the source identity in records and metrics. No or wrong certificates are refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { issueCert, makeCa, writePems } from '../helpers/certs.ts';
import { curl } from '../helpers/curl.ts';
import { startInProcess, WAYPOINT_YAML, type InProcess, loopbackEntry } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';

describe('mTLS proxy listener', () => {
  let up: HttpUpstream;
  let wp: InProcess;
  let dir: TmpDir;
  let files: Record<string, { cert: string; key: string }>;
  let proxyUrl: string;

  before(async () => {
    const ca = await makeCa({ commonName: 'mesh root' });
    const rogue = await makeCa({ commonName: 'rogue' });
    const server = await issueCert(ca, { dnsNames: ['localhost'], ips: ['127.0.0.1'] });
    const cart = await issueCert(ca, { uris: ['spiffe://cluster.local/ns/shop/sa/cart'], isClient: true });
    const plain = await issueCert(ca, { commonName: 'no-spiffe', isClient: true });
    const impostor = await issueCert(rogue, { uris: ['spiffe://cluster.local/ns/shop/sa/cart'], isClient: true });
    dir = await tmpDir();
    files = await writePems(dir.path, { ca, server, cart, plain, impostor });
    up = await startHttpUpstream();
    wp = await startInProcess(WAYPOINT_YAML + loopbackEntry('api', up.port),
      { proxyTls: { cert: server.cert, key: server.key, ca: ca.cert } });
    proxyUrl = wp.proxyUrl.replace('http://', 'https://');
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    await dir?.close();
  });

  const via = (who: string, path: string) => curl(['--proxy', proxyUrl, '--proxy-cacert', files.ca!.cert,
    ...(who ? ['--proxy-cert', files[who]!.cert, '--proxy-key', files[who]!.key] : []), `http://api.test${path}`]);

  test('a client certificate with a SPIFFE ID is the source identity', async () => {
    const r = await via('cart', '/as-cart');
    assert.equal(r.status, 200, r.stderr);
    const rec = await wp.nextRecord((x) => x.path === '/as-cart');
    assert.equal(rec.sourcePrincipal, 'spiffe://cluster.local/ns/shop/sa/cart');
    assert.equal(rec.sourceNamespace, 'shop');
    assert.equal(rec.connectionSecurityPolicy, 'mutual_tls');
    const text = await (await fetch(`${wp.statsUrl}/stats/prometheus`)).text();
    assert.match(text, /istio_requests_total\{[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart"[^}]*connection_security_policy="mutual_tls"[^}]*\} 1/);
  });

  test('a verified certificate without a SPIFFE ID is mutual_tls with no principal', async () => {
    const r = await via('plain', '/as-plain');
    assert.equal(r.status, 200, r.stderr);
    const rec = await wp.nextRecord((x) => x.path === '/as-plain');
    assert.equal(rec.sourcePrincipal, '');
    assert.equal(rec.connectionSecurityPolicy, 'mutual_tls');
  });

  test('a CONNECT to an HTTP port through the TLS listener is served request by request, with the identity (was: hung)', async () => {
    const r = await curl(['--proxy', proxyUrl, '--proxy-cacert', files.ca!.cert, '--proxy-cert', files.cart!.cert, '--proxy-key', files.cart!.key,
      '--proxytunnel', '--max-time', '10', 'http://api.test/in-tunnel']);
    assert.equal(r.status, 200, r.stderr);
    const rec = await wp.nextRecord((x) => x.path === '/in-tunnel');
    assert.equal(rec.sourcePrincipal, 'spiffe://cluster.local/ns/shop/sa/cart');
    assert.equal(rec.connectionSecurityPolicy, 'mutual_tls');
  });

  test('no client certificate, or one from another CA, is refused at the handshake', async () => {
    const none = await via('', '/none');
    assert.equal(none.status, 0);
    assert.notEqual(none.code, 0);
    const rogue = await via('impostor', '/rogue');
    assert.equal(rogue.status, 0);
    assert.notEqual(rogue.code, 0);
    assert.equal(wp.records.some((x) => x.path === '/none' || x.path === '/rogue'), false);
    const ok = await via('cart', '/after');
    assert.equal(ok.status, 200, 'the listener keeps serving others');
  });
});
