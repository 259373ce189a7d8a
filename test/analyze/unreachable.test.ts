// IST0130 / IST0131 as Istio's analyzeUnreachableHTTPRules / TCPRules / TLSRules report them: one
// message per duplicate match, GET assumed for prefix matches without a method, overlap inside a
// rule, and Istio's split between the two codes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyze } from '../../src/analyze/analyze.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import { validateResource } from '../../src/config/kinds/index.ts';

const route = [{ destination: { host: 'foo.bar' } }];

function found(spec: Record<string, unknown>): string[] {
  const doc = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'vs', namespace: 'ns' }, spec: { hosts: ['foo.bar'], ...spec } };
  const r = parseDocuments(JSON.stringify(doc), 'vs.json').resources[0];
  assert.ok(!validateResource(r).diagnostics.some((d) => d.level === 'error'), 'the VirtualService itself is valid');
  return analyze([r], []).filter((d) => d.code === 'IST0130' || d.code === 'IST0131').map((d) => `${d.code} ${d.path}: ${d.message}`);
}

const cases: { name: string; spec: Record<string, unknown>; expect: string[] }[] = [
  {
    name: 'two rules without matches',
    spec: { http: [{ route }, { route }] },
    expect: ['IST0130 spec.http[1]: VirtualService rule #1 not used (only the last rule can have no matches).'],
  },
  {
    name: 'a rule after a catch-all: one message per match',
    spec: { http: [{ route }, { match: [{ uri: { prefix: '/a' } }, { uri: { prefix: '/b' } }], route }] },
    expect: [
      'IST0130 spec.http[1].match[0]: VirtualService rule #1 not used (route without matches defined before).',
      'IST0130 spec.http[1].match[1]: VirtualService rule #1 not used (route without matches defined before).',
    ],
  },
  {
    name: 'duplicate match: ineffective match and unreachable rule',
    spec: { http: [{ name: 'first', match: [{ uri: { exact: '/a' } }], route }, { name: 'second', match: [{ name: 'm', uri: { exact: '/a' } }], route }] },
    expect: [
      'IST0131 spec.http[1].match[0]: VirtualService rule "second" match "m" is not used (duplicate/overlapping match in rule "first").',
      'IST0130 spec.http[1]: VirtualService rule "second" not used (all matches used by prior rules).',
    ],
  },
  {
    name: 'duplicate inside one rule',
    spec: { http: [{ match: [{ uri: { exact: '/a' } }, { uri: { exact: '/a' } }], route }] },
    expect: ['IST0131 spec.http[0].match[1]: VirtualService rule #0 match #1 is not used (duplicate/overlapping match in rule #0).'],
  },
  {
    name: 'only some matches duplicated: no unreachable rule',
    spec: { http: [{ match: [{ uri: { exact: '/a' } }], route }, { match: [{ uri: { exact: '/a' } }, { uri: { exact: '/b' } }], route }] },
    expect: ['IST0131 spec.http[1].match[0]: VirtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0).'],
  },
  {
    name: 'prefix overlap',
    spec: { http: [{ match: [{ uri: { prefix: '/debug' } }], route }, { match: [{ uri: { prefix: '/debugs' } }], route }] },
    expect: ['IST0131 spec.http[1].match[0]: VirtualService rule #1 match #0 of prefix /debugs is not used (duplicate/overlapping match in rule #0 of prefix /debug on #0).'],
  },
  {
    name: 'prefix overlap inside one rule',
    spec: { http: [{ match: [{ uri: { prefix: '/api' } }, { uri: { prefix: '/api/v1' } }], route }] },
    expect: ['IST0131 spec.http[0].match[1]: VirtualService rule #0 match #1 of prefix /api/v1 is not used (duplicate/overlapping match in rule #0 of prefix /api on #0).'],
  },
  {
    name: 'no method means GET: a later POST match is not covered',
    spec: { http: [{ match: [{ uri: { prefix: '/a' } }], route }, { match: [{ uri: { prefix: '/ab' }, method: { exact: 'POST' } }], route }] },
    expect: [],
  },
  {
    name: 'no method means GET: a later GET match is covered',
    spec: { http: [{ match: [{ uri: { prefix: '/a' } }], route }, { match: [{ uri: { prefix: '/ab' }, method: { exact: 'GET' } }], route }] },
    expect: ['IST0131 spec.http[1].match[0]: VirtualService rule #1 match #0 of prefix /ab is not used (duplicate/overlapping match in rule #0 of prefix /a on #0).'],
  },
  {
    name: 'a later match with an extra header is not covered',
    spec: { http: [{ match: [{ uri: { prefix: '/a' } }], route }, { match: [{ uri: { prefix: '/ab' }, headers: { x: { exact: '1' } } }], route }] },
    expect: [],
  },
  {
    name: 'more specific first is fine',
    spec: { http: [{ match: [{ uri: { prefix: '/api/v1' } }], route }, { match: [{ uri: { prefix: '/api' } }], route }, { route }] },
    expect: [],
  },
  {
    name: 'TCP duplicate match',
    spec: { tcp: [{ match: [{ port: 9000 }], route }, { match: [{ port: 9000 }], route }] },
    expect: [
      'IST0131 spec.tcp[1].match[0]: VirtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0).',
      'IST0130 spec.tcp[1]: VirtualService rule #1 not used (all matches used by prior rules).',
    ],
  },
  {
    name: 'TLS duplicate match',
    spec: { tls: [{ match: [{ sniHosts: ['foo.bar'] }], route }, { match: [{ sniHosts: ['foo.bar'] }], route }] },
    expect: [
      'IST0131 spec.tls[1].match[0]: VirtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0).',
      'IST0130 spec.tls[1]: VirtualService rule #1 not used (all matches used by prior rules).',
    ],
  },
];

for (const c of cases) {
  test(`IST0130/IST0131: ${c.name}`, () => assert.deepEqual(found(c.spec).sort(), [...c.expect].sort()));
}
