// RequestAuthentication, CUSTOM ext-authz, remoteIpBlocks and dry-run at the listener, over real
// sockets: a JWKS server and an authorization server started here on 127.0.0.1, tokens signed here.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { startHttpUpstream, type EchoBody, type HttpUpstream } from '../helpers/upstream.ts';

const ISS = 'https://issuer.test';

const doc = (kind: string, name: string, target: string, body: string, annotations = '') => `---
apiVersion: security.istio.io/v1
kind: ${kind}
metadata: {name: ${name}, namespace: istio-egress${annotations ? `, annotations: {${annotations}}` : ''}}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: ${target}}]
${body.trimEnd().split('\n').map((l) => `  ${l}`).join('\n')}
`;

function listen(s: Server): Promise<number> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
}

describe('RequestAuthentication, CUSTOM, remoteIpBlocks and dry-run at the listener', () => {
  let up: HttpUpstream;
  let wp: InProcess;
  let jwksServer: Server;
  let authz: Server;
  let jwksHits = 0;
  let jwksDown = false;
  const checks: IncomingMessage[] = [];
  let sign: (claims: Record<string, unknown>, opts?: { kid?: string; exp?: string }) => Promise<string>;
  let otherKeySign: (claims: Record<string, unknown>) => Promise<string>;

  before(async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const other = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    sign = (claims, opts = {}) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'k1' })
      .setIssuedAt().setExpirationTime(opts.exp ?? '10m').sign(privateKey);
    otherKeySign = (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setExpirationTime('10m').sign(other.privateKey);
    jwksServer = createServer((req, res) => {
      jwksHits++;
      if (jwksDown) return void res.writeHead(500).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    authz = createServer((req, res) => {
      checks.push(req);
      if (req.headers['x-ext-authz'] === 'allow') return void res.writeHead(200, { 'x-ext-authz-check-result': 'allowed', 'x-secret': 'no' }).end();
      res.writeHead(418, { 'x-ext-authz-check-result': 'denied', 'content-type': 'text/plain' }).end('denied by ext_authz for not found header `x-ext-authz: allow` in the request');
    });
    const jwksPort = await listen(jwksServer);
    const authzPort = await listen(authz);
    up = await startHttpUpstream();
    const se = (name: string) => serviceEntry(name, `hosts: [${name}.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);
    const yaml = WAYPOINT_YAML + se('jwt') + se('ext') + se('extopen') + se('extdown') + se('xff') + se('dry') + se('scope')
      + doc('RequestAuthentication', 'scope', 'scope', `jwtRules:\n- issuer: ${ISS}\n  jwksUri: http://127.0.0.1:${jwksPort}/jwks\n  spaceDelimitedClaims: [groups]\n`)
      + doc('AuthorizationPolicy', 'scope', 'scope', `rules:\n- to: [{operation: {paths: [/write]}}]\n  when: [{key: "request.auth.claims[scope]", values: [write]}]\n- to: [{operation: {paths: [/perm]}}]\n  when: [{key: "request.auth.claims[permission]", values: [p2]}]\n- to: [{operation: {paths: [/ops]}}]\n  when: [{key: "request.auth.claims[groups]", values: [ops]}]\n- to: [{operation: {paths: [/team]}}]\n  when: [{key: "request.auth.claims[team]", values: [a]}]\n`)
      + doc('RequestAuthentication', 'jwt', 'jwt', `jwtRules:\n- issuer: ${ISS}\n  jwksUri: http://127.0.0.1:${jwksPort}/jwks\n  audiences: [orders]\n  outputPayloadToHeader: x-jwt-payload\n`)
      + doc('AuthorizationPolicy', 'jwt-admin', 'jwt', `action: DENY\nrules:\n- to: [{operation: {paths: ["/admin*"]}}]\n  when: [{key: "request.auth.claims[role]", notValues: [admin]}]\n`)
      + doc('AuthorizationPolicy', 'jwt-need', 'jwt', `rules:\n- from: [{source: {requestPrincipals: ["*"]}}]\n  to: [{operation: {paths: ["/private*", "/admin*"]}}]\n- to: [{operation: {notPaths: ["/private*", "/admin*"]}}]\n`)
      + doc('AuthorizationPolicy', 'ext', 'ext', 'action: CUSTOM\nprovider: {name: checker}\nrules: [{to: [{operation: {paths: ["/checked*"]}}]}]\n')
      + doc('AuthorizationPolicy', 'extopen', 'extopen', 'action: CUSTOM\nprovider: {name: down-open}\nrules: [{}]\n')
      + doc('AuthorizationPolicy', 'extdown', 'extdown', 'action: CUSTOM\nprovider: {name: down}\nrules: [{}]\n')
      + doc('AuthorizationPolicy', 'xff', 'xff', 'action: DENY\nrules: [{from: [{source: {remoteIpBlocks: [203.0.113.0/24]}}]}]\n')
      + doc('AuthorizationPolicy', 'dry', 'dry', 'action: DENY\nrules: [{to: [{operation: {paths: [/would-deny]}}]}]\n', '"istio.io/dry-run": "true"');
    const provider = (name: string, port: number, extra: Record<string, unknown> = {}) => ({
      name, envoyExtAuthzHttp: { service: 'ext-authz.local/127.0.0.1', port, timeout: '2s', includeRequestHeadersInCheck: ['x-ext-authz'], headersToUpstreamOnAllow: ['x-ext-authz-check-result'], headersToDownstreamOnDeny: ['x-ext-authz-check-result', 'content-type'], ...extra },
    });
    wp = await startInProcess(yaml, {
      compile: {
        numTrustedProxies: 1,
        extensionProviders: [provider('checker', authzPort, { headersToDownstreamOnAllow: ['x-ext-authz-check-result'] }), provider('down-open', 1, { failOpen: true }), provider('down', 1, { statusOnError: '503' })],
      },
    });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    jwksServer?.close();
    authz?.close();
  });

  const get = (url: string, args: string[] = []) => curl(['--proxy', wp.proxyUrl, '-D', '-', ...args, url]);
  const echo = (stdout: string): EchoBody => JSON.parse(stdout.slice(stdout.indexOf('\r\n\r\n') + 4)) as EchoBody;

  test('JWT: a valid token passes, its payload is forwarded and the token stripped; the record names the principal', async () => {
    const r = await get('http://jwt.test/private/1', ['-H', `authorization: Bearer ${(await sign({ iss: ISS, sub: 'alice', aud: 'orders', role: 'user' }))}`]);
    assert.equal(r.status, 200, r.stdout);
    const body = echo(r.stdout);
    assert.equal(body.headers.authorization, undefined, 'forwardOriginalToken defaults to false: the token is stripped');
    const payload = JSON.parse(Buffer.from(String(body.headers['x-jwt-payload']), 'base64url').toString()) as Record<string, unknown>;
    assert.equal(payload.sub, 'alice');
    const rec = await wp.nextRecord((x) => x.path === '/private/1');
    assert.equal(rec.requestPrincipal, `${ISS}/alice`);
  });

  test('JWT: no token passes authentication, and requestPrincipals ["*"] then denies the private path', async () => {
    assert.equal((await get('http://jwt.test/public')).status, 200);
    const r = await get('http://jwt.test/private/2');
    assert.equal(r.status, 403);
    assert.match(r.stdout, /RBAC: access denied/);
  });

  test('JWT: an invalid token gets 401 with Envoy\'s body, WWW-Authenticate and details', async () => {
    const forged = await otherKeySign({ iss: ISS, sub: 'mallory', aud: 'orders' });
    const r = await get('http://jwt.test/public/3', ['-H', `authorization: Bearer ${forged}`]);
    assert.equal(r.status, 401);
    assert.match(r.stdout, /\r\n\r\nJwt verification fails\n$/);
    assert.match(r.stdout, /www-authenticate: Bearer realm="http:\/\/jwt.test\/public\/3", error="invalid_token"/i);
    const rec = await wp.nextRecord((x) => x.path === '/public/3');
    assert.equal(rec.responseCodeDetails, 'jwt_authn_access_denied{Jwt_verification_fails}');
    const expired = await sign({ iss: ISS, sub: 'a', aud: 'orders' }, { exp: '-5m' });
    const e = await get('http://jwt.test/public/4', ['-H', `authorization: Bearer ${expired}`]);
    assert.equal(e.status, 401);
    assert.match(e.stdout, /Jwt is expired\n$/);
    const unknown = await sign({ iss: 'https://elsewhere', sub: 'a', aud: 'orders' });
    assert.match((await get('http://jwt.test/public/5', ['-H', `authorization: Bearer ${unknown}`])).stdout, /Jwt issuer is not configured\n$/);
    const garbage = await get('http://jwt.test/public/6', ['-H', 'authorization: Bearer abc']);
    assert.equal(garbage.status, 401);
    assert.match(garbage.stdout, /Jwt is not in the form of Header.Payload.Signature\n$/);
  });

  test('JWT: a wrong audience is 403 "Audiences in Jwt are not allowed"; claims reach request.auth.claims', async () => {
    const wrongAud = await sign({ iss: ISS, sub: 'a', aud: 'billing' });
    const r = await get('http://jwt.test/public/7', ['-H', `authorization: Bearer ${wrongAud}`]);
    assert.equal(r.status, 403);
    assert.match(r.stdout, /Audiences in Jwt are not allowed\n$/);
    const user = await sign({ iss: ISS, sub: 'bob', aud: 'orders', role: 'user' });
    const admin = await sign({ iss: ISS, sub: 'eve', aud: 'orders', role: 'admin' });
    assert.equal((await get('http://jwt.test/admin/x', ['-H', `authorization: Bearer ${user}`])).status, 403);
    assert.equal((await get('http://jwt.test/admin/x', ['-H', `authorization: Bearer ${admin}`])).status, 200);
  });

  test('JWT: scope, permission and spaceDelimitedClaims are split on spaces before matching; other claims are not', async () => {
    const token = await sign({ iss: ISS, sub: 'sam', scope: 'read write', permission: 'p1 p2', groups: 'dev  ops', team: 'a b' });
    const h = ['-H', `authorization: Bearer ${token}`];
    assert.equal((await get('http://scope.test/write', h)).status, 200, 'scope "read write" holds write');
    assert.equal((await get('http://scope.test/perm', h)).status, 200, 'permission "p1 p2" holds p2');
    assert.equal((await get('http://scope.test/ops', h)).status, 200, 'groups is named in spaceDelimitedClaims');
    assert.equal((await get('http://scope.test/team', h)).status, 403, 'team is not space-delimited: "a b" is not "a"');
    const narrow = await sign({ iss: ISS, sub: 'sam', scope: 'read' });
    assert.equal((await get('http://scope.test/write', ['-H', `authorization: Bearer ${narrow}`])).status, 403);
  });

  test('JWKS is fetched once and cached; a failing JWKS server does not break cached keys', async () => {
    const before = jwksHits;
    jwksDown = true;
    const t = await sign({ iss: ISS, sub: 'c', aud: 'orders' });
    assert.equal((await get('http://jwt.test/public/8', ['-H', `authorization: Bearer ${t}`])).status, 200);
    assert.equal(jwksHits, before, 'keys came from the cache');
    jwksDown = false;
  });

  test('ext-authz: allow forwards headersToUpstreamOnAllow; deny returns the server\'s status, body and headers with UAEX', async () => {
    const ok = await get('http://ext.test/checked/1', ['-H', 'x-ext-authz: allow', '-H', 'x-other: 1']);
    assert.equal(ok.status, 200);
    const body = echo(ok.stdout);
    assert.equal(body.headers['x-ext-authz-check-result'], 'allowed');
    assert.equal(body.headers['x-secret'], undefined, 'only headersToUpstreamOnAllow are copied');
    assert.match(ok.stdout.split('\r\n\r\n')[0]!, /x-ext-authz-check-result: allowed/i, 'headersToDownstreamOnAllow reach the client');
    const check = checks.at(-1)!;
    assert.equal(check.url, '/checked/1');
    assert.equal(check.headers['x-other'], undefined, 'only includeRequestHeadersInCheck headers are sent');
    const no = await get('http://ext.test/checked/2');
    assert.equal(no.status, 418);
    assert.match(no.stdout, /x-ext-authz-check-result: denied/);
    assert.match(no.stdout, /denied by ext_authz for not found header/);
    const rec = await wp.nextRecord((x) => x.path === '/checked/2');
    assert.equal(rec.responseFlags, 'UAEX');
    assert.equal(rec.responseCodeDetails, 'ext_authz_denied');
    const n = checks.length;
    assert.equal((await get('http://ext.test/unchecked')).status, 200);
    assert.equal(checks.length, n, 'a request no CUSTOM rule matches is not sent to the provider');
  });

  test('ext-authz unreachable: 403 (here statusOnError 503) with UAEX, or allowed with failOpen', async () => {
    const r = await get('http://extdown.test/x');
    assert.equal(r.status, 503);
    const rec = await wp.nextRecord((x) => x.authority === 'extdown.test');
    assert.equal(rec.responseFlags, 'UAEX');
    assert.equal(rec.responseCodeDetails, 'ext_authz_error');
    assert.equal((await get('http://extopen.test/x')).status, 200);
  });

  test('remoteIpBlocks read X-Forwarded-For with numTrustedProxies: 1', async () => {
    assert.equal((await get('http://xff.test/a', ['-H', 'x-forwarded-for: 203.0.113.9'])).status, 403);
    assert.equal((await get('http://xff.test/b', ['-H', 'x-forwarded-for: 203.0.113.9, 198.51.100.1'])).status, 200, 'the last hop is the trusted one');
    assert.equal((await get('http://xff.test/c')).status, 200, 'without XFF the peer address is used');
  });

  test('dry-run: a would-deny is served, logged in the record and counted', async () => {
    assert.equal((await get('http://dry.test/would-deny')).status, 200);
    const rec = await wp.nextRecord((x) => x.path === '/would-deny');
    assert.equal(rec.dryRunResult, 'deny');
    assert.equal(rec.dryRunPolicy, 'istio-egress/dry');
    const metrics = await (await fetch(`${wp.statsUrl}/stats/prometheus`)).text();
    assert.match(metrics, /egressway_authz_dry_run_total\{policy="istio-egress\/dry",result="would_deny"\} 1/);
  });
});
