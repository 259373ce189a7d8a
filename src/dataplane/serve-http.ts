// After admit() (routing to a service, normalising, authorizing): apply the service's HTTP route (VirtualService /
// HTTPRoute / waypoint default), then execute it: fault, direct response, redirect, or forward
// with rewrites, header edits, retries, timeouts and mirrors.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Cors, HeaderOps, RouteRule } from '../model/route.ts';
import type { Cluster, Snapshot } from '../model/snapshot.ts';
import type { RequestRecord } from '../telemetry/record.ts';
import { formatAuthority } from './authority.ts';
import type { Admitted } from './admit.ts';
import { forwardRequestHeaders, SERVER_NAME } from './headers.ts';
import { forwardHttp, type Body, type DownstreamClose, type ForwardRequest, type Upstream, type UpgradeHandler } from './http-forward.ts';
import { grpcRouteTimeoutMs, isGrpcRequest, sendLocal } from './grpc-reply.ts';
import { localReply } from './local-reply.ts';
import { fireMirror } from './mirror.ts';
import { mergeOps, setOps } from '../model/header-ops.ts';
import { applyHeaderEdits } from './authorize.ts';
import { applyHeaderOps, matchRoute, matchString, pickWeighted, redirectLocation, rewritePath, type RedirectRequest } from './route.ts';
import type { Endpoint, PickContext, Upstreams } from './upstream.ts';
import { hashCookie } from './load-balancer.ts';
import { headerFormat } from './header-format.ts';

/** Bodies up to this size are buffered when a retry or mirror may need to send them again. */
export const RETRY_BUFFER_LIMIT = 64 * 1024;

// ALLOW_ANY passthrough is Istio's PassthroughCluster: no route, so no retries.
const PASSTHROUGH: RouteRule = {
  name: 'allow_any', matches: [], action: { kind: 'forward', clusters: [], total: 0 },
  retry: { attempts: 0, retryOn: new Set(), retriableStatusCodes: new Set(), backoffBaseMs: 25, backoffMaxMs: 250 },
  mirrors: [],
};

export interface ServeContext {
  readonly snap: Snapshot;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly record: RequestRecord;
  /** What admit() decided: plan, target, normalised path, authorization's header edits, upgrade. */
  readonly admitted: Admitted;
  readonly upstreams: Upstreams;
  readonly draining: boolean;
  /** Downstream client IP (or the HBONE peer's), for source-IP hashing. */
  readonly sourceIp: string;
  /** The waypoint exports its own span per request: the upstream's traceparent names it (headers.ts). */
  readonly ownSpan?: boolean;
  /** The listener's close notification for this request (see DownstreamClose). */
  readonly downstream?: DownstreamClose;
  /** Where an upstream's 101 goes, for an admitted upgrade (the client socket becomes a tunnel). */
  readonly onUpgrade?: UpgradeHandler;
}

export function serveHttp(c: ServeContext): void {
  const { req, res, record, snap } = c;
  const { plan, path: reqPath, target } = c.admitted;
  if (c.admitted.close) res.shouldKeepAlive = false;
  const table = plan.kind === 'forward' ? snap.routes.get(plan.cluster.name) : undefined;
  let rule = plan.kind === 'forward' ? snap.defaultRoute : PASSTHROUGH;
  if (table) {
    const hit = matchRoute(table, { path: reqPath, method: req.method ?? 'GET', authority: target.host, headers: req.headers, port: target.authority.port });
    if (!hit) {
      record.routeName = ''; // Envoy: no route, no route_name (it was the planned default)
      return reply(c, 'route_not_found', `no rule of ${table.source} matches ${req.method} ${reqPath}`);
    }
    rule = hit.rule;
  }
  if (plan.kind === 'forward' || table) record.routeName = rule.name;
  const cors = rule.cors ? corsHeaders(rule.cors, req) : undefined;
  if (cors?.preflight) {
    req.resume();
    res.writeHead(200, [...cors.headers.flat(), 'server', SERVER_NAME]);
    record.responseCode = 200;
    record.responseCodeDetails = 'cors_response';
    return void res.end();
  }
  const f = rule.fault;
  // Envoy's fault filter: the delay first, then (after it) the abort, each with its own draw.
  if (f?.delay && Math.random() * 100 < f.delay.percent) {
    record.responseFlags = 'DI';
    setTimeout(() => abortOrExecute(c, rule, cors?.headers), f.delay.ms);
    return;
  }
  abortOrExecute(c, rule, cors?.headers);
}

