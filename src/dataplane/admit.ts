// The one way in. Every HTTP request the proxy listener reads, whatever door it came through (plain
// or absolute-form on 15001, inside a terminated CONNECT or HBONE tunnel, HTTP/2 inside a tunnel, an
// Upgrade), is turned into an Admitted request here, in Envoy's order:
//   1. codec checks: head limits (414, 431), one Host (RFC 9112 §3.2); an h2c Upgrade is served as
//      HTTP/1.1, as Envoy's codec does (headers.ts drops Upgrade, Connection, HTTP2-Settings);
//   2. target: the tunnel's CONNECT authority, else the absolute-form authority, else Host; inside a
//      tunnel the Host must name the tunnel's destination (no domain fronting, 421);
//   3. route: plan() on the target;
//   4. upgrade check: only enabled upgrade types (websocket, as Istio configures) pass (403);
//   5. path normalisation (meshConfig pathNormalization, Istio's default BASE), which is what policy,
//      routing and the upstream see;
//   6. authorization (CUSTOM, JWT, DENY, ALLOW) on the normalised request.
// serveHttp() takes only an Admitted value, and only this module makes one: a door cannot reach the
// upstream without passing every step. (STYLE.md: "One request path, many doors".)
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Identity } from '../model/identity.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { lookupDestination } from '../model/host-table.ts';
import { needsNormalization, normalizePath } from '../policy/normalize-path.ts';
import type { HeaderEdits } from '../policy/request.ts';
import type { RequestRecord } from '../telemetry/record.ts';
import { formatAuthority, parseAuthority, splitAbsolute, type Authority } from './authority.ts';
import { authorize, hasAuthorization, withAuthorization, type Verdict } from './authorize.ts';
import type { FailureCode } from './errors.ts';
import { planRoute, type Forward, type Passthrough, type Plan } from './plan.ts';

/**
 * Head limits. Envoy's defaults are 60 KiB of request headers (request line included) and 100
 * header fields (max_request_headers_kb, max_request_headers_count), answered with 431; the byte
 * limit is Node's parser (maxHeaderSize), the count is checked here. A request-target over
 * MAX_URI_BYTES is 414 (Envoy has no separate URI limit; 16 KiB is what Node allowed before for the
 * whole head, and nginx and Apache stop at 8 KiB).
 */
export const HEAD_LIMITS = { maxHeaderBytes: 60 * 1024, maxHeaders: 100, maxUriBytes: 16 * 1024 } as const;

/** Upgrade types that pass: Istio's HCM enables `websocket` only (upgrade_configs). */
const ENABLED_UPGRADES = new Set(['websocket']);

export interface Target {
  readonly authority: Authority;
  /** Host header to send upstream: the client's, or the absolute-form authority. */
  readonly host: string;
  readonly path: string;
  /** The authority came from the tunnel (CONNECT or HBONE) the request arrived in. */
  readonly tunneled: boolean;
}

export interface Peer {
  readonly identity: Identity | null | undefined;
  /** Namespace of a plaintext client found by pod IP, when policy may use it (--identify-pods-by-ip=namespaces). */
  readonly podNamespace?: string;
  readonly remoteIp: string;
  /** The address the client connected to (the listener's, or the tunnel's local end). */
  readonly localIp: string;
}

/**
 * How a request arrived: who sent it, the CONNECT/HBONE authority when it came through a tunnel,
 * and where the outcome goes. The listener's per-request object implements it (no closures per request).
 */
export interface Arrival {
  readonly req: IncomingMessage;
  readonly res: { readonly destroyed: boolean };
  readonly peer: Peer;
  readonly tunnel: Authority | undefined;
  /** Node handed the socket over ('upgrade' event): a 101 can become a tunnel. */
  readonly upgradeEvent: boolean;
  /** Called once; not at all when the client left while authorization waited on the network. */
  onAdmission(a: Admission): void;
}

declare const admitted: unique symbol;

