// The sandwich listener end to end, driven by test/e2e/proxy_v2_client.py: a PROXY v2 client
// written independently in Python with struct, connecting as ztunnel does. Good headers go the
// same way as CONNECT and HBONE (routing by TLV 0xD1 or by destination address, AuthorizationPolicy
// on the TLV 0xD0 identity and the header's source address, HTTP parsed per request, TCP spliced);
// bad headers and untrusted peers are closed with nothing reaching an upstream, and counted.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect as h2connect, createServer as createH2cServer } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { authorizationPolicy, serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { startHttpUpstream, startTcpEcho, type EchoServer, type HttpUpstream } from '../helpers/upstream.ts';
import type { ProxyProtocolOptions } from '../../src/dataplane/proxy-protocol-listener.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { startWaypoint } from '../helpers/waypoint.ts';

const PY = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./proxy_v2_client.py', import.meta.url));
const CART = 'spiffe://cluster.local/ns/shop/sa/cart';
const WEB = 'spiffe://cluster.local/ns/shop/sa/web';
const OTHER_VIP = '10.9.9.9';

interface PyResult {
  readonly data: string;
  readonly closed: 'eof' | 'reset' | 'timeout';
}

function py(port: number, args: string[]): Promise<PyResult> {
  return new Promise((resolve, reject) => {
    execFile(PY, [SCRIPT, '--port', String(port), ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout) as PyResult);
    });
  });
}

const GET = (host: string, path: string) => `GET ${path} HTTP/1.1\\r\\nHost: ${host}\\r\\nConnection: close\\r\\n\\r\\n`;
const status = (r: PyResult) => Number(/^HTTP\/1\.1 (\d{3})/.exec(r.data)?.[1] ?? 0);

interface Mesh {
  readonly api: HttpUpstream;
  readonly other: HttpUpstream;
  readonly echo: EchoServer;
  readonly wp: InProcess;
  readonly port: number;
  /** Requests and connections that reached any upstream so far. */
  reached(): number;
  refused(reason: string): Promise<number>;
  close(): Promise<void>;
}

const entry = (name: string, port: number, target: number, proto: string, extra = '') => serviceEntry(name,
  `hosts: [${name}.test]\nports: [{number: ${port}, name: p, protocol: ${proto}, targetPort: ${target}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]${extra}`);

/**
 * api.test:80 and raw.test:9000 (TCP echo) open to all; payments.test:80 for cart only; other.test
 * at the address 10.9.9.9 (ServiceEntry `addresses`); a DENY on api.test for sources in 10.66.0.0/16.
 */
