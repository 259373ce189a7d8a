// Route selection at request time: PURE. First matching rule wins (rules arrive already ordered:
// VirtualService order, or Gateway API precedence for HTTPRoute).
import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderOps, KeyMatch, RouteAction, RouteMatch, RouteRule, RouteTable, StrMatch, WeightedCluster } from '../model/route.ts';

export interface RouteRequest {
  /** Path with its query string, after normalisation. */
  readonly path: string;
  readonly method: string;
  readonly authority: string;
  readonly headers: IncomingHttpHeaders;
  readonly port: number;
}

export function matchRoute(table: RouteTable, r: RouteRequest): { rule: RouteRule; match?: RouteMatch } | undefined {
  const q = r.path.indexOf('?');
  const path = q < 0 ? r.path : r.path.slice(0, q);
  let query: URLSearchParams | undefined;
  for (const rule of table.rules) {
    if (rule.matches.length === 0) return { rule };
    for (const m of rule.matches) {
      if (m.port !== undefined && m.port !== r.port) continue;
      if (m.uri && !matchString(m.uri, m.ignoreUriCase ? path.toLowerCase() : path)) continue;
      if (m.method && !matchString(m.method, r.method)) continue;
      if (m.authority && !matchString(m.authority, r.authority)) continue;
      if (m.scheme && !matchString(m.scheme, 'http')) continue;
      if (m.headers.length && !matchKeys(m.headers, (n) => headerValue(r.headers, n))) continue;
      if (m.queryParams.length) {
        query ??= new URLSearchParams(q < 0 ? '' : r.path.slice(q + 1));
        const qp = query;
        if (!matchKeys(m.queryParams, (n) => qp.get(n) ?? undefined)) continue;
      }
      return { rule, match: m };
    }
  }
  return undefined;
}

function headerValue(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** One draw over cumulative weights. */
export function pickWeighted(action: RouteAction & { kind: 'forward' }, random = Math.random): WeightedCluster | undefined {
  const c = action.clusters;
  if (c.length <= 1) return c[0];
  const x = random() * action.total;
  for (const w of c) if (x < w.upTo) return w;
  return c[c.length - 1];
}

/** Rewrites the path (query kept) per a route's rewrite; `matchedPrefix` is the prefix that matched. */
export function rewritePath(path: string, rw: NonNullable<(RouteAction & { kind: 'forward' })['rewrite']>): string {
  const q = path.indexOf('?');
  let p = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? '' : path.slice(q);
  if (rw.fullPath !== undefined) p = rw.fullPath;
  else if (rw.prefix && p.startsWith(rw.prefix.match)) {
    const rest = p.slice(rw.prefix.match.length);
    p = rw.prefix.replacement + rest;
    if (p.startsWith('//')) p = p.slice(1);
    if (!p.startsWith('/')) p = `/${p}`;
  } else if (rw.regex) p = p.replace(rw.regex.re, rw.regex.replacement);
  return p + query;
}

/** Applies set/add/remove to a flat [name, value, ...] header list (names compared lower-case). */
export function applyHeaderOps(flat: string[], ops: HeaderOps | undefined): string[] {
  if (!ops) return flat;
  const drop = new Set([...ops.remove, ...ops.set.map(([k]) => k)]);
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) if (!drop.has(flat[i]!.toLowerCase())) out.push(flat[i]!, flat[i + 1]!);
  for (const [k, v] of ops.set) out.push(k, v);
  for (const [k, v] of ops.add) out.push(k, v);
  return out;
}

export function matchString(m: StrMatch, v: string | undefined): boolean {
  if (v === undefined) return false;
  switch (m.kind) {
    case 'exact': return v === m.value;
    case 'prefix': return v.startsWith(m.value);
    case 'segment-prefix': return segmentPrefix(m.value, v);
    case 'regex': return m.re.test(v);
    case 'present': return true;
  }
}

// Gateway API PathPrefix compares whole segments; a trailing slash in the prefix is ignored.
function segmentPrefix(prefix: string, path: string): boolean {
  const p = prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (p === '/') return true;
  return path === p || (path.startsWith(p) && path[p.length] === '/');
}

export function matchKeys(keys: readonly KeyMatch[], get: (name: string) => string | undefined): boolean {
  for (const k of keys) {
    const hit = matchString(k.match, get(k.name));
    if (hit === k.invert) return false;
  }
  return true;
}
