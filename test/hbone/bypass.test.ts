// Issue 11 through the HBONE listener: an HTTP/1.1 request inside an HBONE CONNECT stream takes the
// same admission path as on 15001 (normalise -> route -> upgrade check -> authorize), so the
// Upgrade tricks and domain fronting refused there are refused here too.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { ClientHttp2Session } from 'node:http2';
import { after, before, beforeEach, describe, test } from 'node:test';
import { connectStream, h2Session, policy, startMesh, type Mesh } from './fixture.ts';

describe('HBONE: no request escapes policy', () => {
  let m: Mesh;
  let s: ClientHttp2Session;

  before(async () => {
    m = await startMesh(policy('api-deny', 'api', 'action: DENY\nrules: [{to: [{operation: {paths: ["/admin"]}}]}]\n'));
    const pem = { cert: await readFile(m.pki.files.cart!.cert, 'utf8'), key: await readFile(m.pki.files.cart!.key, 'utf8'), ca: m.pki.ca.cert };
    s = await h2Session(m.hbonePort, pem);
  });
  after(async () => {
    s?.close();
    await m?.close();
  });
  beforeEach(() => m.up.resetStats());

  /** One HTTP/1.1 request inside a new HBONE stream to api.test:80; resolves with the answer. */
  async function inside(request: string): Promise<string> {
    const { status, stream } = await connectStream(s, 'api.test:80');
    assert.equal(status, 200);
    stream.write(request);
    return new Promise((resolve) => {
      let text = '';
      stream.on('data', (d: Buffer) => { text += d.toString('latin1'); });
      const done = () => resolve(text);
      stream.once('end', done);
      stream.once('close', done);
      setTimeout(() => stream.close(), 1500).unref();
    });
  }

  test('an Upgrade with a dot-segment path is normalised and denied like the plain request', async () => {
    const text = await inside('GET /./admin HTTP/1.1\r\nHost: api.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 403 /);
    assert.equal(m.up.stats.requests, 0);
    assert.equal(m.up.stats.upgrades, 0);
  });

  test('an Upgrade to a protocol that is not enabled is 403 upgrade_failed, never switched', async () => {
    const text = await inside('GET /ws HTTP/1.1\r\nHost: api.test\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 403 /);
    assert.match(text, /x-egressway-details: upgrade_failed/);
    assert.equal(m.up.stats.upgrades, 0);
  });

  test('a WebSocket upgrade that policy allows switches on the upstream\'s 101', async () => {
    const text = await inside('GET /ws HTTP/1.1\r\nHost: api.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 101 /);
    assert.equal(m.up.stats.upgrades, 1);
    const rec = await m.wp.nextRecord((r) => r.path === '/ws' && r.responseCode === 101);
    assert.equal(rec.sourcePrincipal, 'spiffe://cluster.local/ns/shop/sa/cart');
  });

  test('a Host naming another service inside the stream is 421 (no domain fronting)', async () => {
    const text = await inside('GET /get HTTP/1.1\r\nHost: payments.test\r\nConnection: close\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 421 /);
    assert.equal(m.up.stats.requests, 0);
  });
});