/** A request that passed every step above. Only admit() makes one. */
export interface Admitted {
  readonly [admitted]: true;
  readonly plan: Forward | Passthrough;
  readonly target: Target;
  /** Normalised path with query. */
  readonly path: string;
  readonly edits: HeaderEdits | undefined;
  /** The enabled upgrade to attempt upstream ('websocket'), when the socket can become a tunnel. */
  readonly upgrade: string | undefined;
  /** Answer with Connection: close (a stripped h2c Upgrade, any Upgrade request). */
  readonly close: boolean;
}

export type Admission =
  | Admitted
  | { readonly refused: FailureCode; readonly reason: string; readonly details?: string; readonly close: boolean }
  | { readonly denied: Verdict; readonly close: boolean };

/** Runs the steps above; synchronous unless authorization needs the network (JWKS, ext-authz). */
export function admit(snap: Snapshot, a: Arrival, record: RequestRecord): void {
  const req = a.req;
  const h = req.headers;
  // 1. Codec checks.
  const upgrade = h.upgrade === undefined ? undefined : upgradeOf(req);
  const close = upgrade !== undefined;
  const head = checkHead(req);
  if (head) return a.onAdmission({ ...head, close });
  // Node hands an upgrade's socket over right after the head: a body would be read as the new protocol.
  if (a.upgradeEvent && ((h['content-length'] ?? '0') !== '0' || h['transfer-encoding'] !== undefined)) {
    return a.onAdmission({ refused: 'bad_request', reason: 'an Upgrade request cannot carry a body', close: true });
  }
  // 2. Target.
  const target = requestTarget(req, a.tunnel);
  if ('error' in target) return a.onAdmission({ refused: target.error, reason: target.reason, details: target.details, close });
  record.path = target.path;
  record.authority = target.host;
  // 3. Route.
  const plan = planRoute(snap, target.authority.host, target.authority.port, 'http');
  applyPlan(record, plan);
  if (plan.kind === 'reject') return a.onAdmission({ refused: plan.code, reason: plan.message, close });
  if (a.tunnel) {
    const fronted = frontedHost(snap, a.tunnel, target.host);
    if (fronted) return a.onAdmission({ refused: 'misdirected', reason: fronted, close });
  }
  // 4. Upgrade check (after routing, as Envoy's HCM does: no route is a 404 first).
  if (upgrade !== undefined && upgrade !== 'h2c' && !ENABLED_UPGRADES.has(upgrade)) {
    return a.onAdmission({ refused: 'upgrade_failed', reason: `Upgrade: ${h.upgrade} is not enabled on this waypoint (only websocket is, as in Istio)`, close: true });
  }
  // 5. Path normalisation (meshConfig pathNormalization; Istio's default is BASE): the normalised path is
  // what goes upstream. `egressway check` runs the same two calls.
  let path = target.path;
  const mode = snap.authz.pathNormalization;
  if (needsNormalization(path, mode)) {
    const n = normalizePath(path, mode);
    if (!n.ok) return a.onAdmission({ refused: 'bad_path', reason: n.reason, close });
    path = n.path;
  }
  const tunnelable = upgrade !== undefined && upgrade !== 'h2c' && a.upgradeEvent ? upgrade : undefined;
  // 6. Authorization. Hot path: with no policy on the destination there is nothing to build or wait for.
  if (!hasAuthorization(snap, plan)) return a.onAdmission(admit1(plan, target, path, undefined, tunnelable, close));
  const verdict = authorize(snap, plan, {
    protocol: 'http', sourceIp: a.peer.remoteIp, identity: a.peer.identity, plaintextNamespace: a.peer.podNamespace, destinationIp: dialledIp(target, a.peer),
    host: target.host, port: target.authority.port, method: req.method, path, headers: h, rawHeaders: req.rawHeaders,
  });
  withAuthorization(verdict, record, () => req.destroyed || a.res.destroyed, (v) => a.onAdmission({ denied: v, close }),
    (edits) => a.onAdmission(admit1(plan, target, path, edits, tunnelable, close)));
}

