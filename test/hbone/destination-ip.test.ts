// destination.ip through the HBONE listener: the address in the CONNECT authority (the ServiceEntry
// address a ztunnel carries there), so a DENY on notValues lets the dialled VIP through and only it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { issueCert, makeCa } from '../helpers/certs.ts';
import { vipEntry } from '../helpers/inprocess.ts';
import { startTcpEcho, startTlsEcho, type EchoServer } from '../helpers/upstream.ts';
import { connectStream, h2Session, policy, startMesh, type Mesh } from './fixture.ts';

const VIP = '240.240.240.20';
const TLS_VIP = '240.240.240.21';

describe('HBONE destination.ip', () => {
  let m: Mesh;
  let echo: EchoServer;
  let tlsEcho: EchoServer;
  let ca: Awaited<ReturnType<typeof makeCa>>;
  const pem = async (who: string) => ({ cert: await readFile(m.pki.files[who]!.cert, 'utf8'), key: await readFile(m.pki.files[who]!.key, 'utf8'), ca: m.pki.ca.cert });

  before(async () => {
    echo = await startTcpEcho();
    ca = await makeCa();
    const leaf = await issueCert(ca, { dnsNames: ['api.tls.test', 'other.tls.test'] });
    tlsEcho = await startTlsEcho({ cert: leaf.cert, key: leaf.key });
    m = await startMesh(vipEntry('tls', TLS_VIP, `{number: 443, name: tls, protocol: TLS, targetPort: ${tlsEcho.port}}`)
      + policy('sni', 'tls', 'action: ALLOW\nrules: [{when: [{key: connection.sni, values: [api.tls.test]}]}]\n')
      + vipEntry('vip', VIP, `{number: 9000, name: tcp, protocol: TCP, targetPort: ${echo.port}}`)
      + policy('vip-only', 'vip', `action: DENY\nrules: [{when: [{key: destination.ip, notValues: ["${VIP}"]}]}]\n`));
  });
  after(async () => {
    await m?.close();
    await echo?.close();
    await tlsEcho?.close();
  });

  test('a tunnel to the VIP is allowed and echoes; the same service by name is not the dialled VIP', async () => {
    const s = await h2Session(m.hbonePort, await pem('cart'));
    const ok = await connectStream(s, `${VIP}:9000`);
    assert.equal(ok.status, 200);
    ok.stream.write('ping');
    assert.equal(await new Promise<string>((r) => ok.stream.once('data', (d: Buffer) => r(d.toString()))), 'ping');
    ok.stream.end();
    const byName = await connectStream(s, 'vip.test:9000');
    assert.equal(byName.status, 403);
    const rec = await m.wp.nextRecord((r) => r.authority === 'vip.test:9000');
    assert.equal(rec.responseCodeDetails, 'rbac_access_denied_matched_policy[ns[istio-egress]-policy[vip-only]-rule[0]]');
    s.close();
  });

  test('connection.sni is read from the ClientHello inside an HBONE stream to a TLS port', async () => {
    const s = await h2Session(m.hbonePort, await pem('cart'));
    const handshake = async (servername: string) => {
      const { status, stream } = await connectStream(s, `${TLS_VIP}:443`);
      assert.equal(status, 200);
      const t = tlsConnect({ socket: stream, servername, ca: ca.cert });
      t.on('error', () => {});
      const out = await Promise.race([
        new Promise((r) => t.once('secureConnect', r)).then(() => 'secure'),
        new Promise((r) => t.once('close', r)).then(() => 'closed'),
      ]);
      t.destroy();
      return out;
    };
    assert.equal(await handshake('api.tls.test'), 'secure');
    assert.equal(await handshake('other.tls.test'), 'closed');
    const rec = await m.wp.nextRecord((r) => r.requestedServerName === 'other.tls.test');
    assert.equal(rec.responseCodeDetails, 'rbac_access_denied_matched_policy[none]');
    s.close();
  });
});
