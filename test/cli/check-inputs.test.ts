// `egressway check` inputs through the real CLI: tokens and --claims, Host, raw paths, tunnels, SNI,
// destination IPs, principals, AUDIT in -o json, the --requests batch mode and its exit codes, and
// one-line errors (exit 2) for bad input. check-agreement.test.ts shows the same verdicts at the waypoint.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';

const ISS = 'https://issuer.test';

const doc = (kind: string, name: string, target: string, body: string) => `---
apiVersion: security.istio.io/v1
kind: ${kind}
metadata: {name: ${name}, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: ${target}}]
${body.trimEnd().split('\n').map((l) => `  ${l}`).join('\n')}
`;

function run(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['src/cli/main.ts', 'check', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
    child.stdin.end(stdin ?? '');
  });
}

interface Json {
  request: { authority: string; path: string | null; principal: string | null; destinationIp: string | null; sni: string | null; requestPrincipal: string | null; protocol: string };
  authentication: { outcome: string; summary: string };
  decision: { allow: boolean; action: string; details: string; flags: string; audit?: { policy: string }; response?: { status: number; headers: [string, string][]; body: string } };
}

describe('egressway check: every input', () => {
  let dir: TmpDir;
  let cfg: string[];
  let token: (claims: Record<string, unknown>, forged?: boolean) => Promise<string>;

  before(async () => {
    dir = await tmpDir();
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] });
    token = (c, forged) => new SignJWT({ iss: ISS, aud: 'orders', exp: Math.floor(Date.now() / 1000) + 600, ...c }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(forged ? other.privateKey : privateKey);
    const se = (name: string, port: number, protocol: string, extra = '') => serviceEntry(name, `hosts: [${name}.test]\n${extra}ports: [{number: ${port}, name: p, protocol: ${protocol}}]\nresolution: DNS`);
    await writeFile(join(dir.path, 'config.yaml'), WAYPOINT_YAML + se('api', 80, 'HTTP', 'addresses: [240.240.0.7]\n') + se('open', 80, 'HTTP') + se('db', 5432, 'TCP') + se('tls', 443, 'TLS')
      + doc('RequestAuthentication', 'ra', 'api', `jwtRules:\n- issuer: ${ISS}\n  audiences: [orders]\n  jwks: '${jwks}'`)
      + doc('AuthorizationPolicy', 'api', 'api', `rules:
- from: [{source: {requestPrincipals: ["${ISS}/alice"]}}]
- when: [{key: "request.auth.claims[role]", values: [admin]}]
- from: [{source: {principals: ["example.org/batch/nightly"]}}]
- from: [{source: {namespaces: [billing]}}]
- to: [{operation: {hosts: [api.test], paths: [/by-host]}}]
- when: [{key: destination.ip, values: [240.240.0.7]}]`)
      + doc('AuthorizationPolicy', 'api-deny', 'api', 'action: DENY\nrules: [{to: [{operation: {paths: [/admin]}}]}]')
      + doc('AuthorizationPolicy', 'audit', 'open', 'action: AUDIT\nrules: [{to: [{operation: {paths: ["/audited*"]}}]}]')
      + doc('AuthorizationPolicy', 'db', 'db', 'rules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/cart"]}}]}]')
      + doc('AuthorizationPolicy', 'tls', 'tls', 'rules: [{when: [{key: connection.sni, values: [tls.test]}]}]'));
    await writeFile(join(dir.path, 'mesh.yaml'), 'pathNormalization: {normalization: MERGE_SLASHES}\n');
    await writeFile(join(dir.path, 'bad-mesh.yaml'), 'pathNormalization: {normalization: MERGE}\n');
    cfg = ['--config', join(dir.path, 'config.yaml')];
  });
  after(async () => dir?.close());

  const json = async (args: string[]) => {
    const r = await run([...cfg, '-o', 'json', ...args]);
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
    return { code: r.code, j: JSON.parse(r.stdout) as Json };
  };

  test('a Bearer token goes through jwt_authn: valid gives its principal, forged gives the waypoint\'s 401', async () => {
    const ok = await json(['-H', `authorization: Bearer ${await token({ sub: 'alice' })}`, 'http://api.test/x']);
    assert.equal(ok.code, 0);
    assert.equal(ok.j.authentication.outcome, 'verified');
    assert.equal(ok.j.request.requestPrincipal, `${ISS}/alice`);
    const bad = await run([...cfg, '-H', `authorization: Bearer ${await token({ sub: 'alice' }, true)}`, 'http://api.test/x']);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^jwt +Jwt verification fails: signature does not verify/m);
    assert.match(bad.stdout, /^details +jwt_authn_access_denied\{Jwt_verification_fails\}$/m);
    assert.match(bad.stdout, /^response +401, flags -, headers www-authenticate: Bearer realm="http:\/\/api.test\/x", error="invalid_token"$/m);
    assert.match(bad.stdout, /^body +"Jwt verification fails\\n"$/m);
  });

  test('--claims stand in for a verified token; ignored where no RequestAuthentication applies', async () => {
    const admin = await json(['--claims', JSON.stringify({ iss: ISS, sub: 'bob', aud: 'orders', role: 'admin' }), 'http://api.test/x']);
    assert.equal(admin.code, 0);
    assert.equal(admin.j.authentication.outcome, 'asserted');
    const user = await json(['--claims', JSON.stringify({ iss: ISS, sub: 'bob', aud: 'orders', role: 'user' }), 'http://api.test/x']);
    assert.equal(user.code, 1);
    const aud = await json(['--claims', JSON.stringify({ iss: ISS, sub: 'alice', aud: 'billing' }), 'http://api.test/x']);
    assert.equal(aud.j.decision.response?.status, 403);
    assert.equal(aud.j.decision.details, 'jwt_authn_access_denied{Audiences_in_Jwt_are_not_allowed}');
    const ignored = await json(['--claims', '{"iss":"x","sub":"y"}', 'http://open.test/']);
    assert.equal(ignored.j.authentication.outcome, 'ignored');
    assert.match(ignored.j.authentication.summary, /no RequestAuthentication applies/);
    // --request-principal is --claims {iss, sub}: the rule's audiences apply to it as to a token.
    const rp = await json(['--request-principal', `${ISS}/alice`, 'http://api.test/x']);
    assert.equal(rp.j.decision.details, 'jwt_authn_access_denied{Audiences_in_Jwt_are_not_allowed}');
    assert.match(rp.j.authentication.summary, /aud null is not in \[orders\]/);
  });

  test('-H host: sets :authority apart from the dialled address; a Host naming another destination is 421', async () => {
    const r = await json(['--destination-ip', '10.9.9.9', '-H', 'host: api.test', 'http://240.240.0.7/by-host']);
    assert.equal(r.code, 0);
    assert.equal(r.j.request.authority, 'api.test');
    assert.equal((await json(['--destination-ip', '10.9.9.9', 'http://240.240.0.7/by-host'])).code, 1, 'the policy names the Host, not the VIP');
    const fronted = await json(['-H', 'host: front.test', 'http://api.test/x']);
    assert.equal(fronted.code, 1);
    assert.deepEqual([fronted.j.decision.response?.status, fronted.j.decision.details, fronted.j.decision.flags], [421, 'route_not_found{host_not_tunnel_destination}', 'NR']);
  });

  test('the raw path with meshConfig pathNormalization; %00 is the waypoint\'s 400', async () => {
    const base = await json(['http://api.test//admin']);
    assert.equal(base.j.request.path, '//admin', 'BASE keeps double slashes');
    const merged = await json(['--mesh-config', join(dir.path, 'mesh.yaml'), 'http://api.test//admin']);
    assert.equal(merged.j.request.path, '/admin');
    assert.equal(merged.j.decision.details, 'rbac_access_denied_matched_policy[ns[istio-egress]-policy[api-deny]-rule[0]]');
    assert.equal((await json(['http://api.test/%61dmin?q=1'])).j.request.path, '/admin?q=1');
    const nul = await json(['http://open.test/a%00b']);
    assert.equal(nul.code, 1);
    assert.deepEqual([nul.j.decision.response?.status, nul.j.decision.details], [400, 'path_normalization_failed']);
  });

  test('principals: any SPIFFE ID, any string, or a namespace', async () => {
    assert.equal((await json(['--from', 'spiffe://example.org/batch/nightly', 'http://api.test/x'])).code, 0);
    const p = await json(['--principal', 'example.org/batch/nightly', 'http://api.test/x']);
    assert.equal(p.j.request.principal, 'example.org/batch/nightly');
    assert.equal(p.code, 0);
    const ns = await json(['--source-namespace', 'billing', 'http://api.test/x']);
    assert.equal(ns.j.request.principal, 'cluster.local/ns/billing/sa/default');
    assert.equal(ns.code, 0);
  });

  test('destination IP: the dialled VIP, or --destination-ip', async () => {
    const vip = await json(['http://240.240.0.7/x']);
    assert.equal(vip.j.request.destinationIp, '240.240.0.7');
    assert.equal(vip.code, 0);
    assert.equal((await json(['--destination-ip', '240.240.0.7', 'http://api.test/x'])).code, 0);
    assert.equal((await json(['--destination-ip', '240.240.0.8', 'http://api.test/x'])).code, 1);
  });

  test('tunnels: tcp:// is an opaque TCP tunnel; https:// a TLS one with the host as SNI unless --sni', async () => {
    const tcp = await json(['--from', 'spiffe://cluster.local/ns/shop/sa/cart', 'tcp://db.test:5432']);
    assert.deepEqual([tcp.code, tcp.j.request.protocol, tcp.j.request.authority], [0, 'tcp', 'db.test:5432']);
    assert.equal((await json(['--from', 'spiffe://cluster.local/ns/shop/sa/web', 'tcp://db.test:5432'])).code, 1);
    const tls = await json(['https://tls.test']);
    assert.deepEqual([tls.code, tls.j.request.sni, tls.j.request.authority], [0, 'tls.test', 'tls.test:443']);
    const other = await json(['--sni', 'evil.test', 'https://tls.test']);
    assert.equal(other.code, 1);
    assert.deepEqual(other.j.decision.response, { status: 200, headers: [], body: '', closedAfterAccept: true }, 'the waypoint opens the tunnel to read the SNI, then closes it');
    const http = await json(['tcp://api.test:80']);
    assert.equal(http.code, 0);
    assert.match((await run([...cfg, 'tcp://api.test:80'])).stdout, /HTTP port: the waypoint accepts the CONNECT without authorization and authorizes each request inside it/);
  });

  test('AUDIT matches are in -o json and in the text', async () => {
    const r = await json(['http://open.test/audited/1']);
    assert.deepEqual(r.j.decision.audit, { policy: 'istio-egress/audit' });
    assert.equal((await json(['http://open.test/plain'])).j.decision.audit, undefined);
    assert.match((await run([...cfg, 'http://open.test/audited/1'])).stdout, /^audit +marked by AUDIT policy istio-egress\/audit$/m);
  });

  test('bad input: one line naming the flag, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['tcp://db.test'], /<url>: "db.test" in tcp:\/\/db.test is not host:port \(tcp:\/\/ needs the port\)/],
      [['ftp://x/'], /<url>: "ftp:\/\/x\/" is not http:\/\/host/],
      [['--claims', '{nope', 'http://api.test/'], /--claims is not JSON/],
      [['--claims', '[1]', 'http://api.test/'], /--claims: must be a JSON object/],
      [['--from', 'spiffe://cluster.local/ns/a/sa/b', '--principal', 'x', 'http://api.test/'], /--from and --principal: give one/],
      [['--from', 'cluster.local/ns/a/sa/b', 'http://api.test/'], /--from: "cluster.local\/ns\/a\/sa\/b" is not a SPIFFE ID.*use --principal/],
      [['--sni', 'a.test', 'http://api.test/'], /--sni: only a tunnel has an SNI/],
      [['-H', 'host: x', 'https://tls.test'], /-H: a CONNECT tunnel has no Host header/],
      [['--destination-ip', 'api.test', 'http://api.test/'], /--destination-ip: "api.test" is not an IPv4 or IPv6 address/],
      [['--mesh-config', join(dir.path, 'bad-mesh.yaml'), 'http://api.test/'], /pathNormalization.normalization "MERGE" is not one of DEFAULT, NONE, BASE/],
      [[], /give the <url> to check, or --requests FILE/],
    ];
    for (const [args, msg] of cases) {
      const r = await run([...cfg, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  test('--requests -: one JSON result per line with its line number and input; expectations set the exit code', async () => {
    const lines = [
      '# comments and blank lines are skipped',
      JSON.stringify({ url: 'tcp://db.test:5432', from: 'spiffe://cluster.local/ns/shop/sa/cart', expect: 'allow' }),
      '',
      JSON.stringify({ url: 'http://240.240.0.7/by-host', headers: { host: 'api.test' }, expect: 'allow' }),
      JSON.stringify({ url: 'http://api.test/x', headers: ['authorization: Bearer nope'] }),
    ];
    const r = await run([...cfg, '--requests', '-'], `${lines.join('\n')}\n`);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Json & { line: number; input: unknown; expectation?: unknown });
    assert.deepEqual(out.map((o) => o.line), [2, 4, 5]);
    assert.deepEqual(out[1]!.input, { url: 'http://240.240.0.7/by-host', headers: { host: 'api.test' }, expect: 'allow' });
    assert.deepEqual(out[1]!.expectation, { expect: 'allow', met: true });
    assert.equal(out[2]!.decision.details, 'jwt_authn_access_denied{Jwt_is_not_in_the_form_of_Header.Payload.Signature}');
    assert.equal(out[2]!.expectation, undefined);
    const unmet = await run([...cfg, '--requests', '-'], `${JSON.stringify({ url: 'http://api.test/x', expect: 'allow' })}\n${JSON.stringify({ url: 'http://api.test/x', expect: 'deny' })}\n`);
    assert.equal(unmet.code, 1);
    assert.match(unmet.stderr, /^line 1: expected allow, got deny: denied: no rule of the ALLOW policies/m);
    assert.match(unmet.stderr, /^1 of 2 requests did not get what they expect$/m);
    assert.equal(unmet.stdout.trim().split('\n').length, 2);
  });

  test('--requests: a bad line is exit 2 naming it, before anything is checked; per-request flags are refused', async () => {
    const file = join(dir.path, 'bad.jsonl');
    const cases: [string, RegExp][] = [
      [`{"url":"http://api.test/"}\n{"url":"http://api.test/",}\n`, /--requests .*bad\.jsonl: line 2: not JSON/],
      [`{"url":"http://api.test/","expected":"allow"}\n`, /line 1: unknown field "expected"; the fields are url, method, headers/],
      [`\n\n{"url":"http://api.test/","sourceIp":"x"}\n`, /line 3: "sourceIp": "x" is not an IPv4 or IPv6 address/],
      [`{"url":"http://api.test/","expect":"yes"}\n`, /line 1: "expect": "yes" must be allow or deny/],
      [`["http://api.test/"]\n`, /line 1: must be a JSON object with at least "url"/],
      ['# nothing\n', /no requests/],
    ];
    for (const [text, msg] of cases) {
      await writeFile(file, text);
      const r = await run([...cfg, '--requests', file]);
      assert.equal(r.code, 2, text);
      assert.equal(r.stdout, '', 'nothing is checked when a line is bad');
      assert.match(r.stderr, msg);
    }
    const flag = await run([...cfg, '--requests', file, '--from', 'spiffe://cluster.local/ns/a/sa/b', '-H', 'x: y']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /-H, --from describe one request: with --requests put them in each line \(fields headers, from\)/);
    assert.match((await run([...cfg, '--requests', file, 'http://api.test/'])).stderr, /give a <url> or --requests .*, not both/);
    assert.match((await run([...cfg, '--requests', join(dir.path, 'missing.jsonl')])).stderr, /cannot read --requests .*missing\.jsonl: ENOENT/);
  });
});
