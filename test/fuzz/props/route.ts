// Route matching at request time (src/dataplane/route.ts) over matchers compiled by
// src/compile/route-match.ts, against a reference model of Envoy's / Gateway API's match rules.
import fc from 'fast-check';
import { DEFAULT_RETRY } from '../../../src/compile/routes-common.ts';
import { compileRegex, compileStringMatch } from '../../../src/compile/route-match.ts';
import { matchRoute, parseQuery, redirectLocation, rewritePath } from '../../../src/dataplane/route.ts';
import type { RouteRequest } from '../../../src/dataplane/route.ts';
import type { KeyMatch, RouteMatch, RouteRule, RouteTable, StrMatch } from '../../../src/model/route.ts';
import { mixed, routePath, tokens, wireStringMatch } from '../../helpers/arbitraries.ts';
import { fuzzProperty } from '../property.ts';

const compiled = (keyed: boolean, ignoreCase = false) => wireStringMatch
  .map((w) => compileStringMatch(w, { keyed, ignoreCase }))
  .filter((r) => r !== undefined && r.ok)
  .map((r) => (r as { ok: true; value: StrMatch }).value);

const segmentPrefix = tokens(['/', 'a', 'b', 'ab'], 4).map((p): StrMatch => ({ kind: 'segment-prefix', value: p.startsWith('/') ? p : `/${p}` }));

const keyMatch = (names: readonly string[]) => fc.record({
  name: fc.constantFrom(...names), match: compiled(true), invert: fc.boolean(), missingAsEmpty: fc.boolean(),
}) satisfies fc.Arbitrary<KeyMatch>;

const routeMatch: fc.Arbitrary<RouteMatch> = fc.boolean().chain((ignoreUriCase) => fc.record({
  uri: fc.oneof(compiled(false, ignoreUriCase), segmentPrefix),
  ignoreUriCase: fc.constant(ignoreUriCase),
  method: compiled(true),
  authority: compiled(true),
  scheme: compiled(true),
  port: fc.constantFrom(80, 8080),
  headers: fc.array(keyMatch(['x-a', 'x-b', 'host']), { maxLength: 2 }),
  queryParams: fc.array(keyMatch(['k', 'a', 'A']), { maxLength: 2 }),
}, { requiredKeys: ['headers', 'queryParams'] }));

const rule = (i: number, matches: RouteMatch[]): RouteRule => ({
  name: `r${i}`, matches, action: { kind: 'direct', status: 200, body: '' }, retry: DEFAULT_RETRY, mirrors: [],
});

const table: fc.Arbitrary<RouteTable> = fc.array(fc.array(routeMatch, { maxLength: 3 }), { maxLength: 4 })
  .map((rules) => ({ source: 'fuzz', rules: rules.map((m, i) => rule(i, m)) }));

const request: fc.Arbitrary<RouteRequest> = fc.record({
  path: mixed(routePath, 16),
  method: fc.constantFrom('GET', 'POST', 'get', 'x'),
  authority: fc.constantFrom('a', 'api.example.com', 'A:80', ''),
  headers: fc.dictionary(fc.constantFrom('x-a', 'x-b', 'host'), fc.oneof(fc.constantFrom('a', '', '/a', 'GET', 'b'), fc.array(fc.constantFrom('a', 'b'), { maxLength: 2 })), { maxKeys: 3 }),
  port: fc.constantFrom(80, 8080),
});

/** Gateway API PathPrefix: the prefix's path elements (trailing "/" ignored) begin the path's. */
function refSegmentPrefix(prefix: string, path: string): boolean {
  const p = prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (p === '/') return true;
  const want = p.split('/');
  const have = path.split('/');
  return want.every((s, i) => have[i] === s);
}

function refString(m: StrMatch, v: string | undefined): boolean {
  if (v === undefined) return false;
  switch (m.kind) {
    case 'exact': return v === m.value;
    case 'prefix': return v.slice(0, m.value.length) === m.value;
    case 'segment-prefix': return refSegmentPrefix(m.value, v);
    case 'regex': return new RegExp(`^(?:${m.source})$`).test(v);
    case 'present': return true;
  }
}

