// Gateway API HTTPRoute rules -> RouteRules for one destination, translated the way istiod
// translates them (pilot/pkg/config/kube/gateway/conversion.go, reference §2.4), and ordered by
// Gateway API match precedence rather than list order.
import type { Resource } from '../config/resource.ts';
import type { BackendRef, HTTPRouteFilter, HTTPRouteMatch, HTTPRouteRule, HTTPRouteSpec } from '../config/kinds/http-route.ts';
import type { Cors, HeaderOps, KeyMatch, Mirror, RouteAction, RouteMatch, RouteRule, StrMatch } from '../model/route.ts';
import type { Destination } from '../model/snapshot.ts';
import { compileRegex } from './route-match.ts';
import { headerOps, mergeOps, parseDurationMs, retryPolicy, weighted } from './routes-common.ts';
import { clusterFor, routeDiagnostic, type RouteContext } from './routes.ts';
import type { AttachedRoute } from './route-attach.ts';
import { backendAllowed, refNotPermitted } from './reference-grants.ts';

type HR = Resource<HTTPRouteSpec>;

interface Entry {
  readonly rule: RouteRule;
  readonly rank: readonly number[];
}

export function compileHttpRouteRules(routes: readonly AttachedRoute[], d: Destination, ctx: RouteContext): RouteRule[] {
  const entries: Entry[] = [];
  for (const { route: hr, enforceGrants } of routes) {
    (hr.spec.rules ?? []).forEach((rule, i) => {
      const matches = rule.matches?.length ? rule.matches : [{ path: { type: 'PathPrefix' as const, value: '/' } }];
      matches.forEach((m, j) => {
        const compiled = compileMatch(hr, m, ctx, ['spec', 'rules', i, 'matches', j]);
        if (!compiled) return;
        entries.push({ rule: compileRule(hr, rule, i, compiled, m, d, ctx, enforceGrants), rank: precedence(m) });
      });
    });
  }
  // Stable sort: ties keep creation-time/name order (resources arrive sorted) and rule order.
  entries.sort((a, b) => {
    for (let k = 0; k < a.rank.length; k++) if (a.rank[k] !== b.rank[k]) return b.rank[k]! - a.rank[k]!;
    return 0;
  });
  return entries.map((e) => e.rule);
}

/**
 * conversion.go sortHTTPRoutes: Exact > PathPrefix > RegularExpression (getURIRank), then the
 * longer value (a PathPrefix counts without its trailing `/`, as createURIMatch trims it; a regex
 * by its source length), then a method, then more headers, then more query params. Ties keep input
 * order: oldest route, then namespace/name, then rule and match order.
 */
function precedence(m: HTTPRouteMatch): number[] {
  const type = m.path?.type ?? 'PathPrefix';
  let value = m.path?.value ?? '/';
  if (type === 'PathPrefix' && value !== '/' && value.endsWith('/')) value = value.slice(0, -1);
  return [type === 'Exact' ? 3 : type === 'PathPrefix' ? 2 : 1, value.length, m.method ? 1 : 0, m.headers?.length ?? 0, m.queryParams?.length ?? 0];
}

function compileMatch(hr: HR, m: HTTPRouteMatch, ctx: RouteContext, path: (string | number)[]): RouteMatch | undefined {
  let bad = false;
  const re = (source: string, field: string): StrMatch | undefined => {
    const c = compileRegex(source);
    if (c.ok) return { kind: 'regex', re: c.value, source };
    ctx.diagnostics.push(routeDiagnostic(hr, [...path, field], c.error, 'use RE2 syntax', 'error'));
    bad = true;
    return undefined;
  };
  const value = (type: string | undefined, v: string, field: string): StrMatch | undefined =>
    type === 'RegularExpression' ? re(v, field) : { kind: 'exact', value: v };
  let uri: StrMatch | undefined;
  const p = m.path;
  if (p?.value !== undefined) {
    uri = p.type === 'Exact' ? { kind: 'exact', value: p.value } : p.type === 'RegularExpression' ? re(p.value, 'path') : { kind: 'segment-prefix', value: p.value };
  }
  const keys = (list: HTTPRouteMatch['headers'], field: string, lower: boolean): KeyMatch[] =>
    (list ?? []).flatMap((h) => {
      const match = value(h.type, h.value, field);
      return match ? [{ name: lower ? h.name.toLowerCase() : h.name, match, invert: false }] : [];
    });
  const out: RouteMatch = {
    uri, method: m.method ? { kind: 'exact', value: m.method } : undefined,
    headers: keys(m.headers, 'headers', true), queryParams: keys(m.queryParams, 'queryParams', false),
  };
  return bad ? undefined : out;
}

