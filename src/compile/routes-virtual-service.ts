// VirtualService http[] -> RouteRules for one destination, evaluated for the `mesh` gateway: a match
// whose gateways lack `mesh`, or whose sourceNamespace is not the waypoint's, is dropped (vs-scope.ts);
// `sourceLabels` is dropped, istio#51565. First match wins.
import type { Resource } from '../config/resource.ts';
import type { HTTPMatchRequest, HTTPRoute, StringMatch, VirtualServiceSpec } from '../config/kinds/virtual-service.ts';
import type { Cors, Fault, HeaderOps, KeyMatch, Mirror, RouteAction, RouteMatch, RouteRule, StrMatch } from '../model/route.ts';
import type { Destination } from '../model/snapshot.ts';
import { compileRegex, compileStringMatch } from './route-match.ts';
import { convertRetry, parseDurationMs, weighted } from './routes-common.ts';
import { oneListOps, thenOps } from '../model/header-ops.ts';
import { formatNote, vsHeaderOps, type VsOps } from './vs-header-ops.ts';
import { GRPC_STATUS } from '../config/kinds/virtual-service-http-rules.ts';
import { clusterFor, routeDiagnostic, type RouteContext } from './routes.ts';
import { matchAppliesAtWaypoint, resolveShortname } from './vs-scope.ts';

type VS = Resource<VirtualServiceSpec>;

export function compileVirtualServiceRules(vs: VS, d: Destination, ctx: RouteContext): RouteRule[] {
  const out: RouteRule[] = [];
  (vs.spec.http ?? []).forEach((http, i) => {
    const path = ['spec', 'http', i];
    if (http.delegate) {
      // vs-delegate.ts merged every delegate it could: this one does not exist or is not exported here.
      const ref = `${http.delegate.namespace || vs.metadata.namespace}/${http.delegate.name}`;
      ctx.diagnostics.push(routeDiagnostic(vs, [...path, 'delegate'], `delegate VirtualService ${ref} does not exist (a VirtualService without hosts) or is not exported to ${vs.metadata.namespace}; istiod skips this rule`, `create ${ref} without hosts, with exportTo including ${vs.metadata.namespace}`));
      return;
    }
    const matches = compileMatches(vs, http, d, ctx, path);
    if (matches === null) return; // every match was for another port
    const note = formatNote(vs, ctx);
    const routeReq = vsHeaderOps(http.headers?.request, note([...path, 'headers', 'request']));
    const routeResp = vsHeaderOps(http.headers?.response, note([...path, 'headers', 'response']));
    const base = {
      timeoutMs: http.timeout ? parseDurationMs(http.timeout) || undefined : undefined,
      // No retries: meshConfig defaultHttpRetryPolicy (applyHTTPRouteDestination), else DefaultPolicy().
      retry: http.retries ? convertRetry(http.retries) : ctx.meshRetry,
      fault: compileFault(http),
      mirrors: compileMirrors(http, d, ctx, vs.metadata.namespace),
      cors: compileCors(http),
    };
    // One entry per match so a prefix rewrite knows which prefix matched.
    for (const { match: m, name } of matches.length ? matches : [{ match: undefined, name: undefined }]) {
      // Envoy's matched prefix: the uri prefix, or `/` when the match has no uri (Istio's default).
      const prefix = !m?.uri ? '/' : m.uri.kind === 'prefix' ? m.uri.value : undefined;
      const action = compileAction(vs, http, d, ctx, path, prefix, routeReq, routeResp);
      // A forward action carries the route's header edits on each destination (combined as Envoy
      // evaluates them); a redirect or direct response gets the route's response edits.
      const forward = action.kind === 'forward';
      out.push({
        ...base, name: routeName(vs, http.name, i, name), matches: m ? [m] : [], action,
        requestHeaders: forward ? undefined : routeReq.ops, responseHeaders: forward ? undefined : routeResp.ops,
      });
    }
  });
  return out;
}

/**
 * translateRoute names the Envoy route `<http name>.<match name>` when the match is named. An
 * unnamed rule is `<namespace>.<name>.<index>` here (Envoy's is empty, which logs as `-`).
 */
function routeName(vs: VS, httpName: string | undefined, i: number, matchName: string | undefined): string {
  if (httpName === undefined && !matchName) return `${vs.metadata.namespace}.${vs.metadata.name}.${i}`;
  return matchName ? `${httpName ?? ''}.${matchName}` : httpName!;
}

