// VirtualService and HTTPRoute at the waypoint over real sockets: matching, weights, rewrites,
// header edits, redirects, direct responses, timeouts, retries, faults, mirrors and CORS.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { startHttpUpstream, type EchoBody, type HttpUpstream, type RouteContext } from '../helpers/upstream.ts';

const vs = (name: string, host: string, http: string) => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: istio-egress}
spec:
  hosts: [${host}]
  http:
${http.trim().split('\n').map((l) => `  ${l}`).join('\n')}
`;

const hr = (name: string, se: string, rules: string) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: istio-egress}
spec:
  parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: ${se}}]
  rules:
${rules.trim().split('\n').map((l) => `  ${l}`).join('\n')}
`;

/** A loopback port with nothing listening: bound, then closed. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

describe('routes', () => {
  let a: HttpUpstream;
  let b: HttpUpstream;
  let wp: InProcess;
  const flaky = new Map<string, number>();
  const failing = (status: number) => ({ req, res }: RouteContext) => {
    const key = String(req.headers['x-test-id']);
    const n = (flaky.get(key) ?? 0) + 1;
    flaky.set(key, n);
    const want = Number(req.headers['x-fail-times'] ?? 0);
    res.writeHead(n <= want ? status : 200, { 'content-type': 'text/plain' }).end(`try ${n}\n`);
  };

  before(async () => {
    a = await startHttpUpstream({ name: 'a', routes: { '/flaky': failing(503), '/flaky-409': failing(409) } });
    b = await startHttpUpstream({ name: 'b' });
    const se = (name: string, port: number) => serviceEntry(name, `hosts: [${name}.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);
    const dead = await closedPort();
    const halfDead = serviceEntry('halfdead', `hosts: [halfdead.test]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1, ports: {http: ${dead}}}, {address: 127.0.0.1, ports: {http: ${a.port}}}]`);
    wp = await startInProcess(WAYPOINT_YAML + se('a', a.port) + se('b', b.port) + se('gw', a.port) + se('plain', a.port) + halfDead
      + vs('a', 'a.test', `
- name: to-b
  match: [{uri: {prefix: /v2/}, headers: {x-canary: {exact: "yes"}}}]
  rewrite: {uri: /v2-rewritten/}
  route: [{destination: {host: b.test}}]
  headers: {request: {set: {x-added: hello}}, response: {add: {x-resp: world}, remove: [x-powered-by]}}
- match: [{uri: {exact: /old}}]
  redirect: {uri: /new, authority: new.example.com, redirectCode: 308}
- match: [{uri: {prefix: /static}}]
  directResponse: {status: 418, body: {string: "i am a teapot"}}
- match: [{uri: {prefix: /delay}, headers: {x-mode: {exact: timeout}}}]
  timeout: 200ms
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /flaky-409}}]
  retries: {attempts: 2, retryOn: retriable-4xx}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /flaky}}]
  retries: {attempts: 3, retryOn: 5xx, perTryTimeout: 1s}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /delay}, headers: {x-mode: {exact: pertry}}}]
  retries: {attempts: 2, retryOn: 5xx, perTryTimeout: 100ms}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /abort}}]
  fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /mirror}}]
  mirror: {host: b.test}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /split}}]
  route: [{destination: {host: a.test}, weight: 80}, {destination: {host: b.test}, weight: 20}]
- match: [{uri: {prefix: /cors-ignore}}]
  corsPolicy: {allowOrigins: [{exact: "https://app.example"}], allowMethods: [GET], unmatchedPreflights: IGNORE}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /cors}}]
  corsPolicy: {allowOrigins: [{exact: "https://app.example"}], allowMethods: [GET, POST], maxAge: 1h}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /nowhere}}]
  route: [{destination: {host: missing.test}}]
`)
      + hr('gw', 'gw', `
- matches: [{path: {type: PathPrefix, value: /api}}]
  filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: x-route, value: prefix}]}}]
  backendRefs: [{group: networking.istio.io, kind: Hostname, name: b.test, port: 80}]
- matches: [{path: {type: Exact, value: /api/exact}}]
  filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /replaced}}}]
  backendRefs: [{group: networking.istio.io, kind: Hostname, name: b.test, port: 80}]
- matches: [{path: {type: PathPrefix, value: /cors}}]
  filters: [{type: CORS, cors: {allowOrigins: ["https://*.example.com"], allowMethods: [GET, PUT], maxAge: 600}}]
  backendRefs: [{group: networking.istio.io, kind: Hostname, name: b.test, port: 80}]
- matches: [{path: {type: PathPrefix, value: /cred}}]
  filters: [{type: CORS, cors: {allowOrigins: ["https://app.example"], allowMethods: ["*"], allowHeaders: ["*"], exposeHeaders: [x-exposed], allowCredentials: true}}]
  backendRefs: [{group: networking.istio.io, kind: Hostname, name: b.test, port: 80}]
- matches: [{path: {type: PathPrefix, value: /moved}}]
  filters: [{type: RequestRedirect, requestRedirect: {hostname: elsewhere.example, statusCode: 301}}]
- matches: [{path: {type: PathPrefix, value: /retry}}]
  filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /flaky}}}]
  retry: {attempts: 2, codes: [503], backoff: 10ms}
  backendRefs: [{group: networking.istio.io, kind: Hostname, name: a.test, port: 80}]
`));
  });
  after(async () => {
    await wp?.close();
    await a?.close();
    await b?.close();
  });

  /** curl -i, split into head (as `stderr`, for header regexes) and body (as `stdout`). */
  const get = async (url: string, args: string[] = []) => {
    const r = await curl(['-x', wp.proxyUrl, '-i', ...args, url]);
    const cut = r.stdout.indexOf('\r\n\r\n');
    return { ...r, stderr: r.stdout.slice(0, cut), stdout: r.stdout.slice(cut + 4) };
  };
  const echo = (r: { stdout: string }) => JSON.parse(r.stdout) as EchoBody;

  test('a header + prefix match routes to another host with a prefix rewrite and header edits', async () => {
    const r = await get('http://a.test/v2/items?q=1', ['-H', 'x-canary: yes']);
    assert.equal(r.status, 200);
    const e = echo(r);
    assert.equal(e.upstream, 'b');
    assert.equal(e.url, '/v2-rewritten/items?q=1');
    assert.equal(e.headers['x-added'], 'hello');
    assert.match(r.stderr, /x-resp: world/);
    const rec = await wp.nextRecord((x) => x.path === '/v2/items?q=1');
    assert.equal(rec.routeName, 'to-b');
    assert.equal(rec.upstreamCluster, 'inbound-vip|80|http|b.test');
    // istio_stats: destination_service comes from the upstream cluster's service metadata.
    assert.equal(rec.destinationService, 'b.test');
    const miss = await get('http://a.test/v2/items');
    assert.equal(miss.status, 404, 'no rule matches /v2 without the canary header, and the VirtualService has no catch-all');
    assert.match(miss.stderr, /x-egressway-flags: NR/i);
  });

  test('redirect and direct response', async () => {
    const r = await get('http://a.test/old?x=1');
    assert.equal(r.status, 308);
    assert.match(r.stderr, /location: http:\/\/new\.example\.com\/new/i);
    const d = await get('http://a.test/static/x');
    assert.equal(d.status, 418);
    assert.equal(d.stdout, 'i am a teapot'); // Envoy sends the body as configured
  });

  test('a route timeout gives 504 UT', async () => {
    const r = await get('http://a.test/delay/1000', ['-H', 'x-mode: timeout']);
    assert.equal(r.status, 504);
    const rec = await wp.nextRecord((x) => x.path === '/delay/1000' && x.responseCode === 504 && x.responseCodeDetails === 'upstream_response_timeout');
    assert.equal(rec.responseFlags, 'UT');
    assert.equal(rec.responseCodeDetails, 'upstream_response_timeout');
  });

  test('retries: 5xx twice then success; 409 with retriable-4xx; exhausted attempts pass the last response through', async () => {
    const ok = await get('http://a.test/flaky', ['-H', 'x-test-id: t1', '-H', 'x-fail-times: 2']);
    assert.equal(ok.status, 200);
    assert.equal(ok.stdout, 'try 3\n');
    const c409 = await get('http://a.test/flaky-409', ['-H', 'x-test-id: t2', '-H', 'x-fail-times: 1']);
    assert.equal(c409.stdout, 'try 2\n');
    const gaveUp = await get('http://a.test/flaky', ['-H', 'x-test-id: t3', '-H', 'x-fail-times: 9']);
    assert.equal(gaveUp.status, 503);
    assert.equal(gaveUp.stdout, 'try 4\n', 'the first try plus 3 retries');
  });

  test('a POST body within the buffer limit is resent on retry', async () => {
    const r = await get('http://a.test/flaky', ['-H', 'x-test-id: t4', '-H', 'x-fail-times: 1', '--data-binary', 'payload']);
    assert.equal(r.stdout, 'try 2\n');
  });

  test('a streamed body above the buffer limit is not retried', async () => {
    const file = join(tmpdir(), `egw-big-${process.pid}`);
    await writeFile(file, 'x'.repeat(200 * 1024));
    const r = await get('http://a.test/flaky', ['-H', 'x-test-id: t5', '-H', 'x-fail-times: 1', '--data-binary', `@${file}`]);
    assert.equal(r.status, 503);
    assert.equal(flaky.get('t5'), 1);
  });

  test('perTryTimeout retries a slow try and ends with 504 UT when every try is slow', async () => {
    a.resetStats();
    const r = await get('http://a.test/delay/500', ['-H', 'x-mode: pertry']);
    assert.equal(r.status, 504);
    assert.equal(a.stats.paths.get('/delay/500'), 3, 'the first try and two retries');
    const rec = await wp.nextRecord((x) => x.path === '/delay/500' && x.responseCodeDetails === 'upstream_per_try_timeout');
    assert.equal(rec.responseCodeDetails, 'upstream_per_try_timeout');
    assert.match(rec.responseFlags, /^UT/);
  });

  test('fault abort at 50% aborts about half of 200 requests with FI', async () => {
    let aborted = 0;
    for (let i = 0; i < 200; i++) if ((await get('http://a.test/abort')).status === 503) aborted++;
    // Binomial(200, 0.5): 5 standard deviations is about ±35.
    assert.ok(aborted > 65 && aborted < 135, `${aborted} aborted`);
    const rec = await wp.nextRecord((x) => x.path === '/abort' && x.responseFlags === 'FI');
    assert.equal(rec.responseCodeDetails, 'fault_filter_abort');
  });

  test('weighted split lands within statistical bounds', async () => {
    let toB = 0;
    for (let i = 0; i < 200; i++) if (echo(await get('http://a.test/split')).upstream === 'b') toB++;
    assert.ok(toB > 15 && toB < 70, `${toB} of 200 went to b (expect ~40)`);
  });

  test('mirror sends a copy to the second upstream with a -shadow host', async () => {
    b.resetStats();
    const r = await get('http://a.test/mirror/x');
    assert.equal(echo(r).upstream, 'a');
    for (let i = 0; i < 50 && b.received.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(b.received[0]?.headers.host, 'a.test-shadow');
  });

  test('CORS preflight is answered at the waypoint', async () => {
    const r = await get('http://a.test/cors', ['-X', 'OPTIONS', '-H', 'Origin: https://app.example', '-H', 'Access-Control-Request-Method: POST']);
    assert.equal(r.status, 200);
    assert.match(r.stderr, /access-control-allow-origin: https:\/\/app\.example/i);
    assert.match(r.stderr, /access-control-max-age: 3600/i);
    assert.equal(a.received.some((x) => x.url === '/cors' && x.method === 'OPTIONS'), false);
  });

  test('a route to a host the waypoint does not serve is 503 NC; no matching rule is 404 NR', async () => {
    const nc = await get('http://a.test/nowhere');
    assert.equal(nc.status, 503);
    assert.match(nc.stderr, /x-egressway-flags: NC/i);
  });

  test('HTTPRoute: exact beats prefix regardless of order, filters apply, redirect, retry codes', async () => {
    const exact = echo(await get('http://gw.test/api/exact'));
    assert.equal(exact.url, '/replaced');
    const prefix = echo(await get('http://gw.test/api/other'));
    assert.equal(prefix.upstream, 'b');
    assert.equal(prefix.headers['x-route'], 'prefix');
    const notSegment = await get('http://gw.test/apiother');
    assert.equal(notSegment.status, 404, 'PathPrefix /api does not match /apiother');
    const moved = await get('http://gw.test/moved/x');
    assert.equal(moved.status, 301);
    assert.match(moved.stderr, /location: http:\/\/elsewhere\.example\/moved\/x/i);
    const retried = await get('http://gw.test/retry', ['-H', 'x-test-id: t6', '-H', 'x-fail-times: 2']);
    assert.equal(retried.status, 200);
    assert.equal(retried.stdout, 'try 3\n', 'retry.codes [503] with 2 attempts, after a ReplacePrefixMatch rewrite to /flaky');
  });

  test('HTTPRoute CORS filter: wildcard origin preflight answered, other origins not decorated', async () => {
    const pre = await get('http://gw.test/cors/x', ['-X', 'OPTIONS', '-H', 'Origin: https://app.example.com', '-H', 'Access-Control-Request-Method: PUT']);
    assert.equal(pre.status, 200);
    assert.match(pre.stderr, /access-control-allow-methods: GET,PUT/i);
    assert.match(pre.stderr, /access-control-max-age: 600/i);
    const other = await get('http://gw.test/cors/x', ['-H', 'Origin: https://evil.test']);
    assert.equal(other.status, 200);
    assert.doesNotMatch(other.stderr, /access-control-allow-origin/i);
  });

  test('HTTPRoute CORS preflight: expose-headers, `*` echoed as asked with allowCredentials, an unmatched origin answered here', async () => {
    b.resetStats();
    const pre = await get('http://gw.test/cred/x', ['-X', 'OPTIONS', '-H', 'Origin: https://app.example',
      '-H', 'Access-Control-Request-Method: PATCH', '-H', 'Access-Control-Request-Headers: x-a, x-b']);
    assert.equal(pre.status, 200);
    assert.match(pre.stderr, /access-control-allow-origin: https:\/\/app\.example\r\n/i);
    assert.match(pre.stderr, /access-control-allow-credentials: true/i);
    assert.match(pre.stderr, /access-control-allow-methods: PATCH\r\n/i, 'a credentialed preflight cannot use a literal *');
    assert.match(pre.stderr, /access-control-allow-headers: x-a, x-b\r\n/i);
    assert.match(pre.stderr, /access-control-expose-headers: x-exposed/i);
    const evil = await get('http://gw.test/cred/x', ['-X', 'OPTIONS', '-H', 'Origin: https://evil.test', '-H', 'Access-Control-Request-Method: DELETE']);
    assert.equal(evil.status, 200);
    assert.doesNotMatch(evil.stderr, /access-control-allow-origin/i);
    assert.doesNotMatch(evil.stderr, /access-control-expose-headers/i);
    assert.equal(b.stats.requests, 0, 'neither preflight reached the backend');
    const actual = await get('http://gw.test/cred/x', ['-H', 'Origin: https://app.example']);
    assert.match(actual.stderr, /access-control-expose-headers: x-exposed/i);
    assert.equal(b.stats.requests, 1);
  });

  test('VirtualService CORS: a preflight from an origin not allowed is forwarded (FORWARD, the default), or answered here with IGNORE', async () => {
    a.resetStats();
    const r = await get('http://a.test/cors', ['-X', 'OPTIONS', '-H', 'Origin: https://evil.test', '-H', 'Access-Control-Request-Method: POST']);
    assert.doesNotMatch(r.stderr, /access-control-allow-origin/i);
    assert.equal(a.received.some((x) => x.url === '/cors' && x.method === 'OPTIONS'), true);
    const ignored = await get('http://a.test/cors-ignore', ['-X', 'OPTIONS', '-H', 'Origin: https://evil.test', '-H', 'Access-Control-Request-Method: POST']);
    assert.equal(ignored.status, 200);
    assert.doesNotMatch(ignored.stderr, /access-control-allow-origin/i);
    assert.equal(a.received.some((x) => x.url === '/cors-ignore'), false, 'unmatchedPreflights: IGNORE answers it at the waypoint');
  });

  test('without a route object, the default retry policy retries a 503 twice (retry.go DefaultPolicy), not other codes', async () => {
    const once = await get('http://plain.test/flaky', ['-H', 'x-test-id: d1', '-H', 'x-fail-times: 1']);
    assert.equal(once.status, 200, 'a single 503 is hidden from the client, as Istio hides it');
    assert.equal(once.stdout, 'try 2\n');
    const rec = await wp.nextRecord((x) => x.authority === 'plain.test' && x.path === '/flaky');
    assert.equal(rec.routeName, 'default');
    assert.equal(rec.responseFlags, '-');
    const always = await get('http://plain.test/flaky', ['-H', 'x-test-id: d2', '-H', 'x-fail-times: 9']);
    assert.equal(always.status, 503);
    assert.equal(always.stdout, 'try 3\n', 'the first try plus 2 retries');
    // Envoy flags a response forwarded because the retries ran out: "503 URX via_upstream".
    const spent = await wp.nextRecord((x) => x.authority === 'plain.test' && x.path === '/flaky' && x.responseCode === 503);
    assert.deepEqual([spent.responseFlags, spent.responseCodeDetails], ['URX', 'via_upstream']);
    const conflict = await get('http://plain.test/flaky-409', ['-H', 'x-test-id: d3', '-H', 'x-fail-times: 1']);
    assert.equal(conflict.status, 409, '409 is not in the default retriable codes');
    const rec409 = await wp.nextRecord((x) => x.authority === 'plain.test' && x.responseCode === 409);
    assert.equal(rec409.responseFlags, '-', 'a response that is not retriable is not URX');
  });

  // Connection failures are retried too: two endpoints, one refusing connections; round robin sends
  // half the first tries there, and each is retried on the live one, so every request succeeds
  // (without retries, half would be 503 UF). Upstream attempts are counted.
  test('without a route object, the default retry policy retries a refused connection on another endpoint', async () => {
    const before = a.stats.paths.get('/half') ?? 0;
    for (let i = 0; i < 6; i++) assert.equal((await get('http://halfdead.test/half')).status, 200, `request ${i}`);
    assert.equal((a.stats.paths.get('/half') ?? 0) - before, 6, 'each request reached the live endpoint once');
  });
});
