// decide() field by field: the action, policy, rule, details and reason of each outcome, the trace
// `egressway check` prints, CUSTOM call de-duplication, dry-run and AUDIT on TCP, and customDenied.
// The fixture tables (decide.test.ts) assert allow/details; these pin the rest (mutation testing
// found these fields unguarded).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import type { AuthzTable } from '../../src/model/policy.ts';
import { customDenied, decide, DENIED_NONE, type AuthzRequest } from '../../src/policy/decide.ts';
import { authorizationPolicy as ap } from '../helpers/inprocess.ts';

const BASE = readFileSync(new URL('../fixtures/policy/base.yaml', import.meta.url), 'utf8');
const DRY = 'istio.io/dry-run: "true"';

function table(policies = ''): AuthzTable {
  const out = compile(parseDocuments(`${BASE}\n${policies}`, 'unit.yaml').resources, {});
  assert.ok(out.snapshot, JSON.stringify(out.diagnostics));
  return out.snapshot.authz;
}

const GET: AuthzRequest = { protocol: 'http', sourceIp: '10.0.0.5', host: 'api.example.com', method: 'GET', path: '/', headers: {}, destinationPort: 80 };
const TCP: AuthzRequest = { protocol: 'tcp', sourceIp: '10.0.0.5', destinationPort: 443 };
const API = 'istio-egress/api';

test('no policy: allowed by default, action NONE, empty trace, no dry-run or audit fields', () => {
  const d = decide(table(), API, GET);
  assert.deepEqual(d, { allow: true, action: 'NONE', details: '', reason: 'no ALLOW policy applies to this target; allowed by default', customProviders: [], trace: [] });
});

test('ALLOW match, default deny, DENY: every field, and the trace stops at the first match', () => {
  const t = table(ap('a1', 'api', 'rules: [{to: [{operation: {paths: [/a]}}]}]') + ap('a2', 'api', 'rules: [{to: [{operation: {paths: [/b]}}]}]')
    + ap('d1', 'api', 'action: DENY\nrules: [{to: [{operation: {paths: [/x]}}]}]'));
  const allowed = decide(t, API, { ...GET, path: '/a' });
  assert.equal(allowed.allow, true);
  assert.equal(allowed.action, 'ALLOW');
  assert.equal(allowed.policy, 'istio-egress/a1');
  assert.equal(allowed.rule, 0);
  assert.equal(allowed.details, '');
  assert.equal(allowed.reason, 'allowed by ALLOW policy istio-egress/a1 rule 0');
  assert.deepEqual(allowed.trace.map((e) => [e.policy, e.action, e.matched, e.rule]), [
    ['istio-egress/d1', 'DENY', false, undefined],
    ['istio-egress/a1', 'ALLOW', true, 0],
  ], 'a2 comes after the match and is not evaluated');
  assert.deepEqual(allowed.trace[0]!.why, ['ns[istio-egress]-policy[d1]-rule[0]: no to matched (to[0].operation.paths: "/a" not in [/x])']);
  assert.equal(allowed.trace[0]!.scope, 'service');
  assert.equal(allowed.trace[0]!.dryRun, false);

  const none = decide(t, API, { ...GET, path: '/c' });
  assert.deepEqual([none.allow, none.action, none.details, none.policy], [false, 'NONE', DENIED_NONE, undefined]);
  assert.equal(none.reason, 'denied: no rule of the ALLOW policies that apply (istio-egress/a1, istio-egress/a2) matched');
  assert.equal(none.trace.length, 3);

  const denied = decide(t, API, { ...GET, path: '/x' });
  assert.deepEqual([denied.allow, denied.action, denied.policy, denied.rule], [false, 'DENY', 'istio-egress/d1', 0]);
  assert.equal(denied.details, 'rbac_access_denied_matched_policy[ns[istio-egress]-policy[d1]-rule[0]]');
  assert.equal(denied.reason, 'denied by DENY policy istio-egress/d1 rule 0');
});

test('a policy with no rules never matches, and the trace says so', () => {
  const d = decide(table(ap('empty', 'api', 'action: DENY\nrules: []')), API, GET);
  assert.equal(d.allow, true);
  assert.deepEqual(d.trace.map((e) => ({ policy: e.policy, matched: e.matched, why: e.why })), [{ policy: 'istio-egress/empty', matched: false, why: ['no rules: never matches'] }]);
});

