// VirtualService HTTP routes against what Istio's waypoint does (istiod's route.go translated to
// Envoy), over real sockets: fault defaults and order, gRPC aborts, redirects and direct responses
// as Envoy's local replies, route names, Host edits and where destination header edits go.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { destinationRule, serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { startHttpUpstream, type EchoBody, type HttpUpstream } from '../helpers/upstream.ts';

const vs = (name: string, host: string, http: string) => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: istio-egress}
spec:
  hosts: [${host}]
  http:
${http.trim().split('\n').map((l) => `  ${l}`).join('\n')}
`;

// 0xff 0x00 0x80 0x0a: not UTF-8, and a newline Envoy must not add or strip.
const BYTES = Buffer.from([0xff, 0x00, 0x80, 0x0a]);

describe('VirtualService HTTP routes as Istio builds them', () => {
  let a: HttpUpstream;
  let b: HttpUpstream;
  let wp: InProcess;

  before(async () => {
    a = await startHttpUpstream({ name: 'a' });
    b = await startHttpUpstream({ name: 'b' });
    const se = (name: string, port: number) => serviceEntry(name, `hosts: [${name}.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);
    wp = await startInProcess(WAYPOINT_YAML + se('a', a.port) + se('b', b.port) + vs('a', 'a.test', `
- match: [{uri: {prefix: /fault/no-percent/delay}}]
  fault: {delay: {fixedDelay: 3s}}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /fault/no-percent/abort}}]
  fault: {abort: {httpStatus: 418}}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /fault/both}}]
  fault: {delay: {fixedDelay: 300ms, percentage: {value: 100}}, abort: {httpStatus: 429, percentage: {value: 100}}}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /fault/grpc}}]
  fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /redirect/zero}}]
  redirect: {uri: /moved, redirectCode: 0}
  headers: {response: {set: {x-from: redirect}}}
- match: [{uri: {prefix: /direct/bytes}}]
  directResponse: {status: 200, body: {bytes: "${BYTES.toString('base64')}"}}
- match: [{uri: {prefix: /direct/json}}]
  directResponse: {status: 503, body: {string: '{"error":"down"}'}}
  headers: {response: {set: {content-type: application/json}, add: {x-direct: "yes"}}}
- match: [{uri: {prefix: /direct/created}}]
  directResponse: {status: 201}
- name: named
  match: [{name: first, uri: {prefix: /named/first}}, {uri: {prefix: /named/second}}]
  route: [{destination: {host: a.test}}]
- match: [{name: only-match, uri: {prefix: /matchname}}]
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /host/set}}]
  headers: {request: {set: {host: set.example}}}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /host/pseudo}}]
  headers: {request: {add: {":authority": pseudo.example}, remove: [x-drop]}}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /host/both}}]
  rewrite: {authority: route.example}
  route: [{destination: {host: a.test}, headers: {request: {set: {host: dest.example}}}}]
- match: [{uri: {prefix: /host/dest}}]
  route: [{destination: {host: a.test}, headers: {request: {set: {host: dest.example}}}}]
- match: [{uri: {prefix: /edits/single}}]
  headers: {request: {set: {x-both: route, x-kept: route}}, response: {set: {x-resp: route}}}
  route: [{destination: {host: a.test}, headers: {request: {set: {x-both: dest}, remove: [x-kept]}, response: {set: {x-resp: dest}}}}]
- match: [{uri: {prefix: /delay}, headers: {x-hdr: {exact: "1"}}}]
  timeout: 100ms
  headers: {response: {set: {x-route: timed}}}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /nowhere}}]
  headers: {response: {set: {x-route: nowhere}}}
  route: [{destination: {host: missing.test}}]
- match: [{uri: {prefix: /delay}, headers: {x-route-timeout: {exact: "1s"}}}]
  timeout: 1s
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /delay}}]
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /vars}}]
  headers:
    request: {set: {x-client: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", x-copy: "from %REQ(x-src)% at 100%%", x-proto: "%PROTOCOL%", x-none: "%REQ(x-missing)%"}}
    response: {add: {x-up: "%UPSTREAM_REMOTE_ADDRESS%", x-start: "%START_TIME%"}}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /expect}}]
  timeout: 2s
  retries: {attempts: 1, perTryTimeout: 500ms}
  rewrite: {uri: /rewritten}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /timeout-only}}]
  timeout: 1500ms
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /cors-direct}}]
  corsPolicy: {allowOrigins: [{exact: "https://app.example"}], exposeHeaders: [x-exposed]}
  directResponse: {status: 200, body: {string: ok}}
- match: [{uri: {prefix: /cors-abort}}]
  corsPolicy: {allowOrigins: [{exact: "https://app.example"}]}
  fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /slow-upload}}]
  timeout: 300ms
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /slow-try}}]
  retries: {attempts: 1, perTryTimeout: 300ms}
  route: [{destination: {host: a.test}}]
- match: [{uri: {prefix: /edits/weighted}}]
  headers: {request: {set: {x-both: route}}, response: {set: {x-resp: route}}}
  route:
  - {destination: {host: a.test}, weight: 100, headers: {request: {set: {x-both: dest, x-dest-only: dest}}, response: {set: {x-resp: dest}}}}
  - {destination: {host: b.test}, weight: 0}
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

  test('a fault without a percentage never fires (Envoy reads an unset percentage as 0)', async () => {
    const t0 = Date.now();
    const d = await get('http://a.test/fault/no-percent/delay');
    assert.equal(d.status, 200);
    assert.ok(Date.now() - t0 < 2500, 'not delayed');
    const ab = await get('http://a.test/fault/no-percent/abort');
    assert.equal(ab.status, 200);
    const rec = await wp.nextRecord((x) => x.path === '/fault/no-percent/abort');
    assert.equal(rec.responseFlags, '-');
  });

  test('a delay and an abort both at 100%: delayed, then aborted (DI,FI), body as Envoy sends it', async () => {
    const t0 = Date.now();
    const r = await get('http://a.test/fault/both');
    assert.ok(Date.now() - t0 >= 290, `delayed ${Date.now() - t0}ms`);
    assert.equal(r.status, 429);
    assert.equal(r.stdout, 'fault filter abort');
    assert.match(r.stderr, /content-type: text\/plain\r?$/im);
    const rec = await wp.nextRecord((x) => x.path === '/fault/both');
    assert.equal(rec.responseFlags, 'DI,FI');
    assert.equal(rec.responseCodeDetails, 'fault_filter_abort');
  });

  test('a grpcStatus abort: HTTP 200, and grpc-status for a gRPC request', async () => {
    const plain = await get('http://a.test/fault/grpc');
    assert.equal(plain.status, 200);
    assert.equal(plain.stdout, 'fault filter abort');
    const grpc = await get('http://a.test/fault/grpc', ['-X', 'POST', '-H', 'content-type: application/grpc', '--data-binary', '']);
    assert.equal(grpc.status, 200);
    assert.match(grpc.stderr, /grpc-status: 14\r?$/m);
    assert.match(grpc.stderr, /grpc-message: fault filter abort/);
    const rec = await wp.nextRecord((x) => x.path === '/fault/grpc' && x.grpcStatus === '14');
    assert.equal(rec.responseFlags, 'FI');
  });

  test('redirectCode 0 is 301; the redirect has no body and carries the route response headers', async () => {
    const r = await get('http://a.test/redirect/zero?q=1');
    assert.equal(r.status, 301);
    assert.match(r.stderr, /location: http:\/\/a\.test\/moved\?q=1/i);
    assert.match(r.stderr, /x-from: redirect/);
    assert.equal(r.stdout, '');
  });

  test('directResponse: bytes stay binary; route response headers apply and set the content-type', async () => {
    const bytes = await new Promise<{ status: number; type: string | undefined; body: Buffer }>((resolve, reject) => {
      const { hostname, port } = new URL(wp.proxyUrl);
      request({ host: hostname, port, path: 'http://a.test/direct/bytes', headers: { host: 'a.test' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body: Buffer.concat(chunks) }));
      }).on('error', reject).end();
    });
    assert.equal(bytes.status, 200);
    assert.deepEqual([...bytes.body], [...BYTES]);
    assert.equal(bytes.type, 'text/plain');
    const json = await get('http://a.test/direct/json');
    assert.equal(json.status, 503);
    assert.equal(json.stdout, '{"error":"down"}');
    assert.match(json.stderr, /content-type: application\/json/i);
    assert.doesNotMatch(json.stderr, /text\/plain/i);
    assert.match(json.stderr, /x-direct: yes/);
    const created = await get('http://a.test/direct/created/x?y=1');
    assert.equal(created.status, 201);
    assert.match(created.stderr, /location: http:\/\/a\.test\/direct\/created\/x\?y=1/i, 'Envoy adds the request URL as Location to a 201 or 3xx direct response');
  });

  test('route names: <http name>.<match name> when the match is named, as translateRoute writes them', async () => {
    for (const [path, name] of [['/named/first', 'named.first'], ['/named/second', 'named'], ['/matchname', '.only-match']]) {
      assert.equal((await get(`http://a.test${path}`)).status, 200);
      const rec = await wp.nextRecord((x) => x.path === path);
      assert.equal(rec.routeName, name, path);
    }
  });

  test('a host / :authority header edit is a host rewrite, never a second Host header; the route\'s wins over the destination\'s', async () => {
    const set = echo(await get('http://a.test/host/set'));
    assert.equal(set.headers.host, 'set.example');
    assert.equal(set.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'host').length, 1);
    const pseudo = await get('http://a.test/host/pseudo', ['-H', 'x-drop: 1']);
    assert.equal(pseudo.status, 200);
    assert.equal(echo(pseudo).headers.host, 'pseudo.example');
    assert.equal(echo(pseudo).headers['x-drop'], undefined);
    assert.equal(echo(await get('http://a.test/host/both')).headers.host, 'route.example');
    assert.equal(echo(await get('http://a.test/host/dest')).headers.host, 'dest.example');
  });

  test('destination header edits: one destination shares the route\'s list (removes first); a weighted one runs before the route\'s', async () => {
    const single = await get('http://a.test/edits/single', ['-H', 'x-kept: client']);
    const s = echo(single);
    assert.equal(s.headers['x-both'], 'dest');
    assert.equal(s.headers['x-kept'], 'route', 'Envoy removes first, then sets: the route\'s set survives the destination\'s remove');
    assert.match(single.stderr, /x-resp: dest/);
    const weighted = await get('http://a.test/edits/weighted');
    const w = echo(weighted);
    assert.equal(w.upstream, 'a');
    assert.equal(w.headers['x-both'], 'route', 'the route\'s set runs after the weighted cluster\'s');
    assert.equal(w.headers['x-dest-only'], 'dest');
    assert.match(weighted.stderr, /x-resp: route/);
  });

  test('a gRPC request\'s grpc-timeout is its route timeout, capped by the route\'s (istiod sets max_grpc_timeout)', async () => {
    const grpc = (timeout: string, extra: string[] = []) => get('http://a.test/delay/1500', ['-X', 'POST', '-H', 'content-type: application/grpc', '-H', `grpc-timeout: ${timeout}`, ...extra, '--data-binary', '']);
    let t0 = Date.now();
    const r = await grpc('200m');
    assert.ok(Date.now() - t0 < 1200, `timed out after ${Date.now() - t0}ms`);
    assert.equal(r.status, 200);
    assert.match(r.stderr, /grpc-status: 14\r?$/m);
    const rec = await wp.nextRecord((x) => x.path === '/delay/1500' && x.responseFlags === 'UT');
    assert.equal(rec.responseCodeDetails, 'upstream_response_timeout');
    t0 = Date.now();
    await grpc('1M', ['-H', 'x-route-timeout: 1s']);
    const took = Date.now() - t0;
    assert.ok(took >= 950 && took < 1450, `the route's 1s caps a longer grpc-timeout (took ${took}ms)`);
    // Not gRPC: the header means nothing, and the route has no timeout.
    const plain = await get('http://a.test/delay/300', ['-H', 'grpc-timeout: 50m']);
    assert.equal(plain.status, 200);
  });

  test('the router\'s own replies (504 UT, 503 NC) carry the route\'s response headers, as Envoy\'s modify_headers_ adds them', async () => {
    const timed = await get('http://a.test/delay/1000', ['-H', 'x-hdr: 1']);
    assert.equal(timed.status, 504);
    assert.match(timed.stderr, /x-route: timed/);
    const nc = await get('http://a.test/nowhere');
    assert.equal(nc.status, 503);
    assert.match(nc.stderr, /x-route: nowhere/);
  });

  test('header edit values fill in Envoy variables per request; one that comes out empty is not added', async () => {
    const r = await get('http://a.test/vars', ['-H', 'x-src: tests']);
    const e = echo(r);
    assert.equal(e.headers['x-client'], '127.0.0.1');
    assert.equal(e.headers['x-copy'], 'from tests at 100%');
    assert.equal(e.headers['x-proto'], 'HTTP/1.1');
    assert.equal(e.headers['x-none'], undefined);
    assert.match(r.stderr, new RegExp(`x-up: 127\\.0\\.0\\.1:${a.port}`));
    assert.match(r.stderr, /x-start: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/);
  });

  test('Envoy\'s router headers upstream: x-envoy-original-path after a rewrite, x-envoy-expected-rq-timeout-ms from the timeouts', async () => {
    const e = echo(await get('http://a.test/expect/x?q=1'));
    assert.equal(e.url, '/rewritten/x?q=1');
    assert.equal(e.headers['x-envoy-original-path'], '/expect/x?q=1');
    assert.equal(e.headers['x-envoy-expected-rq-timeout-ms'], '500', 'the per-try timeout, below the route\'s');
    const t = echo(await get('http://a.test/timeout-only'));
    assert.equal(t.headers['x-envoy-expected-rq-timeout-ms'], '1500');
    assert.equal(t.headers['x-envoy-original-path'], undefined, 'no rewrite, no original path');
    const none = echo(await get('http://a.test/edits/single'));
    assert.equal(none.headers['x-envoy-expected-rq-timeout-ms'], undefined, 'no timeout, no header');
  });

  test('CORS grants reach replies made at the waypoint too (direct response, fault abort), as Envoy\'s CORS filter decorates them', async () => {
    const d = await get('http://a.test/cors-direct', ['-H', 'origin: https://app.example']);
    assert.equal(d.status, 200);
    assert.match(d.stderr, /access-control-allow-origin: https:\/\/app\.example/);
    assert.match(d.stderr, /access-control-expose-headers: x-exposed/);
    const f = await get('http://a.test/cors-abort', ['-H', 'origin: https://app.example']);
    assert.equal(f.status, 503);
    assert.match(f.stderr, /access-control-allow-origin: https:\/\/app\.example/);
  });

  test('the route timeout runs from the end of the request: a slow upload longer than the timeout still succeeds', async () => {
    const { hostname, port } = new URL(wp.proxyUrl);
    const t0 = Date.now();
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: hostname, port, method: 'POST', path: 'http://a.test/slow-upload', headers: { host: 'a.test', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      let n = 0;
      const tick = setInterval(() => {
        req.write('x'.repeat(100));
        if (++n === 6) { clearInterval(tick); req.end(); }
      }, 120);
    });
    assert.ok(Date.now() - t0 >= 600, 'the upload took longer than the 300ms timeout');
    assert.equal(status, 200);
  });

  test('a per-try timeout also starts once the request is sent in full', async () => {
    const { hostname, port } = new URL(wp.proxyUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: hostname, port, method: 'POST', path: 'http://a.test/slow-try', headers: { host: 'a.test', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      let n = 0;
      const tick = setInterval(() => {
        req.write('x'.repeat(100));
        if (++n === 6) { clearInterval(tick); req.end(); }
      }, 120);
    });
    assert.equal(status, 200);
  });
});

