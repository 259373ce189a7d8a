// End to end over loopback: curl -> agent (HTTP proxy or SOCKS5) -> HBONE -> waypoint -> a real
// upstream, with the agent's workload certificate as the principal the waypoint's policy sees.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.ts';
import { parseAddressOverrides } from '../../src/agent/routes.ts';
import { curl } from '../helpers/curl.ts';
import { startMesh, type Mesh } from '../hbone/fixture.ts';

describe('egressway agent', () => {
  let m: Mesh;
  const agents: Record<string, RunningAgent> = {};
  const start = (who: string, extra: Partial<Parameters<typeof startAgent>[0]> = {}) => startAgent({
    configPaths: [m.wp.dir], cert: m.pki.files[who]!.cert, key: m.pki.files[who]!.key, trustBundle: m.pki.bundle,
    waypointAddresses: parseAddressOverrides([`127.0.0.1:${m.hbonePort}`]), listenAddress: '127.0.0.1',
    httpPort: 0, socksPort: 0, passthrough: false, workload: who, noProxy: 'localhost,127.0.0.1', ...extra,
  });

  before(async () => {
    m = await startMesh();
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
});
