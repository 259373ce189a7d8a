// Delegate VirtualServices at the waypoint (istiod mergeVirtualServicesIfNeeded, before
// VirtualServicesForGateway): rows of model/virtualservice_test.go TestMergeVirtualServices /
// TestMergeHttpRoutes that reach a waypoint, in compile form.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile, CompileMemo } from '../../src/compile/compile.ts';
import { canonical } from '../helpers/canonical.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import type { StrMatch } from '../../src/model/route.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';

const A = 'inbound-vip|80|http|a.test';
const entries = serviceEntry('a', 'hosts: [a.test]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS\nendpoints: [{address: 127.0.0.1}]')
  + serviceEntry('b', 'hosts: [b.istio-egress.svc.cluster.local]\nports: [{number: 8080, name: http, protocol: HTTP}]\nresolution: DNS\nendpoints: [{address: 127.0.0.1}]');

const root = (http: string, extra = '') => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: istio-egress, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [a.test]
${extra}  http:
${http}`;
const delegate = (name: string, http: string, meta = 'namespace: istio-egress', spec = '') => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, ${meta}}
spec:
${spec}  http:
${http}`;

function compiled(yaml: string): { snapshot: Snapshot; messages: string[] } {
  const out = compile(parseDocuments(WAYPOINT_YAML + entries + yaml, 'test.yaml').resources, {});
  assert.ok(out.snapshot, JSON.stringify(out.diagnostics));
  return { snapshot: out.snapshot, messages: out.diagnostics.map((d) => d.message) };
}

const uriOf = (u: StrMatch | undefined) => (!u ? undefined : u.kind === 'regex' ? `regex:${u.source}` : `${u.kind}:${'value' in u ? u.value : ''}`);

/** Each rule of a.test's table: its name, match uris and first destination cluster. */
function rules(s: Snapshot) {
  return s.routes.get(A)?.rules.map((r) => ({
    name: r.name,
    uri: uriOf(r.matches[0]?.uri),
    to: r.action.kind === 'forward' ? r.action.clusters[0]?.cluster : r.action.kind,
    timeoutMs: r.timeoutMs,
  }));
}

test('a root rule with delegate takes the delegate\'s rules, matches merged, root fields filling unset ones', () => {
  const { snapshot } = compiled(root('  - name: r\n    match: [{uri: {prefix: /api}}]\n    timeout: 5s\n    delegate: {name: child}\n  - route: [{destination: {host: a.test}}]\n')
    + delegate('child', '  - name: v2\n    match: [{uri: {prefix: /api/v2}}]\n    route: [{destination: {host: b}}]\n  - route: [{destination: {host: b}}]\n    timeout: 1s\n'));
  assert.deepEqual(rules(snapshot), [
    { name: 'r-v2', uri: 'prefix:/api/v2', to: 'inbound-vip|8080|http|b.istio-egress.svc.cluster.local', timeoutMs: 5000 },
    { name: 'r', uri: 'prefix:/api', to: 'inbound-vip|8080|http|b.istio-egress.svc.cluster.local', timeoutMs: 1000 },
    { name: 'istio-egress.root.2', uri: undefined, to: 'inbound-vip|80|http|a.test', timeoutMs: undefined },
  ]);
});

test('a delegate rule whose match conflicts with the root\'s is dropped (stringMatchConflict)', () => {
  const { snapshot } = compiled(root('  - match: [{uri: {prefix: /api}}]\n    delegate: {name: child}\n')
    + delegate('child', '  - match: [{uri: {prefix: /other}}]\n    route: [{destination: {host: b}}]\n  - match: [{uri: {exact: /api/x}}]\n    route: [{destination: {host: b}}]\n'));
  assert.deepEqual(rules(snapshot)?.map((r) => r.uri), ['exact:/api/x']);
});

test('a delegate in another namespace: resolved there, merged when exported to the root\'s namespace, skipped otherwise', () => {
  const child = (exportTo: string) => delegate('child', '  - route: [{destination: {host: b}}]\n', 'namespace: shop', `  exportTo: ${exportTo}\n`);
  const ok = compiled(root('  - delegate: {name: child, namespace: shop}\n') + child('[istio-egress]'));
  const action = ok.snapshot.routes.get(A)?.rules[0]?.action;
  assert.equal(action?.kind === 'forward' && action.clusters[0]?.host, 'b.shop.svc.cluster.local', 'the delegate\'s short host is in its own namespace');
  const hidden = compiled(root('  - delegate: {name: child, namespace: shop}\n') + child('["."]'));
  assert.equal(hidden.snapshot.routes.get(A), undefined);
  assert.ok(hidden.messages.some((m) => m.includes('delegate VirtualService shop/child does not exist (a VirtualService without hosts) or is not exported to istio-egress')), hidden.messages.join('\n'));
});

test('a missing delegate leaves the root\'s other rules', () => {
  const { snapshot, messages } = compiled(root('  - match: [{uri: {prefix: /x}}]\n    delegate: {name: nowhere}\n  - route: [{destination: {host: b}}]\n'));
  assert.deepEqual(rules(snapshot)?.map((r) => r.to), ['inbound-vip|8080|http|b.istio-egress.svc.cluster.local']);
  assert.ok(messages.some((m) => m.includes('istio-egress/nowhere')));
});

test('incremental compile: a changed delegate rebuilds its root\'s table', () => {
  const kept = parseDocuments(WAYPOINT_YAML + entries + root('  - delegate: {name: child}\n'), 'test.yaml').resources;
  const child = (ms: string) => parseDocuments(delegate('child', `  - route: [{destination: {host: b}}]\n    timeout: ${ms}\n`), 'child.yaml').resources;
  const memo = new CompileMemo();
  compile([...kept, ...child('1s')], {}, memo);
  const changed = [...kept, ...child('2s')];
  const next = compile(changed, {}, memo);
  assert.equal(next.snapshot!.routes.get(A)?.rules[0]?.timeoutMs, 2000);
  assert.equal(canonical(next.snapshot), canonical(compile(changed, {}).snapshot));
});

test('a diagnostic on a merged rule points at the delegate\'s rule where it was written', () => {
  const yaml = root('  - delegate: {name: child}\n') + delegate('child', '  - route: [{destination: {host: b}}]\n  - route: [{destination: {host: nowhere.test}}]\n');
  const out = compile(parseDocuments(WAYPOINT_YAML + entries + yaml, 'test.yaml').resources, {});
  const d = out.diagnostics.find((x) => x.message.includes('nowhere.test'));
  assert.ok(d, out.diagnostics.map((x) => x.message).join('\n'));
  const text = WAYPOINT_YAML + entries + yaml;
  assert.equal(text.split('\n')[d.line! - 1]?.includes('nowhere.test'), true, `line ${d.line}: ${text.split('\n')[d.line! - 1]}`);
});