describe('meshConfig defaultHttpRetryPolicy: the retries of routes that set none', () => {
  let up: HttpUpstream;
  let wp: InProcess;
  const seen = new Map<string, number>();

  before(async () => {
    // Answers 503 to the first try of each x-test-id, 200 after.
    up = await startHttpUpstream({
      name: 'up', routes: {
        '/once': ({ req, res }) => {
          const id = String(req.headers['x-test-id']);
          const n = (seen.get(id) ?? 0) + 1;
          seen.set(id, n);
          res.writeHead(n === 1 ? 503 : 200, { 'content-type': 'text/plain' }).end(`try ${n}`);
        },
      },
    });
    const se = (name: string) => serviceEntry(name, `hosts: [${name}.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);
    wp = await startInProcess(WAYPOINT_YAML + se('plain') + se('routed') + vs('routed', 'routed.test', `
- match: [{headers: {x-own: {exact: "1"}}}]
  retries: {attempts: 1, retryOn: "503"}
  route: [{destination: {host: routed.test}}]
- route: [{destination: {host: routed.test}}]
`), { compile: { defaultHttpRetryPolicy: { attempts: 0 } } });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
  });

  const get = (url: string, id: string, extra: string[] = []) => curl(['-x', wp.proxyUrl, '-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `x-test-id: ${id}`, ...extra, url]);

  test('attempts 0 turns the waypoint default and an unset VirtualService retries off; a route\'s own retries stay', async () => {
    assert.equal((await get('http://plain.test/once', 'p1')).stdout, '503', 'the default route (DefaultPolicy would retry a 503)');
    assert.equal((await get('http://routed.test/once', 'r1')).stdout, '503', 'a VirtualService rule without retries');
    assert.equal((await get('http://routed.test/once', 'r2', ['-H', 'x-own: 1'])).stdout, '200', 'a rule with its own retries');
  });
});

describe('DestinationRule consistentHash httpCookie: Envoy makes the cookie a request lacks', () => {
  const ups: HttpUpstream[] = [];
  let wp: InProcess;

  before(async () => {
    for (const name of ['x', 'y', 'z']) ups.push(await startHttpUpstream({ name }));
    const endpoints = ups.map((u) => `{address: 127.0.0.1, ports: {http: ${u.port}}}`).join(', ');
    const se = (name: string) => serviceEntry(name, `hosts: [${name}.test]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: STATIC\nendpoints: [${endpoints}]`);
    wp = await startInProcess(WAYPOINT_YAML + se('session') + se('lasting')
      + destinationRule('session', '{loadBalancer: {consistentHash: {httpCookie: {name: user, ttl: 0s}}}}')
      + destinationRule('lasting', '{loadBalancer: {consistentHash: {httpCookie: {name: sid, ttl: 3600s, path: /app, attributes: [{name: SameSite, value: Strict}, {name: Secure}]}}}}'));
  });
  after(async () => {
    await wp?.close();
    await Promise.all(ups.map((u) => u.close()));
  });

  const get = async (url: string, cookie?: string) => {
    const r = await curl(['-x', wp.proxyUrl, '-s', '-i', ...(cookie ? ['-H', `cookie: ${cookie}`] : []), url]);
    const cut = r.stdout.indexOf('\r\n\r\n');
    const head = r.stdout.slice(0, cut);
    return { head, upstream: (JSON.parse(r.stdout.slice(cut + 4)) as EchoBody).upstream, setCookie: /^set-cookie: (.*?)\r?$/im.exec(head)?.[1] };
  };

  test('a request without the cookie gets Set-Cookie; sending it back keeps the same endpoint', async () => {
    for (let client = 0; client < 4; client++) {
      const first = await get('http://session.test/');
      assert.match(first.setCookie ?? '', /^user="[0-9a-f]{16}"; HttpOnly$/, 'a session cookie: no Max-Age');
      const value = /"(.*)"/.exec(first.setCookie!)![1]!;
      for (const sent of [`user="${value}"`, `other=1; user=${value}`]) {
        const again = await get('http://session.test/', sent);
        assert.equal(again.upstream, first.upstream, `${sent} sticks to ${first.upstream}`);
        assert.equal(again.setCookie, undefined, 'no new cookie once the request has one');
      }
    }
    const lasting = await get('http://lasting.test/app');
    assert.match(lasting.setCookie ?? '', /^sid="[0-9a-f]{16}"; Max-Age=3600; Path=\/app; SameSite=Strict; Secure; HttpOnly$/);
  });
});

describe('retries pick another endpoint than those tried (Envoy previous_hosts, as istiod sets it)', () => {
  let live: HttpUpstream;
  let wp: InProcess;

  before(async () => {
    live = await startHttpUpstream({ name: 'live' });
    const dead = await Promise.all([closedPort(), closedPort()]);
    const eps = [...dead, live.port].map((p) => `{address: 127.0.0.1, ports: {http: ${p}}}`).join(', ');
    wp = await startInProcess(WAYPOINT_YAML
      + serviceEntry('mostly-dead', `hosts: [mostly-dead.test]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: STATIC\nendpoints: [${eps}]`)
      + destinationRule('mostly-dead', '{loadBalancer: {simple: RANDOM}}'));
  });
  after(async () => {
    await wp?.close();
    await live?.close();
  });

  test('two of three endpoints refuse connections: the default two retries almost always reach the live one', async () => {
    // Random picks that may repeat fail about (2/3)^3 = 30% of requests (about 18 of 60); avoiding
    // the endpoints tried, with up to 5 picks per retry, about 4% (about 3 of 60).
    let failed = 0;
    for (let i = 0; i < 60; i++) if ((await curl(['-x', wp.proxyUrl, '-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://mostly-dead.test/'])).stdout !== '200') failed++;
    assert.ok(failed <= 8, `${failed} of 60 failed`);
  });
});

/** A loopback port with nothing listening: bound, then closed. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}
