// End to end over loopback: curl -> agent (HTTP proxy or SOCKS5) -> HBONE -> waypoint -> a real
// upstream, with the agent's workload certificate as the principal the waypoint's policy sees.
import assert from 'node:assert/strict';
import { Agent as HttpAgent, request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.ts';
import { parseAddressOverrides } from '../../src/agent/routes.ts';
import { curl } from '../helpers/curl.ts';
import { policy, startMesh, type Mesh } from '../hbone/fixture.ts';

/** One absolute-form request through the proxy at `proxy` (host:port), over `agent`'s sockets. */
function viaProxy(proxy: string, agent: HttpAgent, url: string, method = 'GET'): Promise<{ status: number; body: string; socketPort: number }> {
  const [host, port] = proxy.split(':');
  return new Promise((resolve, reject) => {
    const r = request({ host, port: Number(port), method, path: url, headers: { host: new URL(url).host }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, socketPort: r.socket?.localPort ?? 0 }));
    });
    r.on('error', reject);
    r.end();
  });
}

// payments.test: cart may call it (fixture), but never /v1/refunds: two paths, two answers.
const NO_REFUNDS = policy('payments-no-refunds', 'payments', 'action: DENY\nrules: [{to: [{operation: {paths: ["/v1/refunds"]}}]}]\n');
// A response header with a byte above 0x7f (é, written by the waypoint as latin1 0xE9), on /latin1 only.
const LATIN1_HEADER = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api-latin1, namespace: istio-egress}
spec:
  hosts: [api.test]
  http:
  - match: [{uri: {prefix: /latin1}}]
    headers: {response: {set: {x-latin1: "caf\u00e9"}}}
    route: [{destination: {host: api.test}}]
  - route: [{destination: {host: api.test}}]
