// The local checks on the istio-ca token: istiod answers every bad token with the same
// "request authenticate failure", so what a pod gets wrong is named here before istiod is asked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkIstioToken, decodeJwtClaims, tokenServiceAccount } from '../../src/identity/token.ts';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwt = (claims: unknown) => `${b64({ alg: 'RS256' })}.${b64(claims)}.c2ln`;
const SUB = 'system:serviceaccount:istio-egress:waypoint';

test('a projected istio-ca token passes; its subject names the service account', () => {
  const t = jwt({ aud: ['istio-ca'], sub: SUB, exp: 4_000_000_000 });
  assert.equal(checkIstioToken(t, '/t'), undefined);
  assert.equal(tokenServiceAccount(decodeJwtClaims(t)!), 'istio-egress/waypoint');
  assert.equal(checkIstioToken(jwt({ aud: 'istio-ca', sub: SUB }), '/t'), undefined, 'aud may be a string');
});

test('each wrong token gets its own one-line reason and the fix', () => {
  assert.match(checkIstioToken(jwt({ aud: ['https://kubernetes.default.svc'], sub: SUB }), '/t')!, /^the token in \/t has audience https:\/\/kubernetes\.default\.svc, istiod's CA accepts only istio-ca: project it with audience: istio-ca/);
  assert.match(checkIstioToken(jwt({ sub: SUB }), '/t')!, /has audience \(none\)/);
  assert.match(checkIstioToken(jwt({ aud: ['istio-ca'], exp: 1000 }), '/t', 2_000_000)!, /^the token in \/t expired at 1970-01-01T00:16:40\.000Z;/);
  assert.match(checkIstioToken('  \n', '/t')!, /^the token file \/t is empty;/);
  assert.match(checkIstioToken('not-a-jwt', '/t')!, /^\/t does not hold a JWT;/);
  assert.match(checkIstioToken('a.!!!.c', '/t')!, /does not hold a JWT/);
  for (const m of [checkIstioToken('x', '/t'), checkIstioToken(jwt({ aud: ['x'] }), '/t')]) assert.doesNotMatch(m!, /\n/);
});

test('a token without a service-account subject names none', () => {
  assert.equal(tokenServiceAccount(decodeJwtClaims(jwt({ aud: ['istio-ca'], sub: 'admin' }))!), undefined);
});