type NamedMatch = { readonly match: RouteMatch; readonly name?: string };

function compileMatches(vs: VS, http: HTTPRoute, d: Destination, ctx: RouteContext, path: (string | number)[]): NamedMatch[] | null {
  const raw = http.match ?? [];
  const out: NamedMatch[] = [];
  raw.forEach((m, j) => {
    // translateWaypointRoute: port 0 is unset (proto3), as in tcp/tls matches.
    if (m.port !== undefined && m.port !== 0 && m.port !== d.port.number) return;
    // listener_waypoint.go waypointInboundRoute: matchers with sourceLabels are dropped (never match), istio#51565.
    if (m.sourceLabels && Object.keys(m.sourceLabels).length > 0) {
      ctx.diagnostics.push(routeDiagnostic(vs, [...path, 'match', j, 'sourceLabels'], 'this match has sourceLabels, which a waypoint cannot evaluate; Istio drops the match, so it never matches', 'use an AuthorizationPolicy on source principals, or remove sourceLabels'));
      return;
    }
    // route.go sourceMatchHTTP with gateways {mesh} and the waypoint's namespace (vs-scope.ts).
    const applies = matchAppliesAtWaypoint(m, ctx.waypointNamespace);
    if (m.sourceNamespace && !m.gateways?.length) {
      const effect = applies ? 'this match applies to every client' : 'this match never matches at the waypoint';
      ctx.diagnostics.push(routeDiagnostic(vs, [...path, 'match', j, 'sourceNamespace'], `Istio compares sourceNamespace with the waypoint's own namespace (${ctx.waypointNamespace}), not the client's, so ${effect}`, 'use an AuthorizationPolicy on source namespaces, or remove sourceNamespace'));
    }
    if (!applies) return;
    const c = compileMatch(vs, m, ctx, [...path, 'match', j]);
    if (c) out.push({ match: c, name: m.name });
  });
  return raw.length > 0 && out.length === 0 ? null : out;
}

function compileMatch(vs: VS, m: HTTPMatchRequest, ctx: RouteContext, path: (string | number)[]): RouteMatch | undefined {
  let bad = false;
  const str = (sm: StringMatch | undefined, field: string, opts: { ignoreCase?: boolean; keyed?: boolean } = { keyed: true }): StrMatch | undefined => {
    const c = compileStringMatch(sm, opts);
    if (c && !c.ok) {
      ctx.diagnostics.push(routeDiagnostic(vs, [...path, field], c.error, 'use RE2 syntax', 'error'));
      bad = true;
      return undefined;
    }
    return c?.value;
  };
  const keys = (rec: Readonly<Record<string, StringMatch>> | undefined, field: string, invert: boolean, lower: boolean): KeyMatch[] =>
    Object.entries(rec ?? {}).flatMap(([name, sm]) => {
      const match = str(sm, `${field}.${name}`);
      // Istio sets treat_missing_header_as_empty on withoutHeaders matchers other than "present".
      return match ? [{ name: lower ? name.toLowerCase() : name, match, invert, ...(invert && match.kind !== 'present' ? { missingAsEmpty: true } : {}) }] : [];
    });
  const out: RouteMatch = {
    uri: str(m.uri, 'uri', { ignoreCase: m.ignoreUriCase }), ignoreUriCase: m.ignoreUriCase, method: str(m.method, 'method'),
    authority: str(m.authority, 'authority'), scheme: str(m.scheme, 'scheme'), port: m.port,
    headers: [...keys(m.headers, 'headers', false, true), ...keys(m.withoutHeaders, 'withoutHeaders', true, true)],
    queryParams: keys(m.queryParams, 'queryParams', false, false),
  };
  return bad ? undefined : out;
}