async function startMesh(pp: Partial<ProxyProtocolOptions> = {}): Promise<Mesh> {
  const api = await startHttpUpstream({ name: 'api' });
  const other = await startHttpUpstream({ name: 'other' });
  const echo = await startTcpEcho();
  // An HTTP2 port's upstream speaks h2c (prior knowledge), as Envoy's cluster for it does.
  const h2 = createH2cServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ upstream: 'h2', httpVersion: req.httpVersion })));
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  const h2Port = (h2.address() as { port: number }).port;
  const yaml = WAYPOINT_YAML + entry('api', 80, api.port, 'HTTP') + entry('payments', 80, api.port, 'HTTP')
    + entry('raw', 9000, echo.port, 'TCP') + entry('h2', 80, h2Port, 'HTTP2') + entry('other', 80, other.port, 'HTTP', `\naddresses: [${OTHER_VIP}]`)
    + authorizationPolicy('payments', 'payments', `action: ALLOW\nrules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/cart"]}}]}]`)
    + authorizationPolicy('raw', 'raw', `action: DENY\nrules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/web"]}}]}]`)
    + authorizationPolicy('api-ips', 'api', `action: DENY\nrules: [{from: [{source: {ipBlocks: ["10.66.0.0/16"]}}]}]`);
  const wp = await startInProcess(yaml, { proxyProtocol: { port: 0, ...pp } });
  const port = Number(wp.wp.listeners.proxyProtocol!.split(':').pop());
  return {
    api, other, echo, wp, port,
    reached: () => api.stats.connections + other.stats.connections + echo.stats.connections,
    async refused(reason) {
      const text = await (await fetch(`${wp.statsUrl}/stats/prometheus`)).text();
      const m = new RegExp(`^egressway_proxy_protocol_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
      return Number(m?.[1] ?? 0);
    },
    async close() {
      await wp.close();
      await Promise.all([api.close(), other.close(), echo.close(), new Promise((r) => h2.close(r))]);
    },
  };
}

describe('PROXY protocol listener (sandwich mode) with an independent Python client', () => {
  let m: Mesh;
  before(async () => {
    m = await startMesh();
  });
  after(async () => m?.close());

  test('HTTP routed by TLV 0xD1: the request reaches the upstream with the TLV 0xD0 identity', async () => {
    const r = await py(m.port, ['--identity', CART, '--hostname', 'api.test', '--send', GET('api.test', '/by-hostname')]);
    assert.equal(status(r), 200, r.data);
    assert.match(r.data, /"upstream":"api"/);
    const rec = await m.wp.nextRecord((x) => x.path === '/by-hostname');
    assert.equal(rec.sourcePrincipal, CART);
    assert.equal(rec.sourceNamespace, 'shop');
    assert.equal(rec.connectionSecurityPolicy, 'mutual_tls');
    assert.equal(rec.downstreamRemoteAddress, '10.1.2.3:40000');
    assert.equal(rec.destinationService, 'api.test');
  });

  test('without TLV 0xD1 the destination address routes, as an HBONE authority does (ServiceEntry addresses)', async () => {
    const r = await py(m.port, ['--identity', CART, '--dst', `${OTHER_VIP}:80`, '--send', GET('other.test', '/by-address'), '--separate']);
    assert.equal(status(r), 200, r.data);
    assert.match(r.data, /"upstream":"other"/);
    // A Host naming some other destination than the one the tunnel goes to is refused, as in every
    // terminated tunnel (admit.ts): `hosts` rules must read the name the traffic really goes to.
    const fronted = await py(m.port, ['--identity', CART, '--dst', `${OTHER_VIP}:80`, '--send', GET('api.test', '/fronted'), '--separate']);
    assert.equal(status(fronted), 421, fronted.data);
  });

  test('TLV 0xD1 wins over the destination address', async () => {
    const r = await py(m.port, ['--identity', CART, '--dst', `${OTHER_VIP}:80`, '--hostname', 'api.test', '--send', GET('api.test', '/hostname-wins')]);
    assert.equal(status(r), 200, r.data);
    assert.match(r.data, /"upstream":"api"/);
  });

  test('a TCP6 header: IPv6 source and destination', async () => {
    const r = await py(m.port, ['--identity', CART, '--src', '[fd00::1:2]:5000', '--dst', '[fd00::99]:80', '--hostname', 'api.test', '--send', GET('api.test', '/over-v6')]);
    assert.equal(status(r), 200, r.data);
    const rec = await m.wp.nextRecord((x) => x.path === '/over-v6');
    assert.equal(rec.downstreamRemoteAddress, '[fd00::1:2]:5000');
    assert.equal(rec.downstreamLocalAddress, '[fd00::99]:80');
  });

  test('the auto-allocated VIP of a ServiceEntry routes like its host', async () => {
    const svc = m.wp.wp.store.current().services.find((s) => s.hosts.includes('api.test'))!;
    const r = await py(m.port, ['--identity', CART, '--dst', `${svc.addresses[0]}:80`, '--send', GET('api.test', '/via-vip')]);
    assert.equal(status(r), 200, r.data);
    assert.match(r.data, /"upstream":"api"/);
  });

  test('AuthorizationPolicy on source.principal: cart is allowed, web and an anonymous client get 403', async () => {
    const before = m.api.stats.requests;
    const ok = await py(m.port, ['--identity', CART, '--hostname', 'payments.test', '--send', GET('payments.test', '/pay')]);
    assert.equal(status(ok), 200, ok.data);
    const web = await py(m.port, ['--identity', WEB, '--hostname', 'payments.test', '--send', GET('payments.test', '/pay-web')]);
    assert.equal(status(web), 403, web.data);
    assert.match(web.data, /RBAC: access denied/);
    const anon = await py(m.port, ['--hostname', 'payments.test', '--send', GET('payments.test', '/pay-anon')]);
    assert.equal(status(anon), 403, anon.data);
    assert.equal(m.api.stats.requests, before + 1, 'only the allowed request reached the upstream');
    const rec = await m.wp.nextRecord((x) => x.path === '/pay-web');
    assert.equal(rec.responseCode, 403);
    assert.equal(rec.sourcePrincipal, WEB);
    const anonRec = await m.wp.nextRecord((x) => x.path === '/pay-anon');
    assert.equal(anonRec.sourcePrincipal, '');
    assert.notEqual(anonRec.connectionSecurityPolicy, 'mutual_tls');
  });

  test("the header's source address is source.ip for ipBlocks", async () => {
    const denied = await py(m.port, ['--identity', CART, '--src', '10.66.1.1:5000', '--hostname', 'api.test', '--send', GET('api.test', '/from-denied-block')]);
    assert.equal(status(denied), 403, denied.data);
    const allowed = await py(m.port, ['--identity', CART, '--src', '10.67.1.1:5000', '--hostname', 'api.test', '--send', GET('api.test', '/from-other-block')]);
    assert.equal(status(allowed), 200, allowed.data);
  });

  test('a TCP port is spliced after L4 authorization; a denied principal is closed before the upstream', async () => {
    const ok = await py(m.port, ['--identity', CART, '--hostname', 'raw.test', '--dst', '240.240.0.9:9000', '--send', 'ping over proxy v2', '--half-close']);
    assert.equal(ok.data, 'ping over proxy v2');
    const rec = await m.wp.nextRecord((x) => x.destinationService === 'raw.test' && x.sourcePrincipal === CART);
    assert.equal(rec.responseFlags, '-');
    const before = m.echo.stats.connections;
    const denied = await py(m.port, ['--identity', WEB, '--hostname', 'raw.test', '--dst', '240.240.0.9:9000', '--send', 'should not pass', '--half-close']);
    assert.equal(denied.data, '');
    assert.equal(m.echo.stats.connections, before);
    const deniedRec = await m.wp.nextRecord((x) => x.destinationService === 'raw.test' && x.sourcePrincipal === WEB);
    assert.equal(deniedRec.responseCode, 403);
    assert.equal(deniedRec.bytesSent, 0, 'a PROXY tunnel is refused by closing it: no reply bytes');
    assert.match(deniedRec.responseCodeDetails, /^rbac_access_denied_matched_policy\[ns\[istio-egress\]-policy\[raw\]/);
  });

  test('HTTP/2 with prior knowledge (gRPC clients) on an HTTP2 port is served as HTTP/2, and forwarded as h2c', async () => {
    // node:http2 is the client here, so the header is written by hand before its preface.
    const id = Buffer.from(CART);
    const host = Buffer.from('h2.test');
    const body = Buffer.concat([Buffer.from([10, 1, 2, 3, 240, 240, 0, 7, 0x9c, 0x40, 0, 80, 0xd0, 0, id.length]), id, Buffer.from([0xd1, 0, host.length]), host]);
    const sock = connect({ host: '127.0.0.1', port: m.port });
    sock.write(Buffer.concat([Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0, body.length]), body]));
    const session = h2connect('http://h2.test', { createConnection: () => sock });
    try {
      const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = session.request({ ':path': '/over-h2', ':method': 'GET' });
        let text = '';
        let st = 0;
        req.on('response', (h) => { st = Number(h[':status']); });
        req.on('data', (c: Buffer) => { text += c.toString(); });
        req.on('end', () => resolve({ status: st, text }));
        req.on('error', reject);
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(JSON.parse(res.text), { upstream: 'h2', httpVersion: '2.0' });
      const rec = await m.wp.nextRecord((x) => x.path === '/over-h2');
      assert.equal(rec.protocol, 'HTTP/2.0');
      assert.equal(rec.sourcePrincipal, CART);
    } finally {
      session.destroy();
    }
  });

  test('a destination no ServiceEntry serves is closed', async () => {
    const before = m.reached();
    const r = await py(m.port, ['--identity', CART, '--dst', '10.200.0.1:80', '--send', GET('x', '/nowhere')]);
    assert.equal(r.data, '');
    assert.equal(m.reached(), before);
    const rec = await m.wp.nextRecord((x) => x.authority === '10.200.0.1:80');
    assert.equal(rec.bytesSent, 0);
    assert.notEqual(rec.responseCodeDetails, '');
  });

  const bad: [string, string[], string][] = [
    ['a wrong signature', ['--header', 'bad-signature'], 'bad_signature'],
    ['a truncated header', ['--header', 'truncated'], 'truncated'],
    ['a TLV longer than the header', ['--header', 'tlv-overrun'], 'bad_tlv'],
    ['a v1 header', ['--header', 'v1'], 'v1_header'],
    ['no header (the HTTP request straight away)', ['--header', 'none'], 'bad_signature'],
    ['a LOCAL header', ['--header', 'local'], 'local_command'],
    ['an identity that is not a SPIFFE ID', ['--identity', 'cluster.local/ns/shop/sa/cart'], 'bad_identity'],
  ];
  for (const [name, args, reason] of bad) {
    test(`${name}: closed, nothing reaches an upstream, counted as ${reason}`, async () => {
      const before = m.reached();
      const count = await m.refused(reason);
      const r = await py(m.port, ['--hostname', 'api.test', '--send', GET('api.test', `/bad-${reason}`), ...args]);
      assert.equal(r.data, '');
      assert.notEqual(r.closed, 'timeout');
      assert.equal(m.reached(), before);
      assert.equal(await m.refused(reason), count + 1);
    });
  }

  test('the listener keeps serving after the bad ones', async () => {
    const r = await py(m.port, ['--identity', CART, '--hostname', 'api.test', '--send', GET('api.test', '/still-up')]);
    assert.equal(status(r), 200, r.data);
  });
});

describe('PROXY protocol listener limits', () => {
  let m: Mesh;
  before(async () => {
    // Only 127.0.0.2 may send headers here: a loopback alias stands in for the node's ztunnel.
    m = await startMesh({ trustedCidrs: ['127.0.0.2/32'], headerTimeoutMs: 300 });
  });
  after(async () => m?.close());

  test('a peer not on the allow-list is closed before its header is read', async () => {
    const before = m.reached();
    const r = await py(m.port, ['--bind', '127.0.0.1', '--identity', CART, '--hostname', 'api.test', '--send', GET('api.test', '/untrusted')]);
    assert.equal(r.data, '');
    assert.equal(m.reached(), before);
    assert.equal(await m.refused('untrusted_peer'), 1);
    const ok = await py(m.port, ['--bind', '127.0.0.2', '--identity', CART, '--hostname', 'api.test', '--send', GET('api.test', '/trusted')]);
    assert.equal(status(ok), 200, ok.data);
  });

  test('a connection that sends no header is closed by the header timeout', async () => {
    const idle = await openIdle(m.port);
    const t0 = Date.now();
    await new Promise((resolve) => idle.once('close', resolve));
    const waited = Date.now() - t0;
    assert.ok(waited >= 250 && waited < 5000, `closed after ${waited} ms; the timeout is 300 ms`);
    assert.equal(await m.refused('header_timeout'), 1);
  });
});

describe('PROXY protocol listener connection bound', () => {
  let m: Mesh;
  before(async () => {
    m = await startMesh({ trustedCidrs: ['127.0.0.0/8'], maxConnections: 2 });
  });
  after(async () => m?.close());

  test('past --proxy-protocol-max-connections a connection is closed at once, and counted', async () => {
    const a = await openIdle(m.port);
    const b = await openIdle(m.port);
    const r = await py(m.port, ['--identity', CART, '--hostname', 'api.test', '--send', GET('api.test', '/over-limit')]);
    assert.equal(r.data, '');
    assert.notEqual(r.closed, 'timeout');
    assert.equal(await m.refused('max_connections'), 1);
    const closed = Promise.all([a, b].map((s) => new Promise((resolve) => s.once('close', resolve))));
    a.destroy();
    b.destroy();
    await closed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const ok = await py(m.port, ['--identity', CART, '--hostname', 'api.test', '--send', GET('api.test', '/under-limit')]);
    assert.equal(status(ok), 200, ok.data);
  });
});

describe('egressway run --proxy-protocol-port (the real CLI)', () => {
  test('the flag starts the listener next to the others; loopback is trusted; a refusal is one log line', async () => {
    const api = await startHttpUpstream({ name: 'api' });
    const dir = await tmpDir();
    await writeFile(join(dir.path, 'c.yaml'), WAYPOINT_YAML + entry('api', 80, api.port, 'HTTP'));
    const wp = await startWaypoint({ configDir: dir.path, args: ['--proxy-protocol-port', '0', '--proxy-protocol-trusted-cidr', '10.0.0.0/8', '--access-log', 'off'] });
    try {
      const port = wp.listeners.proxyProtocol!.port;
      const r = await py(port, ['--identity', CART, '--hostname', 'api.test', '--send', GET('api.test', '/via-cli')]);
      assert.equal(status(r), 200, r.data);
      await py(port, ['--header', 'v1']);
      const line = await wp.waitForLog((l) => l.reason === 'v1_header');
      assert.match(String(line.msg), /^PROXY protocol connection from 127\.0\.0\.1 closed \(v1_header\): a PROXY v1 \(text\) header/);
      assert.equal(line.level, 40);
    } finally {
      await wp.close();
      await api.close();
      await dir.close();
    }
  });

  const cli = (args: string[]) => spawnSync('node_modules/.bin/node', ['src/cli/main.ts', 'run', '--config', 'examples/quickstart', ...args], { encoding: 'utf8', timeout: 15_000 });
  test('bad flag values exit 1 with one line naming the flag', () => {
    const cidr = cli(['--proxy-protocol-port', '15088', '--proxy-protocol-trusted-cidr', '10.0.0.0/33']);
    assert.equal(cidr.status, 1);
    assert.match(cidr.stderr, /--proxy-protocol-trusted-cidr.*"10\.0\.0\.0\/33" has an invalid prefix length/);
    const alone = cli(['--proxy-protocol-trusted-cidr', '10.0.0.0/8']);
    assert.equal(alone.status, 1);
    assert.match(alone.stderr, /--proxy-protocol-trusted-cidr needs --proxy-protocol-port/);
  });
});

/** A connection from the trusted alias that sends nothing. */
function openIdle(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
    s.on('error', () => {});
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}