`;

/** The raw response head (latin1: one character per byte) of one absolute-form GET through `proxy`. */
function rawHead(proxy: string, url: string): Promise<string> {
  const [host, port] = proxy.split(':');
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port: Number(port) });
    let got = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      got += d;
      const end = got.indexOf('\r\n\r\n');
      if (end >= 0) {
        sock.destroy();
        resolve(got.slice(0, end));
      }
    });
    sock.on('error', reject);
    sock.write(`GET ${url} HTTP/1.1\r\nHost: ${new URL(url).host}\r\n\r\n`);
  });
}

describe('egressway agent', () => {
  let m: Mesh;
  const agents: Record<string, RunningAgent> = {};
  const start = (who: string, extra: Partial<Parameters<typeof startAgent>[0]> = {}) => startAgent({
    configPaths: [m.wp.dir], cert: m.pki.files[who]!.cert, key: m.pki.files[who]!.key, trustBundle: m.pki.bundle,
    waypointAddresses: parseAddressOverrides([`127.0.0.1:${m.hbonePort}`]), listenAddress: '127.0.0.1',
    httpPort: 0, socksPort: 0, passthrough: false, workload: who, noProxy: 'localhost,127.0.0.1', ...extra,
  });

  before(async () => {
    m = await startMesh(NO_REFUNDS + LATIN1_HEADER);
    agents.cart = await start('cart');
    agents.web = await start('web');
  });
  after(async () => {
    for (const a of Object.values(agents)) await a.close();
    await m?.close();
  });

  const via = (who: string, args: string[]) => curl(['-x', `http://${agents[who]!.http}`, ...args]);

  test('HTTP_PROXY request: through the waypoint to the upstream, as cart', async () => {
    const r = await via('cart', ['http://api.test/agent-hello']);
    assert.equal(r.status, 200, r.stderr + r.stdout);
    assert.match(r.stdout, /"\/agent-hello"/);
    const rec = await m.wp.nextRecord((x) => x.path === '/agent-hello');
    assert.equal(rec.sourcePrincipal, 'spiffe://cluster.local/ns/shop/sa/cart');
    assert.equal(rec.sourceWorkload, 'cart');
    assert.equal(rec.connectionSecurityPolicy, 'mutual_tls');
  });

  test('the agent sends the absolute-form authority as Host (RFC 9112 §3.2.2), not the client\'s', async () => {
    const r = await via('cart', ['-H', 'Host: payments.test', 'http://api.test/agent-host']);
    assert.equal(r.status, 200, r.stderr + r.stdout);
    assert.match(r.stdout, /"host":"api.test"/);
  });

  test('response header bytes above 0x7f reach the client as the waypoint sent them', async () => {
    const direct = await rawHead(m.wp.wp.listeners.proxy!, 'http://api.test/latin1-direct');
    // The configured "é" goes out as its UTF-8 bytes 0xC3 0xA9, as Envoy sends it (read here as latin1).
    assert.match(direct, /\r\nx-latin1: caf\u00c3\u00a9\r?$/m, 'the waypoint itself sends 0xC3 0xA9');
    const head = await rawHead(agents.cart!.http!, 'http://api.test/latin1-agent');
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.match(head, /\r\nx-latin1: caf\u00c3\u00a9\r?$/m, head);
  });

  test('a slow client pauses the relay (back-pressure) and still gets every byte', { timeout: 20_000 }, async () => {
    const [host, port] = agents.cart!.http!.split(':');
    const total = 8 * 1024 * 1024;
    const got = await new Promise<number>((resolve, reject) => {
      const r = request({ host, port: Number(port), path: `http://api.test/bytes/${total}`, headers: { host: 'api.test' }, agent: false }, (res) => {
        let n = 0;
        let paused = false;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (!paused) {
            // Stop reading long enough for the agent's response buffer to fill: its write() returns
            // false, the relay pauses undici, and only 'drain' resumes it.
            paused = true;
            res.pause();
            setTimeout(() => res.resume(), 300);
          }
        });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end();
    });
    assert.equal(got, total);
  });

  test('principal policy: cart may reach payments, web may not', async () => {
    assert.equal((await via('cart', ['-X', 'POST', 'http://payments.test/v1/charges'])).status, 200);
    const web = await via('web', ['-X', 'POST', 'http://payments.test/v1/charges']);
    assert.equal(web.status, 403);
    assert.equal(web.stdout, 'RBAC: access denied\n');
    const text = await (await fetch(`${m.wp.statsUrl}/stats/prometheus`)).text();
    assert.match(text, /istio_requests_total\{(?=[^}]*response_code="403")(?=[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web")(?=[^}]*connection_security_policy="mutual_tls")[^}]*\}/);
    assert.match(text, /istio_requests_total\{(?=[^}]*response_code="200")(?=[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart")(?=[^}]*destination_service="payments\.test")[^}]*\}/);
  });

  test('CONNECT through the agent to a TCP port: bytes echo over HBONE', async () => {
    const [host, port] = agents.cart!.http!.split(':');
    const sock = connect({ host, port: Number(port) });
    sock.write('CONNECT raw.test:9000 HTTP/1.1\r\nHost: raw.test:9000\r\n\r\n');
    const head = await new Promise<string>((r) => sock.once('data', (d: Buffer) => r(d.toString())));
    assert.match(head, /^HTTP\/1\.1 200/);
    sock.write('tcp via agent');
    const echo = await new Promise<string>((r) => sock.once('data', (d: Buffer) => r(d.toString())));
    assert.equal(echo, 'tcp via agent');
    sock.destroy();
  });

  test('SOCKS5 (socks5h): the same path', async () => {
    const r = await curl(['--socks5-hostname', agents.cart!.socks!, 'http://api.test/via-socks']);
    assert.equal(r.status, 200, r.stderr);
    const rec = await m.wp.nextRecord((x) => x.path === '/via-socks');
    assert.equal(rec.sourcePrincipal, 'spiffe://cluster.local/ns/shop/sa/cart');
  });

  test('one pooled HBONE connection carries many requests', async () => {
    await Promise.all([1, 2, 3, 4, 5].map((i) => via('cart', [`http://api.test/pooled-${i}`])));
    assert.equal(agents.cart!.pool.sessions, 1);
  });

  test('a destination with no waypoint is refused; --passthrough sends it direct; NO_PROXY goes direct', async () => {
    const refused = await via('cart', ['http://example.org/']);
    assert.equal(refused.status, 403);
    assert.match(refused.stdout, /not bound to any waypoint/);
    const direct = await via('cart', [`${m.up.url}/no-proxy`]);
    assert.equal(direct.status, 200, 'NO_PROXY=127.0.0.1 is dialled direct');
    assert.equal(m.wp.records.some((x) => x.path === '/no-proxy'), false);
    agents.pass = await start('cart', { passthrough: true, noProxy: '' });
    const pass = await curl(['-x', `http://${agents.pass.http}`, `${m.up.url}/passthrough`]);
    assert.equal(pass.status, 200);
    assert.equal(m.wp.records.some((x) => x.path === '/passthrough'), false);
  });

  describe('keep-alive: absolute-form requests reuse HBONE streams', () => {
    const fresh = async (who: string, name: string) => (agents[name] = await start(who));

    test('sequential requests on one client connection use one HBONE stream', async () => {
      const a = await fresh('cart', 'ka1');
      const client = new HttpAgent({ keepAlive: true, maxSockets: 1 });
      const ports = new Set<number>();
      for (let i = 0; i < 10; i++) {
        const r = await viaProxy(a.http!, client, `http://api.test/ka-seq-${i}`);
        assert.equal(r.status, 200, r.body);
        assert.match(r.body, new RegExp(`"/ka-seq-${i}"`));
        ports.add(r.socketPort);
      }
      client.destroy();
      assert.equal(ports.size, 1, 'the client kept its one connection to the agent');
      assert.equal(a.httpPools!.streamsOpened, 1, 'ten requests, one CONNECT stream');
      assert.equal(a.pool.sessions, 1);
      // Each request was still parsed, routed and recorded by the waypoint, as cart, on that stream.
      const recs = await Promise.all(Array.from({ length: 10 }, (_, i) => m.wp.nextRecord((x) => x.path === `/ka-seq-${i}`)));
      for (const rec of recs) {
        assert.equal(rec.sourcePrincipal, 'spiffe://cluster.local/ns/shop/sa/cart');
        assert.equal(rec.responseCode, 200);
      }
      assert.equal(new Set(recs.map((r) => r.downstreamRemoteAddress)).size, 1, 'one stream: one forwarded for= for all');
    });

    test('separate client connections, one after another, share the pooled stream', async () => {
      const a = await fresh('cart', 'ka2');
      for (let i = 0; i < 3; i++) {
        const r = await curl(['-x', `http://${a.http}`, `http://api.test/ka-curl-${i}`]);
        assert.equal(r.status, 200, r.stderr + r.stdout);
      }
      assert.equal(a.httpPools!.streamsOpened, 1);
    });

    test('policy per request on a reused stream: two paths, two verdicts', async () => {
      const a = await fresh('cart', 'ka3');
      const client = new HttpAgent({ keepAlive: true, maxSockets: 1 });
      const seq = [['/v1/charges', 200], ['/v1/refunds', 403], ['/v1/charges', 200], ['/v1/refunds', 403], ['/v1/charges', 200]] as const;
      for (const [path, want] of seq) {
        const r = await viaProxy(a.http!, client, `http://payments.test${path}`, 'POST');
        assert.equal(r.status, want, `${path}: ${r.body}`);
        if (want === 403) assert.equal(r.body, 'RBAC: access denied\n');
      }
      client.destroy();
      assert.equal(a.httpPools!.streamsOpened, 1, 'a denied request does not cost the stream');
    });

    test('policy per identity: cart allowed and web denied, each on its own reused stream', async () => {
      const cart = await fresh('cart', 'ka4');
      const web = await fresh('web', 'ka5');
      const cc = new HttpAgent({ keepAlive: true, maxSockets: 1 });
      const wc = new HttpAgent({ keepAlive: true, maxSockets: 1 });
      for (let i = 0; i < 3; i++) {
        assert.equal((await viaProxy(cart.http!, cc, 'http://payments.test/v1/charges', 'POST')).status, 200);
        const denied = await viaProxy(web.http!, wc, 'http://payments.test/v1/charges', 'POST');
        assert.equal(denied.status, 403);
        assert.equal(denied.body, 'RBAC: access denied\n');
      }
      cc.destroy();
      wc.destroy();
      assert.equal(cart.httpPools!.streamsOpened, 1);
      assert.equal(web.httpPools!.streamsOpened, 1);
    });

    test('concurrent requests open streams up to the per-destination cap, and reuse them', async () => {
      const a = agents.ka6 = await start('cart', { httpPool: { maxPerDestination: 2 } });
      const client = new HttpAgent({ keepAlive: true, maxSockets: 8 });
      for (let round = 0; round < 3; round++) {
        const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => viaProxy(a.http!, client, `http://api.test/ka-cap-${round}-${i}`)));
        for (const r of rs) assert.equal(r.status, 200, r.body);
      }
      client.destroy();
      assert.equal(a.httpPools!.streamsOpened, 2, '24 requests, 8 at a time, over at most 2 streams');
    });

    test('an idle pooled stream is closed after the idle timeout, and the next request opens a new one', async () => {
      const a = agents.ka7 = await start('cart', { httpPool: { idleTimeoutMs: 200 } });
      assert.equal((await curl(['-x', `http://${a.http}`, 'http://api.test/ka-idle-1'])).status, 200);
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal((await curl(['-x', `http://${a.http}`, 'http://api.test/ka-idle-2'])).status, 200);
      assert.equal(a.httpPools!.streamsOpened, 2);
    });
  });
});