function compileAction(
  vs: VS, http: HTTPRoute, d: Destination, ctx: RouteContext, path: (string | number)[], prefix: string | undefined, routeReq: VsOps, routeResp: VsOps,
): RouteAction {
  if (http.directResponse) {
    const b = http.directResponse.body;
    return { kind: 'direct', status: http.directResponse.status, body: b?.bytes !== undefined ? Buffer.from(b.bytes, 'base64') : b?.string ?? '' };
  }
  if (http.redirect) {
    const r = http.redirect;
    // route.go ApplyRedirect: port_redirect only from redirectPort or derivePort FROM_REQUEST_PORT.
    const port = r.port ?? (r.derivePort === 'FROM_REQUEST_PORT' ? 'request' : undefined);
    // prefixRewrite swaps the matched uri prefix, as rewrite.uri does; uri wins.
    const swap = !r.uri && r.prefixRewrite !== undefined;
    return {
      kind: 'redirect', status: redirectCode(vs, r.redirectCode, [...path, 'redirect', 'redirectCode'], ctx), scheme: r.scheme, authority: r.authority, port,
      path: r.uri ?? (swap && prefix === undefined ? r.prefixRewrite : undefined),
      prefix: swap && prefix !== undefined ? { match: prefix, replacement: r.prefixRewrite!, mode: 'plain' } : undefined,
    };
  }
  const one = (http.route ?? []).length === 1;
  // applyHTTPRouteDestination: rewrite.authority, else the route's host/:authority header edit.
  const routeAuthority = http.rewrite?.authority || routeReq.authority;
  const items = (http.route ?? []).map((rd, k) => {
    // initVirtualServices resolves a short destination host in the VirtualService's namespace.
    const host = resolveShortname(rd.destination.host, vs.metadata.namespace);
    const port = rd.destination.port?.number ?? defaultPort(ctx, host, d.port.number);
    const cluster = clusterFor(ctx, host, port, rd.destination.subset);
    if (!cluster) ctx.diagnostics.push(routeDiagnostic(vs, [...path, 'route', k, 'destination'], `destination ${host}:${port}${rd.destination.subset ? ` subset ${rd.destination.subset}` : ''} is not a cluster this waypoint serves; requests routed there get 503 NC`, 'route to a ServiceEntry host and port bound to this waypoint (and a DestinationRule subset that exists)'));
    const note = formatNote(vs, ctx);
    const req = vsHeaderOps(rd.headers?.request, note([...path, 'route', k, 'headers', 'request']));
    const resp = vsHeaderOps(rd.headers?.response, note([...path, 'route', k, 'headers', 'response']));
    // processDestination appends the only destination's edits to the route's list; a weighted
    // destination's are the cluster's own, which Envoy evaluates before the route's.
    const combine = (route: HeaderOps | undefined, dest: HeaderOps | undefined) => (one ? oneListOps(route, dest) : thenOps(dest, route));
    const authority = routeAuthority || req.authority;
    return {
      // waypointRouteDestination: the only destination takes everything, whatever its weight (0 included).
      cluster, host, port, subset: rd.destination.subset, weight: one ? undefined : rd.weight,
      requestHeaders: combine(routeReq.ops, req.ops), responseHeaders: combine(routeResp.ops, resp.ops),
      ...(authority ? { authority } : {}),
    };
  });
  const { clusters, total } = weighted(items);
  const rw = http.rewrite;
  let rewrite;
  if (rw) {
    const regex = rw.uriRegexRewrite?.match ? safeRegex(rw.uriRegexRewrite.match) : undefined;
    // Envoy prefix_rewrite swaps the matched prefix; for an exact or regex uri match the whole path
    // is the matched part. uriRegexRewrite wins over uri, as in route.go.
    rewrite = {
      authority: rw.authority || undefined,
      ...(regex ? { regex: { re: regex, replacement: re2Substitution(rw.uriRegexRewrite!.rewrite ?? '') } }
        : rw.uri ? (prefix !== undefined ? { prefix: { match: prefix, replacement: rw.uri, mode: 'plain' as const } } : { fullPath: rw.uri }) : {}),
    };
  }
  return { kind: 'forward', clusters, total, rewrite };
}

/**
 * ApplyRedirect knows 301 (also for 0 or unset), 302, 303, 307 and 308. Another 3xx passes
 * validation, but istiod then writes a route without an action, which Envoy rejects with the
 * whole route configuration: refused here, so the last good configuration stays.
 */
function redirectCode(vs: VS, code: number | undefined, path: (string | number)[], ctx: RouteContext): number {
  if (!code) return 301;
  if (![301, 302, 303, 307, 308].includes(code)) {
    ctx.diagnostics.push(routeDiagnostic(vs, path, `redirect code ${code} is not supported by Istio ("Redirect Code ${code} is not yet supported"): istiod sends a route without an action and Envoy rejects the route configuration`, 'use 301, 302, 303, 307 or 308', 'error'));
  }
  return code;
}