/** One match, as Envoy reads it: every condition present holds (headers joined with ","; first query value wins). */
function refMatch(m: RouteMatch, r: RouteRequest): boolean {
  const [path, ...rest] = r.path.split('?');
  const query = rest.join('?');
  const header = (n: string) => { const v = r.headers[n]; return Array.isArray(v) ? v.join(',') : v; };
  const param = (n: string) => {
    for (const kv of query.split('&')) {
      const eq = kv.indexOf('=');
      if (kv && (eq < 0 ? kv : kv.slice(0, eq)) === n) return eq < 0 ? '' : kv.slice(eq + 1);
    }
    return undefined;
  };
  const keys = (ks: readonly KeyMatch[], get: (n: string) => string | undefined) => ks.every((k) => {
    const v = get(k.name);
    return refString(k.match, v === undefined && k.missingAsEmpty ? '' : v) !== k.invert;
  });
  const uriPath = m.ignoreUriCase && m.uri?.kind !== 'regex' ? path.toLowerCase() : path;
  return (m.port === undefined || m.port === r.port)
    && (!m.uri || refString(m.uri, uriPath))
    && (!m.method || refString(m.method, r.method))
    && (!m.authority || refString(m.authority, r.authority))
    && (!m.scheme || refString(m.scheme, 'http'))
    && keys(m.headers, header) && keys(m.queryParams, param);
}

export const properties = [
  fuzzProperty('route: matchRoute picks the first rule with a match that holds (reference model)', fc.property(table, request, (t, r) => {
    const got = matchRoute(t, r)?.rule.name;
    const want = t.rules.find((x) => x.matches.length === 0 || x.matches.some((m) => refMatch(m, r)))?.name;
    if (got !== want) throw new Error(`got ${got}, reference ${want}`);
  })),
  fuzzProperty('route: segment-prefix matches whole path elements only', fc.property(segmentPrefix, routePath, (m, path) => {
    const t: RouteTable = { source: 'fuzz', rules: [rule(0, [{ uri: m, headers: [], queryParams: [] }])] };
    const got = matchRoute(t, { path, method: 'GET', authority: 'a', headers: {}, port: 80 }) !== undefined;
    if (got !== refSegmentPrefix((m as { value: string }).value, path.split('?')[0])) throw new Error(`got ${got}`);
  })),
  fuzzProperty('route: compiling any regex source or string match gives a matcher or an error, never an exception', fc.property(fc.string({ unit: 'binary', maxLength: 16 }), fc.boolean(), (src, keyed) => {
    compileRegex(src);
    compileStringMatch({ regex: src }, { keyed });
    compileStringMatch({ exact: src }, { ignoreCase: keyed });
  })),
  fuzzProperty('route: parseQuery keeps the first value of each name, undecoded', fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'A', '%61'), tokens(['x', '=', '%20', '+'], 3)), { maxLength: 5 }), (kv) => {
    const q = parseQuery(kv.map(([k, v]) => `${k}=${v}`).join('&'));
    for (const [k] of kv) if (q.get(k) !== kv.find(([n]) => n === k)![1]) throw new Error(`${k}: ${q.get(k)}`);
  })),
  fuzzProperty('route: rewrites of a path keep its query and give a path; redirects give an absolute URL', fc.property(
    routePath, tokens(['/', 'a', 'b'], 3).map((m) => `/${m}`), tokens(['/', 'x', 'y'], 3), fc.constantFrom('plain', 'segments'), fc.constantFrom(undefined, 'https', 'http'), fc.constantFrom<number | 'request' | undefined>(undefined, 80, 443, 'request'),
    (path, match, replacement, mode, scheme, port) => {
      const q = path.indexOf('?');
      const out = rewritePath(path, { prefix: { match, replacement, mode } });
      if (q >= 0 && !out.endsWith(path.slice(q))) throw new Error(`query lost: ${out}`);
      if (mode === 'segments' && !out.startsWith('/')) throw new Error(`not a path: ${out}`);
      const loc = redirectLocation({ kind: 'redirect', status: 301, ...(scheme ? { scheme } : {}), ...(port ? { port } : {}), prefix: { match, replacement, mode } }, { host: 'h:8080', port: 8080, path });
      if (!/^https?:\/\/[^/]+\//.test(loc)) throw new Error(`Location ${loc}`);
    },
  )),
];
