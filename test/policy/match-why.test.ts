// matchRule's explanations (the `why` that `egressway check` prints for every rule) and the
// attributes a request may lack: no identity, no JWT. Mutation testing found these unguarded.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import type { AuthzTable } from '../../src/model/policy.ts';
import { decide, type AuthzRequest } from '../../src/policy/decide.ts';
import { authorizationPolicy as ap } from '../helpers/inprocess.ts';

const BASE = readFileSync(new URL('../fixtures/policy/base.yaml', import.meta.url), 'utf8');
const API = 'istio-egress/api';
const GET: AuthzRequest = { protocol: 'http', sourceIp: '10.0.0.5', host: 'api.example.com', method: 'GET', path: '/p?q=1', headers: { 'x-a': 'one' }, destinationPort: 80 };

function table(policies: string): AuthzTable {
  const parsed = parseDocuments(`${BASE}\n${policies}`, 'why.yaml');
  assert.deepEqual(parsed.diagnostics.map((d) => d.message), []);
  const out = compile(parsed.resources, {});
  assert.ok(out.snapshot, JSON.stringify(out.diagnostics));
  return out.snapshot.authz;
}

const why = (t: AuthzTable, req: AuthzRequest) => decide(t, API, req).trace.flatMap((e) => e.why);
const R = (name: string, i = 0) => `ns[istio-egress]-policy[${name}]-rule[${i}]`;

test('each way a rule can fail is explained, and a match says so', () => {
  const t = table(ap('p', 'api', `rules:
- from: [{source: {principals: [cluster.local/ns/a/sa/x]}}, {source: {namespaces: [b]}}]
- to: [{operation: {notMethods: [GET]}}]
- when: [{key: "request.headers[x-b]", values: ["yes"]}]
- when: [{key: "request.headers[x-a]", values: [one, two]}]`));
  assert.deepEqual(why(t, GET), [
    `${R('p', 0)}: no from matched (from[0].source.principals: no source.principal not in [cluster.local/ns/a/sa/x]; from[1].source.namespaces: no source.principal not in [b])`,
    `${R('p', 1)}: no to matched (to[0].operation.notMethods: "GET" is in [GET])`,
    `${R('p', 2)}: when[0](request.headers[x-b]).values: no request.headers[x-b] not in [yes]`,
    `${R('p', 3)} matched`,
  ]);
});

test('on TCP an ALLOW rule with HTTP-only fields never matches, and says why', () => {
  const t = table(ap('p', 'api', 'rules: [{to: [{operation: {methods: [GET], paths: [/x]}}]}]'));
  const d = decide(t, API, { protocol: 'tcp', sourceIp: '10.0.0.5', destinationPort: 443 });
  assert.equal(d.allow, false);
  assert.deepEqual(d.trace.flatMap((e) => e.why), [`${R('p')}: uses HTTP-only to[0].operation.methods, to[0].operation.paths; on TCP traffic Istio never matches it in an ALLOW policy`]);
});

test('a request without a peer identity or a JWT: trustDomains and JWT attributes do not match, and nothing throws', () => {
  const t = table(ap('p', 'api', `rules:
- from: [{source: {trustDomains: [cluster.local]}}]
- when: [{key: request.auth.audiences, values: [api]}]
- when: [{key: request.auth.presenter, values: [web]}]
- when: [{key: "request.auth.claims[iss]", values: [me]}]
- from: [{source: {requestPrincipals: ["*"]}}]`));
  const d = decide(t, API, GET);
  assert.equal(d.allow, false);
  assert.deepEqual(d.trace.flatMap((e) => e.why), [
    `${R('p', 0)}: no from matched (from[0].source.trustDomains: no source.trustDomain not in [cluster.local])`,
    `${R('p', 1)}: when[0](request.auth.audiences).values: no request.auth.audiences not in [api]`,
    `${R('p', 2)}: when[0](request.auth.presenter).values: no request.auth.presenter not in [web]`,
    `${R('p', 3)}: when[0](request.auth.claims[iss]).values: no request.auth.claims not in [me]`,
    `${R('p', 4)}: no from matched (from[0].source.requestPrincipals: no request principal not in [*])`,
  ]);
  const withJwt = decide(t, API, { ...GET, principal: 'cluster.local/ns/shop/sa/cart' });
  assert.equal(withJwt.allow, true, 'the trust domain is the first segment of the principal');
});
