// VirtualService http[] -> RouteRules for one destination, evaluated for the `mesh` gateway: a match
// whose gateways lack `mesh`, or whose sourceNamespace is not the waypoint's, is dropped (vs-scope.ts);
// `sourceLabels` is dropped, istio#51565. First match wins.
import type { Resource } from '../config/resource.ts';
import type { HTTPMatchRequest, HTTPRoute, StringMatch, VirtualServiceSpec } from '../config/kinds/virtual-service.ts';
import type { Cors, Fault, KeyMatch, Mirror, RouteAction, RouteMatch, RouteRule, StrMatch } from '../model/route.ts';
import type { Destination } from '../model/snapshot.ts';
import { compileStringMatch } from './route-match.ts';
import { linearSource } from './linear-regex.ts';
import { DEFAULT_RETRY, headerOps, parseDurationMs, retryPolicy, weighted } from './routes-common.ts';
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
    const base = {
      name: http.name ?? `${vs.metadata.namespace}.${vs.metadata.name}.${i}`,
      timeoutMs: http.timeout ? parseDurationMs(http.timeout) || undefined : undefined,
      retry: compileRetry(http),
      fault: compileFault(http),
      requestHeaders: headerOps(Object.entries(http.headers?.request?.set ?? {}), Object.entries(http.headers?.request?.add ?? {}), http.headers?.request?.remove),
      responseHeaders: headerOps(Object.entries(http.headers?.response?.set ?? {}), Object.entries(http.headers?.response?.add ?? {}), http.headers?.response?.remove),
      mirrors: compileMirrors(http, d, ctx, vs.metadata.namespace),
      cors: compileCors(http),
    };
    // One entry per match so a prefix rewrite knows which prefix matched.
    for (const m of matches.length ? matches : [undefined]) {
      // Envoy's matched prefix: the uri prefix, or `/` when the match has no uri (Istio's default).
      const prefix = !m?.uri ? '/' : m.uri.kind === 'prefix' ? m.uri.value : undefined;
      out.push({ ...base, matches: m ? [m] : [], action: compileAction(vs, http, d, ctx, path, prefix) });
    }
  });
  return out;
}

function compileMatches(vs: VS, http: HTTPRoute, d: Destination, ctx: RouteContext, path: (string | number)[]): RouteMatch[] | null {
  const raw = http.match ?? [];
  const out: RouteMatch[] = [];
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
    if (c) out.push(c);
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

function compileAction(vs: VS, http: HTTPRoute, d: Destination, ctx: RouteContext, path: (string | number)[], prefix?: string): RouteAction {
  if (http.directResponse) {
    const b = http.directResponse.body;
    return { kind: 'direct', status: http.directResponse.status, body: b?.string ?? (b?.bytes ? Buffer.from(b.bytes, 'base64').toString() : '') };
  }
  if (http.redirect) {
    const r = http.redirect;
    // route.go ApplyRedirect: port_redirect only from redirectPort or derivePort FROM_REQUEST_PORT.
    const port = r.port ?? (r.derivePort === 'FROM_REQUEST_PORT' ? 'request' : undefined);
    // prefixRewrite swaps the matched uri prefix, as rewrite.uri does; uri wins.
    const swap = !r.uri && r.prefixRewrite !== undefined;
    return {
      kind: 'redirect', status: r.redirectCode ?? 301, scheme: r.scheme, authority: r.authority, port,
      path: r.uri ?? (swap && prefix === undefined ? r.prefixRewrite : undefined),
      prefix: swap && prefix !== undefined ? { match: prefix, replacement: r.prefixRewrite!, mode: 'plain' } : undefined,
    };
  }
  const one = (http.route ?? []).length === 1;
  const items = (http.route ?? []).map((rd, k) => {
    // initVirtualServices resolves a short destination host in the VirtualService's namespace.
    const host = resolveShortname(rd.destination.host, vs.metadata.namespace);
    const port = rd.destination.port?.number ?? defaultPort(ctx, host, d.port.number);
    const cluster = clusterFor(ctx, host, port, rd.destination.subset);
    if (!cluster) ctx.diagnostics.push(routeDiagnostic(vs, [...path, 'route', k, 'destination'], `destination ${host}:${port}${rd.destination.subset ? ` subset ${rd.destination.subset}` : ''} is not a cluster this waypoint serves; requests routed there get 503 NC`, 'route to a ServiceEntry host and port bound to this waypoint (and a DestinationRule subset that exists)'));
    return {
      // waypointRouteDestination: the only destination takes everything, whatever its weight (0 included).
      cluster, host, port, subset: rd.destination.subset, weight: one ? undefined : rd.weight,
      requestHeaders: headerOps(Object.entries(rd.headers?.request?.set ?? {}), Object.entries(rd.headers?.request?.add ?? {}), rd.headers?.request?.remove),
      responseHeaders: headerOps(Object.entries(rd.headers?.response?.set ?? {}), Object.entries(rd.headers?.response?.add ?? {}), rd.headers?.response?.remove),
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
      authority: rw.authority,
      ...(regex ? { regex: { re: regex, replacement: re2Substitution(rw.uriRegexRewrite!.rewrite ?? '') } }
        : rw.uri ? (prefix !== undefined ? { prefix: { match: prefix, replacement: rw.uri, mode: 'plain' as const } } : { fullPath: rw.uri }) : {}),
    };
  }
  return { kind: 'forward', clusters, total, rewrite };
}

/** Envoy regex_rewrite substitutes every match (RE2::GlobalReplace). */
function safeRegex(source: string): RegExp | undefined {
  const linear = linearSource(source, 'g');
  if (!linear.ok) return undefined;
  try {
    return new RegExp(linear.value, 'g');
  } catch {
    return undefined;
  }
}

/** RE2 substitution (`\\1`) to a JS replacement string (`$1`), with literal `$` escaped. */
function re2Substitution(s: string): string {
  return s.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1');
}

/**
 * listener_waypoint.go getWaypointDestinationCluster: a destination without a port uses the
 * service's only port when it has exactly one, else the port the request came in on.
 */
export function defaultPort(ctx: Pick<RouteContext, 'hosts'>, host: string, listenPort: number): number {
  const ports = ctx.hosts.exact.get(host.toLowerCase());
  return ports && ports.size === 1 ? [...ports.keys()][0]! : listenPort;
}

function compileRetry(http: HTTPRoute): RouteRule['retry'] {
  const r = http.retries;
  if (!r) return DEFAULT_RETRY;
  return retryPolicy({
    attempts: r.attempts ?? 0,
    retryOn: r.retryOn ? r.retryOn.split(',') : undefined,
    perTryTimeoutMs: r.perTryTimeout ? parseDurationMs(r.perTryTimeout) : undefined,
    backoffMs: r.backoff ? parseDurationMs(r.backoff) : undefined,
  });
}

function percentOf(p: { value?: number } | undefined, legacy?: number): number {
  return p?.value ?? legacy ?? 100;
}

function compileFault(http: HTTPRoute): Fault | undefined {
  const f = http.fault;
  if (!f) return undefined;
  const delayMs = f.delay?.fixedDelay ? parseDurationMs(f.delay.fixedDelay) : undefined;
  return {
    delay: delayMs !== undefined ? { ms: delayMs, percent: percentOf(f.delay?.percentage, f.delay?.percent) } : undefined,
    abort: f.abort?.httpStatus ? { status: f.abort.httpStatus, percent: percentOf(f.abort.percentage) } : undefined,
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