function admit1(plan: Forward | Passthrough, target: Target, path: string, edits: HeaderEdits | undefined, upgrade: string | undefined, close: boolean): Admitted {
  return { plan, target, path, edits, upgrade, close } as unknown as Admitted;
}

/**
 * The Upgrade a request asks for, lower-cased, when it really is one (Connection lists `upgrade`);
 * 'h2c' means: strip it and serve HTTP/1.1, as Envoy's codec does. Anything else must be enabled.
 */
export function upgradeOf(req: IncomingMessage): string | undefined {
  const value = req.headers.upgrade;
  const conn = req.headers.connection;
  if (value === undefined || conn === undefined || !/(?:^|,)\s*upgrade\s*(?:,|$)/i.test(conn)) return undefined;
  return value.trim().toLowerCase();
}

/** Node's shouldUpgradeCallback: only an enabled upgrade leaves the parser for the 'upgrade' event. */
export function shouldUpgrade(req: IncomingMessage): boolean {
  const u = upgradeOf(req);
  return u !== undefined && ENABLED_UPGRADES.has(u);
}

/** One Host header, and no more header fields than the limit. */
function checkHead(req: IncomingMessage): { refused: FailureCode; reason: string; details?: string } | undefined {
  const raw = req.rawHeaders;
  if (raw.length > HEAD_LIMITS.maxHeaders * 2) {
    return { refused: 'headers_too_large', reason: `more than ${HEAD_LIMITS.maxHeaders} request header fields` };
  }
  if ((req.url?.length ?? 0) > HEAD_LIMITS.maxUriBytes) {
    return { refused: 'uri_too_long', reason: `request-target longer than ${HEAD_LIMITS.maxUriBytes} bytes` };
  }
  // Envoy's codec takes `chunked` alone: a body under another coding (`gzip, chunked`) would go
  // upstream with Content-Length, its coding lost (RFC 9112 §6.1: 501 for a coding not understood).
  const te = req.headers['transfer-encoding'];
  if (te !== undefined && te !== 'chunked' && te.trim().toLowerCase() !== 'chunked') {
    return { refused: 'unsupported_transfer_encoding', reason: `Transfer-Encoding "${te.slice(0, 100)}" is not supported; send the body with chunked alone, or Content-Length` };
  }
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  if (hosts > 1) return { refused: 'bad_request', reason: 'more than one Host header (RFC 9112 §3.2)', details: 'http1.duplicate_host' };
  return undefined;
}

/** Where an HTTP request goes: the CONNECT authority inside a tunnel, else absolute-form, else Host. */
export function requestTarget(req: IncomingMessage, tunnel: Authority | undefined): Target | { error: FailureCode; reason: string; details?: string } {
  const url = req.url ?? '/';
  if (url.startsWith('/') || url === '*') {
    // Envoy's codec takes `*` for OPTIONS only, and refuses it as an invalid URL otherwise (it went
    // upstream, where the client refused it: 503 UC, and the default route retried it twice).
    if (url === '*' && req.method !== 'OPTIONS') return { error: 'bad_request', reason: `the request-target * is for OPTIONS only (RFC 9112 §3.2.4), not ${req.method}`, details: 'http1.invalid_url' };
    // OPTIONS * asks about the server itself; Envoy's HCM routes only paths that start with "/".
    if (url === '*') return { error: 'absolute_path', reason: 'OPTIONS * asks about the proxy itself: the waypoint routes only paths that start with "/"' };
    // Envoy's default (http_reject_path_with_fragment): policy reads the path up to "#", an upstream
    // may not, so a fragment, which no request-target may carry (RFC 9112 §3.2), is a 400.
    if (url.includes('#')) return { error: 'bad_request', reason: 'the request-target carries a #fragment, which is never sent in a request (RFC 9112 §3.2)' };
    const raw = req.headers.host ?? (req.headers[':authority'] as string | undefined);
    const authority = tunnel ?? parseAuthority(raw, 80);
    if (!authority) return { error: 'bad_request', reason: `missing or invalid Host header "${raw ?? ''}"` };
    const host = raw === undefined ? formatAuthority(authority.host, authority.port) : withoutFqdnDot(raw);
    return { authority, host, path: url, tunneled: !!tunnel };
  }
  const abs = splitAbsolute(url);
  if (!abs) return { error: 'bad_request', reason: `request target "${url.slice(0, 200)}" is not origin-form or absolute-form` };
  if (abs.scheme !== 'http') {
    return { error: 'protocol_mismatch', reason: `${abs.scheme}:// requests must be tunnelled with CONNECT; send http:// and let a DestinationRule originate TLS, or use an https proxy client` };
  }
  const authority = tunnel ?? parseAuthority(abs.authority, 80);
  if (!authority) return { error: 'bad_request', reason: `invalid authority "${abs.authority}" in request target` };
  return { authority, host: withoutFqdnDot(abs.authority), path: abs.path, tunneled: !!tunnel };
}