function compileRule(hr: HR, rule: HTTPRouteRule, i: number, match: RouteMatch, m: HTTPRouteMatch, d: Destination, ctx: RouteContext, enforceGrants: boolean): RouteRule {
  const path = ['spec', 'rules', i];
  const filters = rule.filters ?? [];
  let requestHeaders: HeaderOps | undefined;
  let responseHeaders: HeaderOps | undefined;
  const mirrors: Mirror[] = [];
  const prefix = (m.path?.type ?? 'PathPrefix') === 'PathPrefix' ? m.path?.value ?? '/' : undefined;
  let action: RouteAction | undefined;
  let rewrite: (RouteAction & { kind: 'forward' })['rewrite'];
  let cors: Cors | undefined;
  filters.forEach((f, k) => {
    const fp = [...path, 'filters', k];
    if (f.type === 'RequestHeaderModifier') requestHeaders = mergeOps(requestHeaders, modifier(f.requestHeaderModifier));
    else if (f.type === 'ResponseHeaderModifier') responseHeaders = mergeOps(responseHeaders, modifier(f.responseHeaderModifier));
    else if (f.type === 'RequestMirror' && f.requestMirror) mirrors.push(mirror(hr, f.requestMirror, d, ctx, enforceGrants, [...fp, 'requestMirror', 'backendRef']));
    else if (f.type === 'URLRewrite' && f.urlRewrite) rewrite = urlRewrite(f.urlRewrite, prefix);
    else if (f.type === 'RequestRedirect' && f.requestRedirect) action = redirect(f.requestRedirect, prefix);
    else if (f.type === 'CORS' && f.cors) cors = gatewayCors(f.cors as GatewayCors);
    else {
      ctx.diagnostics.push(routeDiagnostic(hr, fp, `filter ${f.type} is not supported at the waypoint; requests matching this rule get 500`, 'remove the filter'));
      action = { kind: 'direct', status: 500, body: '' };
    }
  });
  const retry = rule.retry
    ? retryPolicy({
      attempts: rule.retry.attempts ?? 2, retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled'],
      codes: rule.retry.codes, backoffMs: rule.retry.backoff ? parseDurationMs(rule.retry.backoff) : undefined,
      perTryTimeoutMs: rule.timeouts?.backendRequest ? parseDurationMs(rule.timeouts.backendRequest) || undefined : undefined,
    })
    : ctx.meshRetry;
  return {
    name: rule.name ?? `${hr.metadata.namespace}.${hr.metadata.name}.${i}`,
    matches: [match],
    action: action ?? withRewrite(backends(hr, rule, d, ctx, path, enforceGrants), rewrite),
    timeoutMs: routeTimeoutMs(rule),
    retry, requestHeaders, responseHeaders, mirrors, cors,
  };
}

/**
 * conversion.go convertHTTPRoute: a non-zero `request` is the route timeout; a non-zero
 * `backendRequest` is the per-try timeout when a retry is set, else it replaces the route timeout
 * (so `{request: 10s, backendRequest: 1s}` times out at 1 s, and `request: 0s` does not disable it).
 */
function routeTimeoutMs(rule: HTTPRouteRule): number | undefined {
  const request = rule.timeouts?.request ? parseDurationMs(rule.timeouts.request) || undefined : undefined;
  const backend = rule.timeouts?.backendRequest ? parseDurationMs(rule.timeouts.backendRequest) || undefined : undefined;
  return backend !== undefined && !rule.retry ? backend : request;
}

function withRewrite(a: RouteAction, rewrite: (RouteAction & { kind: 'forward' })['rewrite']): RouteAction {
  return a.kind === 'forward' && rewrite ? { ...a, rewrite } : a;
}

/** Gateway API HTTPCORSFilter (GEP-1767), as istiod translates it to Envoy's CORS policy. */
interface GatewayCors {
  readonly allowOrigins?: readonly string[];
  readonly allowMethods?: readonly string[];
  readonly allowHeaders?: readonly string[];
  readonly exposeHeaders?: readonly string[];
  readonly maxAge?: number;
  readonly allowCredentials?: boolean;
}

