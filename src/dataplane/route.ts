// Route selection at request time: PURE. First matching rule wins (rules arrive already ordered:
// VirtualService order, or Gateway API precedence for HTTPRoute).
import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderOps, KeyMatch, PrefixRewrite, Redirect, RouteAction, RouteMatch, RouteRule, RouteTable, StrMatch, WeightedCluster } from '../model/route.ts';

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
  let query: Map<string, string> | undefined;
  for (const rule of table.rules) {
    if (rule.matches.length === 0) return { rule };
    for (const m of rule.matches) {
      if (m.port !== undefined && m.port !== r.port) continue;
      if (m.uri && !matchString(m.uri, m.ignoreUriCase && m.uri.kind !== 'regex' ? path.toLowerCase() : path)) continue;
      if (m.method && !matchString(m.method, r.method)) continue;
      if (m.authority && !matchString(m.authority, r.authority)) continue;
      if (m.scheme && !matchString(m.scheme, 'http')) continue;
      if (m.headers.length && !matchKeys(m.headers, (n) => (n.charCodeAt(0) === COLON ? pseudoHeader(r, n) : headerValue(r.headers, n)))) continue;
      if (m.queryParams.length) {
        query ??= parseQuery(q < 0 ? '' : r.path.slice(q + 1));
        const qp = query;
        if (!matchKeys(m.queryParams, (n) => qp.get(n))) continue;
      }
      return { rule, match: m };
    }
  }
  return undefined;
}

/**
 * Envoy's route matcher reads query parameters with parseQueryString: split on `&` and the first
 * `=`, no percent-decoding, and the first occurrence of a name wins. Names are case-sensitive.
 */
export function parseQuery(qs: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of qs.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (!out.has(name)) out.set(name, eq < 0 ? '' : part.slice(eq + 1));
  }
  return out;
}

const COLON = 58;

/** Envoy's header map holds the request line as pseudo-headers, which a header match may name. */
function pseudoHeader(r: RouteRequest, name: string): string | undefined {
  switch (name) {
    case ':path': return r.path;
    case ':method': return r.method;
    case ':authority': return r.authority;
    case ':scheme': return 'http';
    default: return undefined;
  }
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

/** Rewrites the path (query kept) per a route's rewrite. */
export function rewritePath(path: string, rw: NonNullable<(RouteAction & { kind: 'forward' })['rewrite']>): string {
  const q = path.indexOf('?');
  let p = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? '' : path.slice(q);
  if (rw.fullPath !== undefined) p = rw.fullPath;
  else if (rw.prefix) p = replacePrefix(p, rw.prefix);
  else if (rw.regex) p = p.replace(rw.regex.re, rw.regex.replacement);
  return p + query;
}

/**
 * `plain`: Envoy prefix_rewrite, character-wise (Istio passes VirtualService rewrite.uri through).
 * `segments`: Gateway API ReplacePrefixMatch, whose table (httproute_types.go HTTPPathModifier) is:
 * /foo/bar with /foo -> /xyz/ gives /xyz/bar; /foo/ with /foo -> /xyz gives /xyz/; /foo with /foo ->
 * "" or / gives /. Istio gets the same results via prefix_rewrite (trailing `/` trimmed) and, for
 * `/`, a regex; for a `/` match Istio would give /xyzfoo where the spec says /xyz/foo, and we follow
 * the spec.
 */
function replacePrefix(p: string, r: PrefixRewrite): string {
  if (r.mode === 'plain') {
    if (p.length < r.match.length) return p;
    return r.replacement + p.slice(r.match.length);
  }
  const match = trimSlash(r.match);
  if (!segmentPrefix(match || '/', p)) return p;
  const out = trimSlash(r.replacement) + p.slice(match.length);
  return out.startsWith('/') ? out : `/${out}`;
}

function trimSlash(s: string): string {
  return s.endsWith('/') ? s.slice(0, -1) : s;
}

export interface RedirectRequest {
  /** Host header as sent (may carry a port). */
  readonly host: string;
  /** The service port the request arrived for (derivePort FROM_REQUEST_PORT). */
  readonly port: number;
  /** Path with query, as routed. */
  readonly path: string;
}

/**
 * The Location of a redirect, as Envoy's Http::Utility::newUri builds it from Istio's RedirectAction
 * (route.go ApplyRedirect): scheme, then port_redirect (80 for http and 443 for https are dropped),
 * then the host (the redirect's, else the Host header with its port removed when a new port is set
 * or the scheme changes away from that port), then the path.
 */
export function redirectLocation(a: Redirect, r: RedirectRequest): string {
  const scheme = a.scheme ?? 'http';
  let port = a.port === 'request' ? r.port : a.port;
  if ((port === 80 && scheme === 'http') || (port === 443 && scheme === 'https')) port = undefined;
  const portPart = port !== undefined ? `:${port}` : '';
  const host = a.authority ?? requestHost(r.host, scheme, portPart !== '');
  return `${scheme}://${host}${portPart}${redirectPath(a, r.path)}`;
}

function requestHost(host: string, scheme: string, newPort: boolean): string {
  const end = host.startsWith('[') ? host.lastIndexOf(']:') + 1 : host.lastIndexOf(':');
  if (end <= 0) return host;
  const port = host.slice(end);
  // The request is plain HTTP at the waypoint: a switch to https drops an explicit :80.
  const remove = newPort || (scheme !== 'http' && port === ':80');
  return remove ? host.slice(0, end) : host;
}

function redirectPath(a: Redirect, path: string): string {
  const q = path.indexOf('?');
  let out = path;
  if (a.path !== undefined) out = a.path.includes('?') || q < 0 ? a.path : a.path + path.slice(q);
  else if (a.prefix) out = rewritePath(path, { prefix: a.prefix });
  return out.startsWith('/') ? out : `/${out}`;
}

/** Applies set/add/remove to a flat [name, value, ...] header list (names compared lower-case). */
export function applyHeaderOps(flat: string[], ops: HeaderOps | undefined, format?: (value: string) => string): string[] {
  if (!ops) return flat;
  if (ops.dynamic && format) return applyHeaderOps(flat, filled(ops, format));
  const drop = new Set([...ops.remove, ...ops.set.map(([k]) => k)]);
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) if (!drop.has(flat[i]!.toLowerCase())) out.push(flat[i]!, flat[i + 1]!);
  // Set replaces: when merged edits set one name twice (a route's and a destination's), the last wins.
  for (const [k, v] of new Map(ops.set)) out.push(k, v);
  for (const [k, v] of ops.add) out.push(k, v);
  return out;
}

/** Values with variables filled in; one that comes out empty is not applied (Envoy's evaluateHeaders). */
function filled(ops: HeaderOps, format: (value: string) => string): HeaderOps {
  const fill = (list: readonly (readonly [string, string])[]) => list.map(([k, v]) => [k, format(v)] as const).filter(([, v]) => v !== '');
  return { set: fill(ops.set), add: fill(ops.add), remove: ops.remove };
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
    const v = get(k.name);
    const hit = matchString(k.match, v === undefined && k.missingAsEmpty ? '' : v);
    if (hit === k.invert) return false;
  }
  return true;
}
