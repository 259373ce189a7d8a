// AuthorizationPolicy enforced at the listener, over real sockets: the reference's egress example
// (GET /get allowed, POST /post denied), DENY beating ALLOW, principals from client certificates,
// and L4 policy on CONNECT.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { issueCert, makeCa, writePems } from '../helpers/certs.ts';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess, authorizationPolicy } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream, startTcpEcho, type EchoServer, type HttpUpstream } from '../helpers/upstream.ts';

const policy = authorizationPolicy;

describe('AuthorizationPolicy at the listener', () => {
  let up: HttpUpstream;
  let echo: EchoServer;
  let wp: InProcess;
  let dir: TmpDir;
  let files: Record<string, { cert: string; key: string }>;
  let proxy: string;

  before(async () => {
    const ca = await makeCa();
    const server = await issueCert(ca, { dnsNames: ['localhost'], ips: ['127.0.0.1'] });
    const cart = await issueCert(ca, { uris: ['spiffe://cluster.local/ns/shop/sa/cart'], isClient: true });
    const web = await issueCert(ca, { uris: ['spiffe://cluster.local/ns/shop/sa/web'], isClient: true });
    dir = await tmpDir();
    files = await writePems(dir.path, { ca, server, cart, web });
    up = await startHttpUpstream();
    echo = await startTcpEcho();
    const se = (name: string, port: number, proto = 'HTTP') => serviceEntry(name, `hosts: [${name}.test]\nports: [{number: 80, name: p, protocol: ${proto}, targetPort: ${port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);
    wp = await startInProcess(WAYPOINT_YAML + se('httpbin', up.port) + se('payments', up.port) + se('raw', echo.port, 'TCP') + se('open', up.port)
      + policy('httpbin', 'httpbin', 'action: ALLOW\nrules: [{to: [{operation: {methods: ["GET"], paths: ["/get"]}}]}]\n')
      + policy('payments-allow', 'payments', 'action: ALLOW\nrules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/cart"]}}], to: [{operation: {methods: ["POST"], paths: ["/v1/charges"]}}]}]\n')
      + policy('payments-deny', 'payments', 'action: DENY\nrules: [{to: [{operation: {paths: ["/v1/charges/refund*"]}}]}]\n')
      + policy('raw-deny', 'raw', 'action: DENY\nrules: [{to: [{operation: {ports: ["80"]}}]}]\n'),
    { proxyTls: { cert: server.cert, key: server.key, ca: ca.cert } });
    proxy = wp.proxyUrl.replace('http://', 'https://');
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    await echo?.close();
    await dir?.close();
  });

  const as = (who: string, args: string[]) => curl(['--proxy', proxy, '--proxy-cacert', files.ca!.cert,
    '--proxy-cert', files[who]!.cert, '--proxy-key', files[who]!.key, ...args]);

  test('GET /get is allowed and POST /post is denied with Envoy\'s 403', async () => {
    assert.equal((await as('web', ['http://httpbin.test/get'])).status, 200);
    const denied = await as('web', ['-X', 'POST', 'http://httpbin.test/post']);
    assert.equal(denied.status, 403);
    assert.equal(denied.stdout, 'RBAC: access denied\n');
    const rec = await wp.nextRecord((r) => r.path === '/post');
    assert.equal(rec.responseCodeDetails, 'rbac_access_denied_matched_policy[none]');
    assert.equal(rec.responseCode, 403);
  });

  test('principals: cart may POST /v1/charges, web may not', async () => {
    assert.equal((await as('cart', ['-X', 'POST', 'http://payments.test/v1/charges'])).status, 200);
    assert.equal((await as('web', ['-X', 'POST', 'http://payments.test/v1/charges'])).status, 403);
  });

  test('DENY beats ALLOW and names the policy and rule', async () => {
    const r = await as('cart', ['-X', 'POST', 'http://payments.test/v1/charges/refund/1']);
    assert.equal(r.status, 403);
    const rec = await wp.nextRecord((x) => x.path === '/v1/charges/refund/1');
    assert.equal(rec.responseCodeDetails, 'rbac_access_denied_matched_policy[ns[istio-egress]-policy[payments-deny]-rule[0]]');
  });

  // The DENY's own details are asserted: a bare 403 would also come from the ALLOW's default deny
  // (cart may POST only /v1/charges), so it would pass with DENY, or normalisation, switched off.
  const refundDeny = 'rbac_access_denied_matched_policy[ns[istio-egress]-policy[payments-deny]-rule[0]]';
  for (const [label, path] of [
    ['dot-segments', '/v1/x/../charges/refund/2'],
    ['a single-dot segment', '/v1/./charges/refund/3'],
    ['a percent-encoded unreserved character', '/v1/charges/%72efund/4'],
    ['a backslash', '/v1/charges\\refund/5'],
  ] as const) {
    test(`paths are normalised before matching, so ${label} cannot dodge a DENY`, async () => {
      const r = await as('cart', ['--path-as-is', '-X', 'POST', `http://payments.test${path}`]);
      assert.equal(r.status, 403);
      const rec = await wp.nextRecord((x) => x.authority === 'payments.test' && x.responseCode === 403 && x.path === path);
      assert.equal(rec.responseCodeDetails, refundDeny);
      const n = path.at(-1)!;
      assert.ok(!up.received.some((e) => e.url.includes(`efund/${n}`)), 'nothing reached the upstream');
    });
  }

  test('the normalised path is what goes upstream, and what an ALLOW matches', async () => {
    const r = await as('cart', ['--path-as-is', '-X', 'POST', 'http://payments.test/v1/x/../%63harges']);
    assert.equal(r.status, 200, 'allowed as POST /v1/charges');
    assert.ok(up.received.some((e) => e.method === 'POST' && e.url === '/v1/charges'), 'the upstream saw POST /v1/charges');
    assert.ok(!up.received.some((e) => e.url.includes('..') || e.url.includes('%63')));
  });

  test('a service with no policy is open; a CONNECT denied at L4 gets a 403, not a silent close', async () => {
    assert.equal((await as('web', ['http://open.test/any'])).status, 200);
    const r = await as('web', ['-v', '-p', 'http://raw.test:80/']);
    assert.match(r.stderr, /403/);
    const rec = await wp.nextRecord((x) => x.method === 'CONNECT' && x.authority === 'raw.test:80');
    assert.equal(rec.responseCode, 403);
    assert.equal(rec.responseCodeDetails, 'rbac_access_denied_matched_policy[ns[istio-egress]-policy[raw-deny]-rule[0]]');
  });
});
