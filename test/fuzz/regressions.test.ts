// Counterexamples the properties of test/fuzz/ found, kept as explicit cases: each failed before its fix.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { compile } from '../../src/compile/compile.ts';
import { validateResource } from '../../src/config/kinds/index.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import { forwardRequestHeaders } from '../../src/dataplane/headers.ts';
import { applyHeaderOps } from '../../src/dataplane/route.ts';
import { mergeOps } from '../../src/model/header-ops.ts';
import { normalizePath } from '../../src/policy/normalize-path.ts';

describe('normalizePath: counterexamples from test/fuzz/normalize-path.test.ts', () => {
  test('a stray "%" before an escape cannot leave an encoded dot behind ("%2%65" is ".")', () => {
    assert.deepEqual(normalizePath('%2%65'), { ok: true, path: '/' });
    assert.deepEqual(normalizePath('/a/%2%65/b'), { ok: true, path: '/a/b' });
  });
  test('"%%32%65%%32%65" is a ".." segment, so it cannot dodge a DENY on /admin', () => {
    assert.deepEqual(normalizePath('/x/%%32%65%%32%65/admin'), { ok: true, path: '/admin' });
    assert.deepEqual(normalizePath('/x/%%32%65%%32%65/admin', 'MERGE_SLASHES'), { ok: true, path: '/admin' });
  });
  test('an escaped NUL made of escapes ("%%30%30") is refused like "%00"', () => {
    assert.equal(normalizePath('/a%%30%30').ok, false);
  });
  test('an encoded slash made of escapes ("%%32%66") is decoded under DECODE_AND_MERGE_SLASHES', () => {
    assert.deepEqual(normalizePath('/a/%%32%66b', 'DECODE_AND_MERGE_SLASHES'), { ok: true, path: '/a/b' });
  });
  test('a relative path loses its dot segments as an absolute one does ("a/../b" is "/b")', () => {
    assert.deepEqual(normalizePath('a/../b'), { ok: true, path: '/b' });
  });
});

describe('header edits: counterexamples from test/fuzz/headers.test.ts', () => {
  test('a field named in an earlier Connection header is not forwarded (two Connection headers are one list)', () => {
    const raw = ['Connection', 'x-a, x-b', 'Connection', 'keep-alive', 'x-b', '1', 'x-c', '2'];
    const sent = forwardRequestHeaders(raw, 'up:80').headers;
    const names = sent.filter((_, i) => i % 2 === 0);
    assert.ok(!names.includes('x-b'), `x-b forwarded: ${JSON.stringify(sent)}`);
    assert.ok(names.includes('x-c'));
  });
  test('a route and a destination that both set one response header send it once, with the later value', () => {
    const route = { set: [['x-a', 'route']] as const, add: [], remove: [] };
    const dest = { set: [['x-a', 'dest']] as const, add: [], remove: [] };
    assert.deepEqual(applyHeaderOps(['x-a', 'upstream', 'x-b', 'kept'], mergeOps(route, dest)), ['x-b', 'kept', 'x-a', 'dest']);
  });
});

describe('config: counterexamples from test/fuzz/config.test.ts', () => {
  const BASE = readFileSync(new URL('../fixtures/policy/base.yaml', import.meta.url), 'utf8');
  /** parse, validate, then compile what validated: the messages of every diagnostic. */
  function load(doc: string): { validation: string[]; compiled: boolean } {
    const parsed = parseDocuments(`${BASE}---\n${doc}`, 'regression.yaml');
    const validation: string[] = [];
    const valid = parsed.resources.filter((r) => {
      const v = validateResource(r);
      validation.push(...v.diagnostics.filter((d) => d.level === 'error').map((d) => `${d.path}: ${d.message}`));
      return !v.diagnostics.some((d) => d.level === 'error');
    });
    return { validation, compiled: compile(valid).snapshot !== undefined };
  }
  test('a RequestAuthentication with `spec:` and nothing after it compiles (it crashed compile)', () => {
    assert.deepEqual(load('apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: a, namespace: istio-egress}\nspec:\n'), { validation: [], compiled: true });
  });
  test('an AuthorizationPolicy without a spec compiles', () => {
    assert.deepEqual(load('apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: istio-egress}\n'), { validation: [], compiled: true });
  });
  test('a "__proto__" key is an unknown field, not a prototype that hides fields from validation', () => {
    const doc = 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: istio-egress}\nspec:\n  __proto__: {rules: http}\n  constructor: {x: 1}\n';
    assert.deepEqual(load(doc), { validation: [], compiled: true });
    const parsed = parseDocuments(`${BASE}---\n${doc}`, 'regression.yaml');
    const warnings = parsed.resources.flatMap((r) => validateResource(r).diagnostics).map((d) => d.message);
    assert.deepEqual(warnings, ['unknown field "__proto__" is ignored', 'unknown field "constructor" is ignored']);
  });
  test('a null list item is a validation error, not a crash (ServiceEntry hosts: [null])', () => {
    const out = load('apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: x, namespace: istio-egress}\nspec: {hosts: [null], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}\n');
    assert.deepEqual(out.validation, ['spec.hosts[0]: list item must not be null']);
  });
  test('a null list item is a validation error, not a crash (VirtualService match: [null])', () => {
    const out = load('apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x, namespace: istio-egress}\nspec: {hosts: [api.example.com], http: [{match: [null], route: [{destination: {host: api.example.com}}]}]}\n');
    assert.deepEqual(out.validation, ['spec.http[0].match[0]: list item must not be null']);
  });
});