function abortOrExecute(c: ServeContext, rule: RouteRule, corsHeaders: [string, string][] | undefined): void {
  const abort = rule.fault?.abort;
  if (abort && Math.random() * 100 < abort.percent) {
    c.req.resume();
    c.record.responseFlags = c.record.responseFlags === 'DI' ? 'DI,FI' : 'FI';
    c.record.responseCodeDetails = 'fault_filter_abort';
    // Envoy's CORS filter sits before the fault filter: its encodeHeaders decorates the abort too.
    return direct(c, rule, abort.status, 'fault filter abort', corsHeaders?.flat() ?? [], abort.grpcStatus);
  }
  execute(c, rule, corsHeaders);
}

function reply(c: ServeContext, code: Parameters<typeof localReply>[2], reason: string): void {
  c.req.resume();
  localReply(c.res, c.record, code, reason, c.draining || c.admitted.close);
}

/**
 * A reply made at the waypoint, as Envoy's sendLocalReply makes direct responses, redirects and
 * fault aborts: the body as configured, the route's response header edits (Envoy's
 * finalizeResponseHeaders), then `content-type: text/plain` when there is a body and no edit set
 * one. A gRPC request gets the trailers-only gRPC form.
 */
function direct(c: ServeContext, rule: RouteRule, status: number, body: string | Uint8Array, headers: string[] = [], grpcStatus?: number): void {
  c.record.responseCodeDetails ||= 'direct_response';
  const flat = applyHeaderOps(headers, rule.responseHeaders, rule.responseHeaders?.dynamic ? headerFormat(c.record, c.req.headers) : undefined);
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i]!.toLowerCase();
    const prev = out[k];
    out[k] = prev === undefined ? flat[i + 1]! : [...(Array.isArray(prev) ? prev : [prev]), flat[i + 1]!];
  }
  if (body.length > 0 && out['content-type'] === undefined) out['content-type'] = 'text/plain';
  sendLocal(c.res, c.record, status, out, body, grpcStatus);
}

