// Config regexes run in linear time, as Envoy's RE2 runs them (src/compile/linear-regex.ts).
// Regression: V8's backtracking engine ran a VirtualService `uri: {regex: "/re/(a+)+b"}` against a
// 40-character path for hours, with the event loop held: every other client, the admin port and
// /healthz/ready went unanswered. The waypoint is a child process here, so that the test's own
// timers still run when it stalls.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compileRegex } from '../../src/compile/route-match.ts';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { startWaypoint, type Waypoint } from '../helpers/waypoint.ts';

const EVIL = 'a'.repeat(40);

describe('route regexes cannot stall the waypoint (ReDoS)', () => {
  let up: HttpUpstream;
  let dir: TmpDir;
  let wp: Waypoint;

  before(async () => {
    up = await startHttpUpstream();
    dir = await tmpDir();
    await writeFile(join(dir.path, 'c.yaml'), WAYPOINT_YAML
      + serviceEntry('api', `hosts: [api.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`)
      + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: istio-egress}
spec:
  hosts: [api.test]
  http:
  - match: [{uri: {regex: "/re/(a+)+b"}}]
    directResponse: {status: 299}
  - match: [{headers: {x-id: {regex: "(x|x)*y"}}}]
    directResponse: {status: 298}
  - match: [{uri: {regex: "/dns/[a-z0-9-]{1,63}"}}]
    directResponse: {status: 297}
  - match: [{uri: {prefix: /rw/}}]
    rewrite: {uriRegexRewrite: {match: "/rw/(a+)+b", rewrite: /done}}
    route: [{destination: {host: api.test}}]
  - route: [{destination: {host: api.test}}]
`);
    wp = await startWaypoint({ configDir: dir.path });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    await dir?.close();
  });

  const get = (path: string, extra: string[] = []) =>
    curl(['--max-time', '5', '-x', wp.proxyUrl, ...extra, `http://api.test${path}`], { timeoutMs: 10_000 });

  for (const [name, path, extra] of [
    ['a uri regex', `/re/${EVIL}`, []],
    ['a header regex', '/h', ['-H', `x-id: ${'x'.repeat(40)}`]],
    ['a uriRegexRewrite', `/rw/${EVIL}`, []],
  ] as const) {
    test(`${name} with catastrophic backtracking answers at once, and the next client is served`, async () => {
      const t0 = Date.now();
      const r = await get(path, [...extra]);
      assert.equal(r.code, 0, `no answer within 5 s (curl exit ${r.code}): the event loop is held`);
      assert.equal(r.status, 200, r.stdout);
      assert.ok(Date.now() - t0 < 3_000, `took ${Date.now() - t0} ms`);
      const next = await get('/ok');
      assert.equal(next.status, 200, next.stdout);
    });
  }

  test('the regexes still match what they match: 299, 298, and a count over 16 ({1,63})', async () => {
    assert.equal((await get(`/re/${EVIL}b`)).status, 299);
    assert.equal((await get('/h', ['-H', 'x-id: xxxy'])).status, 298);
    assert.equal((await get(`/dns/${'a'.repeat(63)}`)).status, 297);
    assert.equal((await get(`/dns/${'a'.repeat(64)}`)).status, 200, '64 characters are past {1,63}: the catch-all route');
  });
});

describe('compileRegex: linear time, RE2 semantics', () => {
  test('counted repetitions over 16 match exactly the same strings, with the same groups', () => {
    const cases: [string, string[]][] = [
      ['[a-z]{1,63}', ['', 'a', 'a'.repeat(63), 'a'.repeat(64), 'A']],
      ['(ab){20}c', [`${'ab'.repeat(20)}c`, `${'ab'.repeat(19)}c`, `${'ab'.repeat(21)}c`]],
      ['a{17,}?b', [`${'a'.repeat(17)}b`, `${'a'.repeat(16)}b`, `${'a'.repeat(40)}b`]],
      ['\\x41{20}', ['A'.repeat(20), 'A'.repeat(19), '1'.repeat(20)]],
      ['(?:[a-z0-9]{1,16}\\.){1,4}com', ['a.com', 'a.b.c.d.com', 'a.b.c.d.e.com', `${'x'.repeat(16)}.com`, `${'x'.repeat(17)}.com`]],
      ['(x){0,20}(y)', ['y', `${'x'.repeat(20)}y`, `${'x'.repeat(21)}y`]],
      ['[\\]a]{18}', [']a'.repeat(9), 'a'.repeat(17)]],
    ];
    for (const [source, inputs] of cases) {
      const c = compileRegex(source);
      assert.ok(c.ok, `${source}: ${!c.ok && c.error}`);
      const plain = new RegExp(`^(?:${source})$`);
      for (const input of inputs) assert.deepEqual(c.value.exec(input)?.slice(), plain.exec(input)?.slice(), `${source} on ${input}`);
    }
  });

  test('a regex too large once written out is refused, naming it and the fix', () => {
    const c = compileRegex('(?:a{1,100}){1,100}');
    assert.equal(c.ok, false);
    assert.match(!c.ok ? c.error : '', /regex "\(\?:a\{1,100\}\)\{1,100\}" is too large .* use \+ or \* instead of large counts/);
  });
});