// Origins are exact, `*`, or a scheme://*.suffix wildcard.
function gatewayCors(c: GatewayCors): Cors {
  const origins: StrMatch[] = (c.allowOrigins ?? []).map((o) => {
    if (o === '*') return { kind: 'present' };
    const star = o.indexOf('*');
    if (star < 0) return { kind: 'exact', value: o };
    const re = compileRegex(`${escapeRe(o.slice(0, star))}[^/]+${escapeRe(o.slice(star + 1))}`);
    return re.ok ? { kind: 'regex', re: re.value, source: o } : { kind: 'exact', value: o };
  });
  return {
    allowOrigins: origins, allowMethods: (c.allowMethods ?? []).join(','), allowHeaders: (c.allowHeaders ?? []).join(','),
    exposeHeaders: (c.exposeHeaders ?? []).join(','), maxAge: String(c.maxAge ?? 5), allowCredentials: c.allowCredentials ?? false,
    unmatchedPreflights: 'ignore',
  };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function modifier(m: HTTPRouteFilter['requestHeaderModifier']): HeaderOps | undefined {
  return headerOps(firstOfEach(m?.set), firstOfEach(m?.add), m?.remove);
}

/** conversion.go headerListToMap: "Subsequent entries with an equivalent header name MUST be ignored". */
function firstOfEach(list: readonly { readonly name: string; readonly value: string }[] = []): (readonly [string, string])[] {
  const seen = new Map<string, readonly [string, string]>();
  for (const h of list) if (!seen.has(h.name.toLowerCase())) seen.set(h.name.toLowerCase(), [h.name, h.value]);
  return [...seen.values()];
}

function urlRewrite(u: NonNullable<HTTPRouteFilter['urlRewrite']>, prefix: string | undefined): (RouteAction & { kind: 'forward' })['rewrite'] {
  const p = u.path;
  return {
    authority: u.hostname,
    ...(p?.type === 'ReplaceFullPath' ? { fullPath: p.replaceFullPath ?? '/' } : {}),
    ...(p?.type === 'ReplacePrefixMatch' && prefix !== undefined ? { prefix: { match: prefix, replacement: p.replacePrefixMatch ?? '', mode: 'segments' as const } } : {}),
  };
}

function redirect(r: NonNullable<HTTPRouteFilter['requestRedirect']>, prefix: string | undefined): RouteAction {
  const p = r.path;
  // conversion.go createRedirectFilter: no port means the request's port, or the scheme's default
  // port when a scheme is set ("When empty, port (if specified) of the request is used").
  return {
    kind: 'redirect', status: r.statusCode ?? 302, scheme: r.scheme, authority: r.hostname,
    port: r.port ?? (r.scheme ? undefined : 'request'),
    path: p?.type === 'ReplaceFullPath' ? p.replaceFullPath : undefined,
    prefix: p?.type === 'ReplacePrefixMatch' && prefix !== undefined ? { match: prefix, replacement: p.replacePrefixMatch ?? '', mode: 'segments' } : undefined,
  };
}

/** The host a backendRef names, or undefined for a kind istiod cannot route to (InvalidKind) or an unknown ServiceEntry. */
function backendHost(hr: HR, b: BackendRef, ctx: RouteContext): string | undefined {
  const group = b.group ?? '';
  const kind = b.kind ?? 'Service';
  if (kind === 'Hostname' && group === 'networking.istio.io') return b.name.toLowerCase();
  if (kind === 'ServiceEntry' && group === 'networking.istio.io') {
    const ns = b.namespace ?? hr.metadata.namespace;
    for (const ports of ctx.hosts.exact.values()) {
      for (const x of ports.values()) if (x.service.name === b.name && x.service.namespace === ns) return x.service.hosts[0];
    }
    return undefined;
  }
  if (kind === 'Service' && group === '') return `${b.name}.${b.namespace ?? hr.metadata.namespace}.svc.cluster.local`;
  return undefined;
}

const HEADER_FILTERS = new Set(['RequestHeaderModifier', 'ResponseHeaderModifier']);

/**
 * conversion.go buildHTTPDestination. A backend that is invalid (not permitted, unknown kind, not
 * found) keeps its share of the weight and answers 500 (cluster_not_found_response_code); a backend
 * filter other than the header modifiers, or a backend without a port, is a hard error for istiod,
 * which then drops the route; here the rule answers 500 instead, so that nothing is forwarded
 * without the filter's effect or to a port nobody chose.
 */
function backends(hr: HR, rule: HTTPRouteRule, d: Destination, ctx: RouteContext, path: (string | number)[], enforceGrants: boolean): RouteAction {
  const items = [];
  for (const [k, b] of (rule.backendRefs ?? []).entries()) {
    if (b.weight === 0) continue;
    const at = [...path, 'backendRefs', k];
    const f = b.filters ?? [];
    const bad = f.findIndex((x) => !HEADER_FILTERS.has(x.type));
    if (bad >= 0) {
      ctx.diagnostics.push(routeDiagnostic(hr, [...at, 'filters', bad], `filter ${f[bad]!.type} on a backendRef is not supported (istiod reports InvalidFilter and drops the route); requests matching this rule get 500`, 'move the filter to the rule\'s filters, or keep only RequestHeaderModifier/ResponseHeaderModifier on the backendRef'));
      return { kind: 'direct', status: 500, body: '' };
    }
    if (b.port === undefined) {
      ctx.diagnostics.push(routeDiagnostic(hr, at, `backendRef ${b.name} has no port (istiod reports InvalidDestination "port is required in backendRef" and drops the route); requests matching this rule get 500`, `add port: ${d.port.number} (or the backend's port)`));
      return { kind: 'direct', status: 500, body: '' };
    }
    const port = b.port;
    const cluster = resolveBackend(hr, b, port, ctx, at, enforceGrants, 'requests routed there get 500');
    const req = f.filter((x) => x.type === 'RequestHeaderModifier').map((x) => modifier(x.requestHeaderModifier)).reduce(mergeOps, undefined);
    const resp = f.filter((x) => x.type === 'ResponseHeaderModifier').map((x) => modifier(x.responseHeaderModifier)).reduce(mergeOps, undefined);
    items.push({ cluster, host: backendHost(hr, b, ctx) ?? b.name, port, weight: b.weight ?? 1, requestHeaders: req, responseHeaders: resp });
  }
  const { clusters, total } = weighted(items);
  // conversion.go: weightSum 0 (no backendRefs, or all weighted zero) is a direct 500; a backend
  // that does not resolve is a 500 too (cluster_not_found_response_code), not Envoy's 503.
  if (total === 0) return { kind: 'direct', status: 500, body: '' };
  return { kind: 'forward', clusters, total, clusterNotFoundStatus: 500 };
}

/** The cluster a backendRef reaches, or undefined (its share of traffic gets 500) with a diagnostic saying why. */
function resolveBackend(hr: HR, b: BackendRef, port: number, ctx: RouteContext, at: (string | number)[], enforceGrants: boolean, outcome: string): string | undefined {
  const ns = hr.metadata.namespace;
  if (enforceGrants && !backendAllowed(ctx.grants, ns, b)) {
    ctx.diagnostics.push(routeDiagnostic(hr, at, `${refNotPermitted(ns, b)}; ${outcome}`, `add a ReferenceGrant in namespace ${b.namespace} from {group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ${ns}} to {group: "${b.group ?? ''}", kind: ${b.kind ?? 'Service'}, name: ${b.name}}`));
    return undefined;
  }
  const host = backendHost(hr, b, ctx);
  if (host === undefined && !(b.kind === 'ServiceEntry' && b.group === 'networking.istio.io')) {
    ctx.diagnostics.push(routeDiagnostic(hr, at, `backendRef group "${b.group ?? ''}" kind "${b.kind ?? 'Service'}" is not a kind istiod routes to (InvalidKind); ${outcome}`, 'use kind Hostname or ServiceEntry (group networking.istio.io) or Service (group "")'));
    return undefined;
  }
  const cluster = host === undefined ? undefined : clusterFor(ctx, host, port);
  if (!cluster) ctx.diagnostics.push(routeDiagnostic(hr, at, `backend ${b.kind ?? 'Service'} ${b.name}:${port} is not a cluster this waypoint serves; ${outcome}`, 'reference a ServiceEntry host bound to this waypoint (kind: Hostname, group: networking.istio.io)'));
  return cluster;
}

function mirror(hr: HR, m: NonNullable<HTTPRouteFilter['requestMirror']>, d: Destination, ctx: RouteContext, enforceGrants: boolean, at: (string | number)[]): Mirror {
  const port = m.backendRef.port ?? d.port.number;
  // An invalid mirror backend drops the mirror, not the route (convertHTTPRoute mirrorBackendErr).
  if (m.backendRef.port === undefined) {
    ctx.diagnostics.push(routeDiagnostic(hr, at, `mirror backendRef ${m.backendRef.name} has no port (istiod: InvalidDestination "port is required in backendRef"); the mirror is dropped`, `add port: ${d.port.number} (or the backend's port)`));
  }
  const cluster = m.backendRef.port === undefined ? undefined : resolveBackend(hr, m.backendRef, port, ctx, at, enforceGrants, 'the mirror is dropped');
  const percent = m.percent ?? (m.fraction ? (100 * m.fraction.numerator) / (m.fraction.denominator ?? 100) : 100);
  return { cluster, host: backendHost(hr, m.backendRef, ctx) ?? m.backendRef.name, port, percent };
}