function execute(c: ServeContext, rule: RouteRule, corsHeaders: [string, string][] | undefined): void {
  const { req, record, snap } = c;
  const { plan, target, edits } = c.admitted;
  const a = rule.action;
  if (a.kind === 'direct') {
    req.resume();
    // Envoy's router adds a Location (the request's own URL) to a direct response of 201 or 3xx.
    const location = a.status === 201 || (a.status >= 300 && a.status < 400) ? ['location', redirectLocation({ kind: 'redirect', status: a.status }, here(c))] : [];
    return direct(c, rule, a.status, a.body, corsHeaders ? [...location, ...corsHeaders.flat()] : location);
  }
  if (a.kind === 'redirect') {
    req.resume();
    record.responseCodeDetails = 'redirect';
    // Envoy's redirect is a local reply without a body.
    return direct(c, rule, a.status, '', ['location', redirectLocation(a, here(c)), ...(corsHeaders?.flat() ?? [])]);
  }
  // The default route forwards to the planned cluster; configured routes pick by weight.
  let cluster: Cluster | undefined = plan.kind === 'forward' ? plan.cluster : undefined;
  let perDest: PerDestination = NO_DESTINATION_OPS;
  if (a.clusters.length > 0) {
    const wc = pickWeighted(a)!;
    cluster = wc.cluster ? snap.clusters.get(wc.cluster) : undefined;
    if (!cluster && a.clusterNotFoundStatus) {
      // HTTPRoute: Istio sets cluster_not_found_response_code 500 (Gateway API says 500).
      req.resume();
      record.responseFlags = 'NC';
      record.responseCodeDetails = 'cluster_not_found';
      return direct(c, rule, a.clusterNotFoundStatus, '', corsHeaders?.flat() ?? []);
    }
    if (!cluster) {
      c.req.resume();
      const why = `route ${rule.name} points at ${wc.host}:${wc.port}${wc.subset ? ` subset ${wc.subset}` : ''}, which this waypoint does not serve`;
      return localReply(c.res, record, 'no_cluster', why, c.draining || c.admitted.close, undefined, mergeOps(mergeOps(rule.responseHeaders, wc.responseHeaders), setOps(corsHeaders)));
    }
    record.upstreamCluster = cluster.name;
    // istio_stats reads destination_service from the upstream cluster's service metadata (the
    // inbound-vip cluster carries its service's), so a route to another host reports that host.
    if (cluster.host !== record.destinationService) {
      record.destinationService = cluster.host;
      record.destinationServiceNamespace = cluster.service.slice(0, cluster.service.indexOf('/'));
    }
    perDest = wc;
  }
  const path = a.rewrite ? rewritePath(c.admitted.path, a.rewrite) : c.admitted.path;
  const host = perDest.authority ?? a.rewrite?.authority ?? target.host;
  const fwd = forwardRequestHeaders(req.rawHeaders, host, false, c.ownSpan);
  if (edits) applyHeaderEdits(fwd.headers, edits);
  record.requestId = fwd.requestId;
  if (c.ownSpan) { record.traceparent = fwd.traceparent; record.parentSpanId = fwd.parentSpanId; }
  record.xForwardedFor = fwd.xForwardedFor;
  const fmt = rule.requestHeaders?.dynamic || perDest.requestHeaders?.dynamic ? headerFormat(record, req.headers) : undefined;
  const headers = applyHeaderOps(applyHeaderOps(fwd.headers, rule.requestHeaders, fmt), perDest.requestHeaders, fmt);
  const grpc = isGrpcRequest(req);
  const timeoutMs = grpc ? grpcRouteTimeoutMs(req.headers['grpc-timeout'], rule.timeoutMs) : rule.timeoutMs;
  envoyHeaders(headers, a.rewrite && hasPathRewrite(a.rewrite) ? c.admitted.path : undefined, timeoutMs, rule.retry.perTryTimeoutMs, grpc);
  const responseHeaders = mergeOps(mergeOps(mergeOps(rule.responseHeaders, perDest.responseHeaders), setOps(edits?.response)), setOps(corsHeaders));
  // A consistent-hash cookie the request lacks is made here and set on the response, as Envoy does.
  const lb = cluster?.policy?.loadBalancer;
  const made = lb?.kind === 'CONSISTENT_HASH' && lb.cookie ? hashCookie(lb, req.headers.cookie, connectionKey(req)) : undefined;
  // ConvertPolicy: the previous_hosts predicate unless set off, or left unset on a consistent-hash cluster.
  const avoid = rule.retry.attempts > 0 && (rule.retry.avoidPreviousHosts ?? lb?.kind !== 'CONSISTENT_HASH');
  const upstream = new UpstreamPick(c, cluster, { headers: req.headers, sourceIp: c.sourceIp, path, cookie: made?.value }, avoid);
  const f: ForwardRequest = {
    req, res: c.res, record, method: req.method ?? 'GET', path, headers, body: NO_BODY, upstream,
    retry: rule.retry, timeoutMs, responseHeaders, setCookie: made?.setCookie, closeAfter: c.draining || c.admitted.close,
    retryBudget: cluster ? upstream : undefined, downstream: c.downstream,
    upgrade: c.admitted.upgrade !== undefined && c.onUpgrade ? { protocol: c.admitted.upgrade, onUpgrade: c.onUpgrade } : undefined,
  };
  const len = fwd.contentLength ?? 0;
  // HTTP/2 (gRPC) bodies have neither Transfer-Encoding nor, often, Content-Length: the stream says.
  const h2Body = req.httpVersionMajor === 2 && !(req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders;
  const streamed = fwd.chunked || (h2Body && fwd.contentLength === undefined);
  if (!streamed && len <= 0) {
    req.resume();
    return send(c, rule, f);
  }
  // Buffer small bodies when a retry or mirror may need them again (Envoy buffers for retries too).
  if (!streamed && len <= RETRY_BUFFER_LIMIT && (rule.retry.attempts > 0 || rule.mirrors.length > 0)) {
    readBody(req).then((data) => send(c, rule, { ...f, body: { kind: 'buffer', data } }), () => c.res.destroy());
    return;
  }
  send(c, rule, { ...f, body: { kind: 'stream', chunked: streamed, contentLength: fwd.contentLength } });
}

const NO_BODY: Body = { kind: 'none' };

/** The request's own URL, for a redirect's or a direct response's Location. */
function here(c: ServeContext): RedirectRequest {
  const { target, path } = c.admitted;
  return { host: target.host || formatAuthority(target.authority.host, target.authority.port), port: target.authority.port, path };
}

const hasPathRewrite = (rw: NonNullable<(RouteRule['action'] & { kind: 'forward' })['rewrite']>) => rw.prefix !== undefined || rw.fullPath !== undefined || rw.regex !== undefined;

/**
 * The x-envoy-* request headers Envoy's router adds (Istio leaves envoy debug headers on):
 * x-envoy-original-path when a rewrite changed the path (rewritePathHeader), and
 * x-envoy-expected-rq-timeout-ms, the per-try timeout else the route's (setTimeoutHeaders), which
 * a gRPC request also gets as its grpc-timeout (istiod sets max_grpc_timeout).
 */
function envoyHeaders(flat: string[], originalPath: string | undefined, timeoutMs: number | undefined, perTryMs: number | undefined, grpc: boolean): void {
  if (originalPath !== undefined) setHeader(flat, 'x-envoy-original-path', originalPath);
  const expected = perTryMs ? Math.min(perTryMs, timeoutMs || Infinity) : timeoutMs;
  if (!expected) return;
  setHeader(flat, 'x-envoy-expected-rq-timeout-ms', String(expected));
  if (grpc) setHeader(flat, 'grpc-timeout', `${expected}m`);
}

function setHeader(flat: string[], name: string, value: string): void {
  for (let i = flat.length - 2; i >= 0; i -= 2) if (flat[i]!.toLowerCase() === name) flat.splice(i, 2);
  flat.push(name, value);
}

/** The downstream connection's two addresses, which Envoy hashes into a generated cookie. */
function connectionKey(req: IncomingMessage): string {
  const s = req.socket;
  return `${s?.remoteAddress}:${s?.remotePort}|${s?.localAddress}:${s?.localPort}`;
}

interface PerDestination {
  readonly requestHeaders?: HeaderOps;
  readonly responseHeaders?: HeaderOps;
  readonly authority?: string;
}

const NO_DESTINATION_OPS: PerDestination = {};

function send(c: ServeContext, rule: RouteRule, f: ForwardRequest): void {
  // An upgrade is not mirrored: the copy could not switch protocols (Envoy does not shadow them either).
  if (!f.upgrade) for (const m of rule.mirrors) if (Math.random() * 100 < m.percent) fireMirror(c, m, f.method, f.path, f.headers, f.body);
  forwardHttp(f);
}

/**
 * Where each try goes: picks an endpoint (consistent hashing keys on headers, cookies, query or
 * source IP) and its pool, and holds the cluster's retry budget. One object instead of closures.
 */
class UpstreamPick implements Upstream {
  readonly #c: ServeContext;
  readonly #cluster: Cluster | undefined;
  readonly #ctx: PickContext;
  /** Retries avoid the endpoints tried so far (Envoy's previous_hosts predicate). */
  readonly #avoid: boolean;
  /** The first try's endpoint: kept as is, so a request that is never retried builds no set. */
  #first: Endpoint | undefined;
  /** The endpoints' keys, made at the first retry. */
  #tried: Set<string> | undefined;

  constructor(c: ServeContext, cluster: Cluster | undefined, ctx: PickContext, avoidPrevious: boolean) {
    this.#c = c;
    this.#cluster = cluster;
    this.#ctx = ctx;
    this.#avoid = avoidPrevious;
  }

  acquire(): Dispatcher | Promise<Dispatcher> {
    return this.#pick(1);
  }

  #pick(n: number): Dispatcher | Promise<Dispatcher> {
    const c = this.#c;
    const authority = c.admitted.target.authority;
    const ep = c.upstreams.pick(this.#cluster, authority.host, authority.port, this.#ctx);
    return ep instanceof Promise ? ep.then((e) => this.#accept(e, n)) : this.#accept(ep, n);
  }

  /** Envoy's host_selection_retry_max_attempts (5, Istio's default): then the last pick stands. */
  #accept(e: Endpoint, n: number): Dispatcher | Promise<Dispatcher> {
    if (!this.#avoid) return this.#use(e);
    const first = this.#first;
    if (first === undefined) {
      this.#first = e;
      return this.#use(e);
    }
    const tried = (this.#tried ??= new Set([endpointKey(first)]));
    const key = endpointKey(e);
    if (tried.has(key) && n < 5) return this.#pick(n + 1);
    tried.add(key);
    return this.#use(e);
  }

  #use(e: Endpoint): Dispatcher {
    this.#c.record.upstreamHost = e.authority ?? formatAuthority(e.address, e.port);
    return this.#c.upstreams.pool(this.#cluster?.name ?? 'PassthroughCluster', e, this.#c.req.httpVersionMajor === 2);
  }

  /** DestinationRule maxRetries: a release function per retry, or undefined when the budget is spent. */
  retrySlot(): (() => void) | undefined {
    return this.#c.upstreams.acquireRetry(this.#cluster!);
  }
}

const endpointKey = (e: Endpoint): string => e.hostKey ?? e.authority ?? formatAuthority(e.address, e.port);

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/**
 * CORS per Envoy's cors filter (cors_filter.cc): a preflight (OPTIONS with Origin and
 * Access-Control-Request-Method) is answered here when its origin is allowed, or when
 * unmatchedPreflights is `ignore` (then without an allow-origin); other requests from an allowed
 * origin get allow-origin, credentials and expose-headers on their response. Envoy's encodeHeaders
 * decorates its own preflight answer too, so a preflight carries expose-headers as well. A `*`
 * allowMethods / allowHeaders is answered with what the preflight asked for (a literal `*` is not
 * honoured by browsers for credentialed requests).
 */
function corsHeaders(p: Cors, req: IncomingMessage): { preflight: boolean; headers: [string, string][] } | undefined {
  const origin = req.headers.origin;
  if (!origin) return undefined;
  const allowed = p.allowOrigins.some((m) => matchString(m, '*') || matchString(m, origin));
  const asked = req.headers['access-control-request-method'];
  const preflight = req.method === 'OPTIONS' && !!asked;
  if (!preflight) return allowed ? { preflight, headers: grants(p, origin) } : undefined;
  if (!allowed && p.unmatchedPreflights === 'forward') return undefined;
  const headers: [string, string][] = [];
  if (p.allowMethods) headers.push(['access-control-allow-methods', p.allowMethods === '*' ? String(asked) : p.allowMethods]);
  const askedHeaders = req.headers['access-control-request-headers'];
  if (p.allowHeaders && (p.allowHeaders !== '*' || askedHeaders)) headers.push(['access-control-allow-headers', p.allowHeaders === '*' ? String(askedHeaders) : p.allowHeaders]);
  if (p.maxAge) headers.push(['access-control-max-age', p.maxAge]);
  if (!allowed && p.allowCredentials) headers.push(['access-control-allow-credentials', 'true']);
  return { preflight, headers: allowed ? [...grants(p, origin), ...headers] : headers };
}

/** What Envoy's encodeHeaders adds for an allowed origin. */
function grants(p: Cors, origin: string): [string, string][] {
  const out: [string, string][] = [['access-control-allow-origin', origin]];
  if (p.allowCredentials) out.push(['access-control-allow-credentials', 'true']);
  if (p.exposeHeaders) out.push(['access-control-expose-headers', p.exposeHeaders]);
  return out;
}

