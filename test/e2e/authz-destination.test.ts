// destination.ip and connection.sni at the listener, over real sockets. At a waypoint destination.ip
// is the address the client dialled: the VIP or ServiceEntry address in a tunnel's authority, else
// the address it connected to. connection.sni is read from the ClientHello inside a CONNECT to a
// TLS port, without terminating TLS.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { issueCert, makeCa } from '../helpers/certs.ts';
import { curl } from '../helpers/curl.ts';
import { authorizationPolicy as policy, startInProcess, vipEntry, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { openTunnel } from '../helpers/proxy-fetch.ts';
import { startHttpUpstream, startTlsEcho, type EchoServer, type HttpUpstream } from '../helpers/upstream.ts';

const VIP = '240.240.240.10';
const TLS_VIP = '240.240.240.11';
const DENIED_VIP = '240.240.240.13';

describe('destination.ip and connection.sni', () => {
  let up: HttpUpstream;
  let tlsEcho: EchoServer;
  let wp: InProcess;
  let ca: Awaited<ReturnType<typeof makeCa>>;

  before(async () => {
    ca = await makeCa();
    const server = await issueCert(ca, { dnsNames: ['api.tls.test', 'other.tls.test'] });
    up = await startHttpUpstream();
    tlsEcho = await startTlsEcho({ cert: server.cert, key: server.key });
    wp = await startInProcess(WAYPOINT_YAML
      + vipEntry('vip', VIP, `{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}`)
      + vipEntry('local', '240.240.240.12', `{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}`)
      + vipEntry('blocked', DENIED_VIP, `{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}`)
      + policy('no-vip', 'blocked', `action: DENY\nrules: [{when: [{key: destination.ip, values: ["${DENIED_VIP}"]}]}]\n`)
      + vipEntry('tls', TLS_VIP, `{number: 443, name: tls, protocol: TLS, targetPort: ${tlsEcho.port}}`)
      // Allows only traffic dialled to the VIP: the brief's "DENY with notValues denies everything" case.
      + policy('vip-only', 'vip', `action: DENY\nrules: [{when: [{key: destination.ip, notValues: ["${VIP}/32"]}]}]\n`)
      + policy('local-allow', 'local', 'action: ALLOW\nrules: [{when: [{key: destination.ip, values: ["127.0.0.0/8"]}]}]\n')
      + policy('tls-sni', 'tls', `action: ALLOW\nrules:\n- when: [{key: connection.sni, values: ["api.tls.test"]}, {key: destination.ip, values: ["${TLS_VIP}"]}]\n`));
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    await tlsEcho?.close();
  });

  const proxyAuthority = () => wp.proxyUrl.replace('http://', '');

  /** CONNECT to `target`, then an HTTP/1.1 GET inside the tunnel; resolves with the inner status. */
  async function getThroughTunnel(target: string, host: string): Promise<{ connect: number; status?: number }> {
    const t = await openTunnel(proxyAuthority(), target);
    if (t.status !== 200) {
      t.close();
      return { connect: t.status };
    }
    t.socket.write(`GET /get HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    let text = '';
    t.socket.on('data', (c: Buffer) => { text += c.toString('latin1'); });
    await once(t.socket, 'close');
    return { connect: 200, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0) };
  }

  test('a tunnel to the ServiceEntry address has destination.ip = that address: the notValues DENY lets it through', async () => {
    const r = await getThroughTunnel(`${VIP}:80`, 'vip.test');
    assert.deepEqual(r, { connect: 200, status: 200 });
    const rec = await wp.nextRecord((x) => x.authority === 'vip.test' && x.path === '/get');
    assert.equal(rec.responseCodeDetails, 'via_upstream');
  });

  test('a plain proxy request has destination.ip = the address the client connected to (not the VIP)', async () => {
    const denied = await curl(['-x', wp.proxyUrl, 'http://vip.test/get']);
    assert.equal(denied.status, 403);
    const rec = await wp.nextRecord((x) => x.authority === 'vip.test' && x.responseCode === 403);
    assert.equal(rec.responseCodeDetails, 'rbac_access_denied_matched_policy[ns[istio-egress]-policy[vip-only]-rule[0]]');
    assert.equal((await curl(['-x', wp.proxyUrl, 'http://local.test/get'])).status, 200, 'ALLOW on destination.ip 127.0.0.0/8 matches the listener address');
  });

  test('a DENY on destination.ip holds at every door: a CONNECT to the address and a plain proxy request to it', async () => {
    assert.deepEqual(await getThroughTunnel(`${DENIED_VIP}:80`, 'blocked.test'), { connect: 200, status: 403 });
    const plain = await curl(['-x', wp.proxyUrl, `http://${DENIED_VIP}/get`]);
    assert.equal(plain.status, 403, 'the same address asked for in absolute form is the same destination.ip');
    assert.equal((await curl(['-x', wp.proxyUrl, 'http://blocked.test/get'])).status, 200, 'by name the client dialled only the listener');
  });

  /** CONNECT to `target`, then a TLS handshake inside with `servername`; resolves with what happened. */
  async function tlsThroughTunnel(target: string, servername: string): Promise<'echoed' | 'closed'> {
    const t = await openTunnel(proxyAuthority(), target);
    assert.equal(t.status, 200, t.head);
    const s = tlsConnect({ socket: t.socket, servername, ca: ca.cert });
    s.on('error', () => {});
    const outcome = await Promise.race([
      new Promise((r) => s.once('secureConnect', r)).then(async () => {
        s.write('ping');
        const [chunk] = await once(s, 'data') as [Buffer];
        return chunk.toString() === 'ping' ? 'echoed' as const : 'closed' as const;
      }),
      new Promise<'closed'>((r) => s.once('close', () => r('closed'))),
    ]);
    s.destroy();
    return outcome;
  }

  test('connection.sni is the ClientHello\'s server name inside a CONNECT to a TLS port; TLS is not terminated', async () => {
    assert.equal(await tlsThroughTunnel(`${TLS_VIP}:443`, 'api.tls.test'), 'echoed');
    const ok = await wp.nextRecord((x) => x.method === 'CONNECT' && x.requestedServerName === 'api.tls.test');
    assert.equal(ok.responseFlags, '-');
    assert.equal(await tlsThroughTunnel(`${TLS_VIP}:443`, 'other.tls.test'), 'closed', 'an SNI the ALLOW rule does not name');
    const denied = await wp.nextRecord((x) => x.method === 'CONNECT' && x.requestedServerName === 'other.tls.test');
    assert.equal(denied.responseCodeDetails, 'rbac_access_denied_matched_policy[none]');
    assert.equal(tlsEcho.stats.connections, 1, 'the denied tunnel never reached the upstream');
  });

  test('connection.sni with a tunnel by name: destination.ip is not the VIP, so the ALLOW does not match', async () => {
    assert.equal(await tlsThroughTunnel('tls.test:443', 'api.tls.test'), 'closed');
  });
});