/**
 * `name.` is `name` for routing (parseAuthority), so it must be for everything else that reads the
 * Host: policy `hosts`, route matches, the upstream. As Envoy's strip_trailing_host_dot, the dot is
 * removed from the Host itself (`api.test.:80` -> `api.test:80`).
 */
export function withoutFqdnDot(host: string): string {
  // Hot path: a Host without the dot is returned as is, with no regex run.
  if (!host.endsWith('.') && !host.includes('.:')) return host;
  return host.replace(/(?<!:\d*)\.((?::\d*)?)$/, '$1');
}

/**
 * Inside a terminated tunnel, routing follows the CONNECT authority (as Istio's waypoint routes by
 * destination VIP and ignores Host), and the Host goes upstream unchanged. So that policy (`hosts`)
 * and route matches that read the Host read a name of the destination the bytes really go to, the
 * Host must name the same host; for a tunnel to an address (HBONE sends VIP:port), a host whose
 * ServiceEntry port is that destination's. Returns why not, or undefined.
 */
export function frontedHost(snap: Snapshot, tunnel: Authority, host: string): string | undefined {
  const named = parseAuthority(host, tunnel.port);
  if (!named) return `invalid Host "${host.slice(0, 200)}"`;
  if (named.host === tunnel.host) return undefined;
  if (isIP(tunnel.host)) {
    const dest = lookupDestination(snap.hosts, tunnel.host, tunnel.port);
    const other = lookupDestination(snap.hosts, named.host, tunnel.port);
    if (dest && other && dest.cluster.name === other.cluster.name) return undefined;
  }
  const t = formatAuthority(tunnel.host, tunnel.port);
  return `Host "${host.slice(0, 200)}" is not the destination of this tunnel (${t}); open a tunnel to ${named.host} instead`;
}

/**
 * Envoy's `destination.ip` at a waypoint is the inner connection's local address: the original
 * destination the client dialled, carried in the tunnel's authority (the service VIP or the
 * ServiceEntry address). A plain proxy request to an address (`GET http://VIP/`) names the same
 * destination and gets the same value, so that a DENY on it holds at every door. A request or
 * tunnel to a name has only the address the client connected to.
 */
export function dialledIp(target: Pick<Target, 'authority'>, peer: Pick<Peer, 'localIp'>): string {
  const h = target.authority.host;
  return isIP(h) ? (h.startsWith('::ffff:') ? h.slice(7) : h) : peer.localIp;
}

export function applyPlan(r: RequestRecord, plan: Plan): void {
  r.routeName = plan.routeName;
  if (plan.kind === 'forward') {
    r.upstreamCluster = plan.cluster.name;
    if (plan.tcpRoute) {
      // istio_stats reads destination_service from the upstream cluster's service metadata.
      r.destinationService = plan.cluster.host;
      r.destinationServiceNamespace = plan.cluster.service.slice(0, plan.cluster.service.indexOf('/'));
      return;
    }
    r.destinationService = plan.destination.host;
    r.destinationServiceNamespace = plan.destination.service.namespace;
  } else {
    r.upstreamCluster = plan.clusterName;
    r.destinationService = plan.clusterName;
  }
}
