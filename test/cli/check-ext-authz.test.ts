// `egressway check --ext-authz call` through the real CLI, against a real envoyExtAuthzHttp server on
// 127.0.0.1: allow, deny with its own status, body and headers, timeout and reset with and without
// failOpen, an unreachable provider, and the default (skip) that never calls it. The last test sends
// the same requests through an in-process waypoint and asserts check predicted its status and details.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import type { ExtensionProviderConfig } from '../../src/compile/authn.ts';
import type { CheckReport } from '../../src/cli/check.ts';
import { curl, hasCurl } from '../helpers/curl.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['src/cli/main.ts', 'check', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function listen(s: Server): Promise<number> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
}

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

const custom = (service: string, provider: string) => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${service}, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: ${service}}]
  action: CUSTOM
  provider: {name: ${provider}}
  rules: [{}]
`;

// Provider name -> the ServiceEntry `<name>.test` whose CUSTOM policy asks it; pathPrefix picks the server's behaviour.
const SERVICES = ['checker', 'slow', 'slow-open', 'reset', 'reset-open', 'down', 'nosuch'] as const;

describe('egressway check --ext-authz', () => {
  let dir: TmpDir;
  let authz: Server;
  let authzPort: number;
  let downPort: number;
  let providers: ExtensionProviderConfig[];
  const checks: IncomingMessage[] = [];
  const cfg = () => ['--config', join(dir.path, 'config.yaml'), '--mesh-config', join(dir.path, 'mesh.yaml')];

  before(async () => {
    authz = createServer((req, res) => {
      checks.push(req);
      if (req.url!.startsWith('/slow')) return; // never answers: the provider's timeout fires
      if (req.url!.startsWith('/reset')) return void req.socket.destroy();
      if (req.url!.startsWith('/check/allow')) {
        return void res.writeHead(200, { 'x-ext-authz-check-result': 'allowed', 'x-user': 'alice', 'x-secret': 'no' }).end();
      }
      res.writeHead(418, { 'x-ext-authz-check-result': 'denied', 'content-type': 'text/plain', 'x-hidden': '1' })
        .end('denied by ext_authz for not found header `x-ext-authz: allow` in the request');
    });
    authzPort = await listen(authz);
    downPort = await closedPort();
    const provider = (name: string, port: number, extra: Record<string, unknown>): ExtensionProviderConfig => ({
      name, envoyExtAuthzHttp: { service: 'ext-authz.local/127.0.0.1', port, timeout: '300ms', ...extra },
    });
    providers = [
      provider('checker', authzPort, {
        timeout: '2s', pathPrefix: '/check', includeRequestHeadersInCheck: ['x-ext-authz'],
        headersToUpstreamOnAllow: ['x-ext-authz-check-result', 'x-user'], headersToDownstreamOnAllow: ['x-user'],
        headersToDownstreamOnDeny: ['x-ext-authz-check-result', 'content-type'],
      }),
      provider('slow', authzPort, { pathPrefix: '/slow', statusOnError: '503' }),
      provider('slow-open', authzPort, { pathPrefix: '/slow', failOpen: true }),
      provider('reset', authzPort, { pathPrefix: '/reset' }),
      provider('reset-open', authzPort, { pathPrefix: '/reset', failOpen: true }),
      provider('down', downPort, {}),
    ];
    dir = await tmpDir();
    const entries = SERVICES.map((s) => serviceEntry(s, `hosts: [${s}.test]\nports: [{number: 80, name: http, protocol: HTTP}, {number: 443, name: tls, protocol: TLS}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`) + custom(s, s));
    await writeFile(join(dir.path, 'config.yaml'), WAYPOINT_YAML + entries.join(''));
    await writeFile(join(dir.path, 'mesh.yaml'), stringify({ extensionProviders: providers }));
  });
  after(async () => {
    authz?.closeAllConnections();
    authz?.close();
    await dir?.close();
  });

  test('default (skip): stays offline and names the provider that would be asked', async () => {
    const before = checks.length;
    const r = await run([...cfg(), 'http://checker.test/deny/1']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`custom +ext-authz provider checker \\(policy istio-egress/checker rule 0\\) at 127\\.0\\.0\\.1:${authzPort}: would be asked first; not called \\(--ext-authz skip\\), so the decision below assumes it allows`));
    assert.match(r.stdout, /decision +ALLOW: no ALLOW policy applies/);
    const j = JSON.parse((await run([...cfg(), '-o', 'json', 'http://down.test/'])).stdout) as CheckReport;
    assert.equal(j.extAuthz.mode, 'skip');
    assert.deepEqual(j.extAuthz.calls.map((c) => [c.provider, c.outcome, c.address]), [['down', 'skipped', `127.0.0.1:${downPort}`]]);
    assert.deepEqual(j.customProviders, ['down (policy istio-egress/down rule 0)']);
    assert.equal(checks.length, before, 'skip never calls the provider');
  });

  test('call, allow: exit 0; the provider saw the request; headersToUpstreamOnAllow and ToDownstreamOnAllow are shown', async () => {
    const r = await run([...cfg(), '--ext-authz', 'call', '-H', 'x-ext-authz: allow', '-H', 'x-other: 1', 'http://checker.test/allow/1?q=2']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /checker .* at 127\.0\.0\.1:\d+: ALLOW \(200 in \d+ ms\); upstream gets x-ext-authz-check-result: allowed, x-user: alice; the client gets x-user: alice/);
    assert.match(r.stdout, /decision +ALLOW: no ALLOW policy applies/);
    assert.match(r.stdout, /upstream +\+ x-ext-authz-check-result: allowed, x-user: alice\n/);
    assert.match(r.stdout, /downstream +\+ x-user: alice\n/);
    assert.doesNotMatch(r.stdout, /x-secret/);
    const seen = checks.at(-1)!;
    assert.equal(seen.url, '/check/allow/1?q=2');
    assert.equal(seen.method, 'GET');
    assert.equal(seen.headers.host, 'checker.test');
    assert.equal(seen.headers['x-ext-authz'], 'allow');
    assert.equal(seen.headers['x-other'], undefined, 'only includeRequestHeadersInCheck headers are sent');
  });

  test('call, deny: exit 1 with the provider\'s status, body and headersToDownstreamOnDeny; UAEX ext_authz_denied', async () => {
    const r = await run([...cfg(), '--ext-authz', 'call', '-X', 'POST', '-o', 'json', 'http://checker.test/deny/2']);
    assert.equal(r.code, 1, r.stderr + r.stdout);
    const j = JSON.parse(r.stdout) as CheckReport;
    assert.equal(j.extAuthz.mode, 'call');
    assert.equal(j.extAuthz.calls[0]!.outcome, 'asked');
    assert.equal(j.extAuthz.calls[0]!.answer?.kind, 'deny');
    assert.deepEqual({ ...j.decision, response: undefined }, {
      allow: false, action: 'CUSTOM', reason: 'denied by CUSTOM provider checker (policy istio-egress/checker rule 0)',
      details: 'ext_authz_denied', flags: 'UAEX', response: undefined,
    });
    assert.equal(j.decision.response?.status, 418);
    assert.deepEqual(j.decision.response?.headers, [['x-ext-authz-check-result', 'denied'], ['content-type', 'text/plain']]);
    assert.match(j.decision.response!.body, /^denied by ext_authz for not found header/);
    assert.equal(checks.at(-1)!.method, 'POST');
    const text = await run([...cfg(), '--ext-authz', 'call', 'http://checker.test/deny/3']);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /checker .*: DENY \(418 in \d+ ms\)/);
    assert.match(text.stdout, /decision +DENY: denied by CUSTOM provider checker/);
    assert.match(text.stdout, /details +ext_authz_denied\nresponse +418, flags UAEX, headers x-ext-authz-check-result: denied, content-type: text\/plain\nbody +"denied by ext_authz/);
  });

  test('call, timeout: failOpen false denies with statusOnError (503, UAEX ext_authz_error); failOpen true allows', async () => {
    const closed = await run([...cfg(), '--ext-authz', 'call', '-o', 'json', 'http://slow.test/x']);
    assert.equal(closed.code, 1, closed.stderr + closed.stdout);
    const j = JSON.parse(closed.stdout) as CheckReport;
    assert.equal(j.decision.details, 'ext_authz_error');
    assert.equal(j.decision.flags, 'UAEX');
    assert.equal(j.decision.response?.status, 503);
    assert.equal(j.decision.reason, 'authorization server unreachable for CUSTOM provider slow (policy istio-egress/slow rule 0): slow (127.0.0.1:' + authzPort + '): no answer within 300 ms');
    assert.deepEqual({ kind: j.extAuthz.calls[0]!.answer?.kind, code: (j.extAuthz.calls[0]!.answer as { code: string }).code }, { kind: 'error', code: 'timeout' });
    assert.match(j.extAuthz.calls[0]!.summary, /failOpen is false, so the waypoint denies with statusOnError 503\. Next: make slow answer within 300 ms, or raise envoyExtAuthzHttp\.timeout/);
    const open = await run([...cfg(), '--ext-authz', 'call', 'http://slow-open.test/x']);
    assert.equal(open.code, 0, open.stderr + open.stdout);
    assert.match(open.stdout, /slow-open .*: ERROR: slow-open \(127\.0\.0\.1:\d+\): no answer within 300 ms; failOpen is true, so the request goes on/);
    assert.match(open.stdout, /decision +ALLOW/);
  });

  test('call, connection reset: failOpen false denies 403 ext_authz_error; failOpen true allows', async () => {
    const closed = await run([...cfg(), '--ext-authz', 'call', 'http://reset.test/x']);
    assert.equal(closed.code, 1, closed.stderr + closed.stdout);
    assert.match(closed.stdout, /reset .*: ERROR: reset \(127\.0\.0\.1:\d+\): \S+; failOpen is false, so the waypoint denies with statusOnError 403\. Next: /);
    assert.match(closed.stdout, /details +ext_authz_error\nresponse +403, flags UAEX\n/);
    const open = await run([...cfg(), '--ext-authz', 'call', 'http://reset-open.test/x']);
    assert.equal(open.code, 0, open.stderr + open.stdout);
    assert.match(open.stdout, /decision +ALLOW/);
  });

  test('call, unreachable: one line names the provider, its service:port, the error and the next step; exit 1', async () => {
    const r = await run([...cfg(), '--ext-authz', 'call', 'http://down.test/x']);
    assert.equal(r.code, 1, r.stderr + r.stdout);
    const line = r.stdout.split('\n').find((l) => l.startsWith('custom'));
    assert.equal(line, `custom       ext-authz provider down (policy istio-egress/down rule 0) at 127.0.0.1:${downPort}: ERROR: down (127.0.0.1:${downPort}): ECONNREFUSED; `
      + `failOpen is false, so the waypoint denies with statusOnError 403. Next: start down or make 127.0.0.1:${downPort} reachable from where check runs, or --ext-authz skip to stay offline`);
    assert.match(r.stdout, /decision +DENY: authorization server unreachable for CUSTOM provider down/);
  });

  test('a CUSTOM policy naming a provider meshConfig does not define denies in both modes, as the waypoint does', async () => {
    for (const mode of ['skip', 'call']) {
      const r = await run([...cfg(), '--ext-authz', mode, '-o', 'json', 'http://nosuch.test/']);
      assert.equal(r.code, 1, r.stderr + r.stdout);
      const j = JSON.parse(r.stdout) as CheckReport;
      assert.equal(j.decision.details, 'rbac_access_denied_matched_policy[ns[istio-egress]-policy[nosuch]-rule[0]]');
      assert.deepEqual(j.decision.response, { status: 403, headers: [], body: 'RBAC: access denied\n' });
      assert.deepEqual(j.extAuthz.calls.map((c) => [c.outcome, c.address]), [['not-asked', null]]);
      assert.match(j.extAuthz.calls[0]!.summary, /not defined in meshConfig extensionProviders/);
    }
  });

  test('call on a CONNECT tunnel (https): the HTTP provider is not asked, as in Istio', async () => {
    const before = checks.length;
    const r = await run([...cfg(), '--ext-authz', 'call', 'https://checker.test/']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /checker .*: not asked: an HTTP ext-authz provider cannot check an opaque TCP tunnel/);
    assert.equal(checks.length, before);
  });

  test('check predicts what the waypoint answers to the same request', { skip: !hasCurl() && 'no curl' }, async () => {
    const up: HttpUpstream = await startHttpUpstream();
    const yaml = WAYPOINT_YAML + SERVICES.map((s) => serviceEntry(s, `hosts: [${s}.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`) + custom(s, s)).join('');
    const wp = await startInProcess(yaml, { compile: { extensionProviders: providers } });
    try {
      for (const url of ['http://checker.test/allow/9', 'http://checker.test/deny/9', 'http://slow.test/9', 'http://slow-open.test/9', 'http://reset.test/9', 'http://down.test/9', 'http://nosuch.test/9']) {
        const args = url.includes('/allow') ? ['-H', 'x-ext-authz: allow'] : [];
        const j = JSON.parse((await run([...cfg(), '--ext-authz', 'call', '-o', 'json', ...args, url])).stdout) as CheckReport;
        const got = await curl(['--proxy', wp.proxyUrl, '-D', '-', ...args, url]);
        const rec = await wp.nextRecord((x) => `http://${x.authority}${x.path}` === url);
        assert.equal(j.decision.allow ? 200 : j.decision.response?.status, got.status, url);
        assert.equal(j.decision.flags, rec.responseFlags, url);
        assert.equal(j.decision.details, j.decision.allow ? '' : rec.responseCodeDetails, url);
      }
    } finally {
      await wp.close();
      await up.close();
    }
  });
});