test('CUSTOM: one call per provider, naming the first matching policy and rule', () => {
  const t = table(ap('c1', 'api', 'action: CUSTOM\nprovider: {name: opa}\nrules: [{to: [{operation: {paths: [/nope]}}]}, {}]')
    + ap('c2', 'api', 'action: CUSTOM\nprovider: {name: opa}\nrules: [{}]') + ap('c3', 'api', 'action: CUSTOM\nprovider: {name: other}\nrules: [{}]'));
  assert.deepEqual(decide(t, API, GET).customProviders, [
    { provider: 'opa', policy: 'istio-egress/c1', rule: 1 },
    { provider: 'other', policy: 'istio-egress/c3', rule: 0 },
  ]);
});

test('customDenied: a provider deny and an unreachable provider, every field', () => {
  const base = decide(table(), API, GET);
  const call = { provider: 'opa', policy: 'istio-egress/c1', rule: 2 };
  const denied = customDenied(base, call);
  assert.deepEqual({ ...denied, trace: undefined }, { ...base, trace: undefined, allow: false, action: 'CUSTOM', policy: 'istio-egress/c1', rule: 2, details: 'ext_authz_denied', reason: 'denied by CUSTOM provider opa (policy istio-egress/c1 rule 2)' });
  const error = customDenied(base, call, true);
  assert.equal(error.allow, false);
  assert.equal(error.details, 'ext_authz_error');
  assert.equal(error.reason, 'authorization server unreachable for CUSTOM provider opa (policy istio-egress/c1 rule 2)');
});

test('dry-run: absent without dry-run policies; DENY then ALLOW shadows, each with its details', () => {
  assert.equal(decide(table(ap('real', 'api', 'rules: [{}]')), API, GET).dryRun, undefined);
  const onlyDeny = table(ap('try-deny', 'api', 'action: DENY\nrules: [{to: [{operation: {paths: [/x]}}]}]', DRY));
  assert.deepEqual(decide(onlyDeny, API, GET).dryRun, { wouldDeny: false, details: '' });
  assert.deepEqual(decide(onlyDeny, API, { ...GET, path: '/x' }).dryRun, { wouldDeny: true, details: 'rbac_access_denied_matched_policy[ns[istio-egress]-policy[try-deny]-rule[0]]', policy: 'istio-egress/try-deny' });
  const onlyAllow = table(ap('try-allow', 'api', 'rules: [{to: [{operation: {paths: [/a]}}]}]', DRY));
  assert.deepEqual(decide(onlyAllow, API, { ...GET, path: '/a' }).dryRun, { wouldDeny: false, details: '', policy: 'istio-egress/try-allow' });
  assert.deepEqual(decide(onlyAllow, API, GET).dryRun, { wouldDeny: true, details: DENIED_NONE });
  assert.equal(decide(onlyAllow, API, GET).allow, true, 'never enforced');
});

// On TCP, Istio leaves HTTP-only fields out of DENY, AUDIT and dry-run DENY rules (they match more)
// and drops such rules from ALLOW and dry-run ALLOW policies (they never match).
test('on TCP: AUDIT and dry-run DENY rules with HTTP-only fields match; dry-run ALLOW ones never do', () => {
  const http = 'rules: [{to: [{operation: {methods: [GET]}}]}]';
  const t = table(ap('audit', 'api', `action: AUDIT\n${http}`) + ap('try-deny', 'api', `action: DENY\n${http}`, DRY));
  const d = decide(t, API, TCP);
  assert.equal(d.audit, true);
  assert.equal(d.auditPolicy, 'istio-egress/audit');
  assert.equal(d.dryRun?.wouldDeny, true);
  const allow = decide(table(ap('try-allow', 'api', http, DRY)), API, TCP);
  assert.deepEqual(allow.dryRun, { wouldDeny: true, details: DENIED_NONE });
});

test('traffic outside the registry sees waypoint-wide policies only', () => {
  const t = table(ap('svc', 'api', 'action: DENY\nrules: [{}]'));
  assert.equal(decide(t, API, GET).allow, false);
  assert.equal(decide(t, undefined, GET).allow, true);
});
