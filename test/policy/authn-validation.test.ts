// RequestAuthentication validation (Istio's validateJwtRule) and the IST0101 warning for a policy whose
// target does not exist.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { validateResource } from '../../src/config/kinds/index.ts';
import { parseDocuments } from '../../src/config/parse.ts';

const ra = (rules: string) => `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: ra, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: api}]
  jwtRules:
${rules.trimEnd().split('\n').map((l) => `  ${l}`).join('\n')}
`;

function diags(yaml: string): string[] {
  const parsed = parseDocuments(yaml, 'ra.yaml');
  return parsed.resources.flatMap((r) => validateResource(r).diagnostics).map((d) => `${d.code} ${d.level} ${d.path}: ${d.message}`);
}

test('a well-formed RequestAuthentication has no findings', () => {
  assert.deepEqual(diags(ra('- issuer: https://issuer.test\n  jwksUri: https://issuer.test/jwks\n  audiences: [a]\n  fromHeaders: [{name: x-jwt, prefix: "Bearer "}]\n  fromParams: [token]\n  outputPayloadToHeader: x-jwt-payload\n  forwardOriginalToken: true\n  timeout: 5s\n  spaceDelimitedClaims: [groups, roles]')), [], 'spaceDelimitedClaims is a known field');
});

test('validateJwtRule: issuer, audiences, jwksUri, jwks, locations, timeout', () => {
  const got = diags(ra('- audiences: [""]\n  jwks: "{not json"\n  fromHeaders: [{name: ""}]\n  fromParams: [""]\n  timeout: 5x\n- issuer: i\n  jwksUri: ftp://x/jwks'));
  const has = (s: string) => assert.ok(got.some((g) => g.includes(s)), `${s} not in\n${got.join('\n')}`);
  has('spec.jwtRules[0].issuer: issuer or jwksUri must be non-empty string');
  has('spec.jwtRules[0].audiences[0]: audience must be non-empty string');
  has('spec.jwtRules[0].jwks: jwks parse error');
  has('spec.jwtRules[0].fromHeaders[0].name: location header name must be non-empty string');
  has('spec.jwtRules[0].fromParams[0]: location query must be non-empty string');
  has('spec.jwtRules[0].timeout: invalid duration');
  has('spec.jwtRules[1].jwksUri: jwks URI ftp://x/jwks must use scheme http or https');
  assert.ok(got.every((g) => g.startsWith('IST0106 error')));
});

test('IST0101 (warning) for policies whose target ServiceEntry or Gateway is missing', () => {
  const yaml = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: istio-egress}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
${ra('- issuer: https://issuer.test\n  jwks: \'{"keys": []}\'').replace('name: api', 'name: nope')}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: istio-egress}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: other-waypoint}]
  rules: [{}]
`;
  const out = compile(parseDocuments(yaml, 'x.yaml').resources);
  assert.ok(out.snapshot);
  const w = out.diagnostics.filter((d) => d.code === 'IST0101').map((d) => `${d.level} ${d.resource?.kind} ${d.message}`);
  assert.deepEqual(w, [
    'warning AuthorizationPolicy AuthorizationPolicy targets Gateway istio-egress/other-waypoint, which does not exist; the policy applies to nothing',
    'warning RequestAuthentication RequestAuthentication targets ServiceEntry istio-egress/nope, which does not exist; the policy applies to nothing',
  ]);
});