/** Envoy regex_rewrite substitutes every match (RE2::GlobalReplace). Validation refused any other. */
function safeRegex(source: string): RegExp | undefined {
  const re = compileRegex(source, true);
  return re.ok ? re.value : undefined;
}

/**
 * An RE2 rewrite string (RE2::Rewrite: `\1`-`\9` a group, `\0` the whole match, `\\` a
 * backslash) as a JS replacement string, with a literal `$` escaped.
 */
function re2Substitution(s: string): string {
  return s.replace(/\$/g, '$$$$').replace(/\\([0-9\\])/g, (_, c: string) => (c === '\\' ? '\\' : c === '0' ? '$&' : `$${c}`));
}

/**
 * listener_waypoint.go getWaypointDestinationCluster: a destination without a port uses the
 * service's only port when it has exactly one, else the port the request came in on.
 */
export function defaultPort(ctx: Pick<RouteContext, 'hosts'>, host: string, listenPort: number): number {
  const ports = ctx.hosts.exact.get(host.toLowerCase());
  return ports && ports.size === 1 ? [...ports.keys()][0]! : listenPort;
}

function percentOf(p: { value?: number } | undefined, legacy?: number): number {
  return p?.value ?? legacy ?? 100;
}

/**
 * TranslateFault: a delay without `percentage` takes the deprecated integer `percent`, and 0 when
 * that is unset too; an abort without `percentage` gets Envoy's default of 0. So a fault with no
 * percentage never fires (the API says "If not specified, no requests will be" delayed / aborted).
 */
function compileFault(http: HTTPRoute): Fault | undefined {
  const f = http.fault;
  if (!f) return undefined;
  const delayMs = f.delay?.fixedDelay ? parseDurationMs(f.delay.fixedDelay) : undefined;
  const a = f.abort;
  const grpc = a?.grpcStatus !== undefined ? GRPC_STATUS.indexOf(a.grpcStatus) : -1;
  // The HTTP status wins when both are set, as in Envoy's abortStatus; a gRPC one answers 200.
  const abort = a?.httpStatus ? { status: a.httpStatus, percent: a.percentage?.value ?? 0 }
    : grpc >= 0 ? { status: 200, grpcStatus: grpc, percent: a!.percentage?.value ?? 0 } : undefined;
  return {
    delay: delayMs !== undefined ? { ms: delayMs, percent: f.delay?.percentage?.value ?? f.delay?.percent ?? 0 } : undefined,
    abort,
  };
}

/** Mirror clusters are named as route destinations are (getWaypointDestinationCluster): same host and port defaults. */
function compileMirrors(http: HTTPRoute, d: Destination, ctx: RouteContext, namespace: string): Mirror[] {
  const list = http.mirrors?.map((m) => ({ dest: m.destination, percent: percentOf(m.percentage) }))
    ?? (http.mirror ? [{ dest: http.mirror, percent: percentOf(http.mirrorPercentage, http.mirrorPercent) }] : []);
  return list.map(({ dest, percent }) => {
    const host = resolveShortname(dest.host, namespace);
    const port = dest.port?.number ?? defaultPort(ctx, host, d.port.number);
    return { cluster: clusterFor(ctx, host, port, dest.subset), host, port, percent };
  });
}

function compileCors(http: HTTPRoute): Cors | undefined {
  const c = http.corsPolicy;
  if (!c) return undefined;
  const origins: StrMatch[] = [];
  for (const o of c.allowOrigins ?? []) {
    const m = compileStringMatch(o);
    if (m?.ok) origins.push(m.value);
  }
  for (const o of c.allowOrigin ?? []) origins.push(o === '*' ? { kind: 'present' } : { kind: 'exact', value: o });
  return {
    allowOrigins: origins, allowMethods: (c.allowMethods ?? []).join(','), allowHeaders: (c.allowHeaders ?? []).join(','),
    exposeHeaders: (c.exposeHeaders ?? []).join(','), maxAge: c.maxAge ? String(Math.floor((parseDurationMs(c.maxAge) ?? 0) / 1000)) : undefined,
    allowCredentials: c.allowCredentials ?? false, unmatchedPreflights: c.unmatchedPreflights === 'IGNORE' ? 'ignore' : 'forward',
  };
}
