// Header handling between client and upstream: hop-by-hop removal (RFC 9110 §7.6.1), Host
// rewrite for absolute-form targets, x-request-id generation as Envoy does it, and W3C Trace Context.
import { headerNameToString } from './undici-core.ts';
import { TRACEPARENT } from '../telemetry/trace-context.ts';
import { randomHex, rootTraceparent, uuid4 } from './ids.ts';

// Connection-specific fields plus the proxy-only ones a forward proxy consumes.
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'http2-settings',
]);

/**
 * Response fields the waypoint writes itself, as Istio's waypoint Envoy does: `server` (the HCM's
 * server_name, `istio-envoy`, with OVERWRITE: GetProxyHeaders for ListenerClassSidecarInbound) and
 * `x-envoy-upstream-service-time` (the router sets it; Istio leaves Envoy's debug headers on).
 */
export { SERVER_NAME } from './server-name.ts';
const WAYPOINT_OWN = new Set([...HOP_BY_HOP, 'server', 'x-envoy-upstream-service-time']);

function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  // The usual values list no extra header: skip the split (this runs twice per request).
  if (!value || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive') return undefined;
  const s = Array.isArray(value) ? value.join(',') : value;
  const out = new Set<string>();
  for (const t of s.split(',')) {
    const k = t.trim().toLowerCase();
    if (k && k !== 'close' && k !== 'keep-alive' && k !== 'upgrade') out.add(k);
  }
  return out.size ? out : undefined;
}

export interface ForwardHeaders {
  /** Flat [name, value, ...] as undici accepts them, original case and order kept. */
  readonly headers: string[];
  readonly requestId: string;
  /**
   * The traceparent sent upstream: the client's when valid, else a new root (W3C Trace Context §4.3).
   * With `ownSpan`, a continued trace gets a new parent-id: the span id of the waypoint's own span.
   */
  readonly traceparent: string;
  /** With `ownSpan`, the client's parent-id when its trace was continued (our span's parent), else ''. */
  readonly parentSpanId: string;
  readonly userAgent: string;
  readonly xForwardedFor: string;
  readonly chunked: boolean;
  readonly contentLength: number | undefined;
}

/**
 * Builds upstream request headers from Node's rawHeaders. `host` replaces the client's Host
 * (RFC 9112 §3.2.2: absolute-form authority wins). When `keepUpgrade` is set the Connection and
 * Upgrade fields survive, for WebSocket pass-through. `ownSpan` is set when the waypoint exports a
 * span per request (--otlp-endpoint), so the upstream's parent-id names that span.
 */
export function forwardRequestHeaders(raw: readonly string[], host: string, keepUpgrade = false, ownSpan = false): ForwardHeaders {
  // Several Connection fields make one list (RFC 9110 §5.3): a field named in any of them is dropped.
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') connection = connection === undefined ? raw[i + 1] : `${connection},${raw[i + 1]}`;
  }
  const listed = connectionTokens(connection);
  const headers: string[] = ['host', host];
  let requestId = '', userAgent = '', xff = '', traceparent = '', parentSpanId = '', chunked = false;
  let contentLength: number | undefined;
  let teTrailers = '';
  let tracestateAt: number[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    // Host is set from the target; HTTP/2 pseudo-headers (:method, :path...) never go upstream.
    if (lower === 'host' || name.charCodeAt(0) === 58) continue;
    if (lower === 'transfer-encoding') chunked = /chunked/i.test(value);
    // Envoy (ConnectionManagerUtility::sanitizeTEHeader) keeps TE as exactly `trailers` when the
    // client offers it, and drops every other value: grpc-core servers refuse a call without it.
    if (lower === 'te') {
      if (!teTrailers && offersTrailers(value)) headers.push((teTrailers = name), 'trailers');
      continue;
    }
    if (HOP_BY_HOP.has(lower) && !(keepUpgrade && (lower === 'connection' || lower === 'upgrade'))) continue;
    if (listed?.has(lower)) continue;
    if (lower === 'traceparent') {
      // Passed through unchanged without span export: a new parent-id would point at a span nobody has.
      // With export, the parent-id becomes our span's. An invalid one is dropped and a new trace started.
      if (traceparent || !TRACEPARENT.test(value.trim())) continue;
      traceparent = value.trim();
      if (ownSpan) {
        parentSpanId = traceparent.slice(36, 52);
        traceparent = `${traceparent.slice(0, 36)}${randomHex(8)}${traceparent.slice(52)}`;
        headers.push(name, traceparent);
        continue;
      }
    }
    if (lower === 'tracestate') (tracestateAt ??= []).push(headers.length);
    if (lower === 'x-request-id') requestId = value;
    else if (lower === 'user-agent') userAgent = value;
    else if (lower === 'x-forwarded-for') xff = value;
    else if (lower === 'content-length') contentLength = Number(value);
    headers.push(name, value);
  }
  if (!requestId) {
    requestId = uuid4();
    headers.push('x-request-id', requestId);
  }
  if (!traceparent) {
    // W3C Trace Context: tracestate belongs to the traceparent it came with, so a new trace drops it.
    if (tracestateAt) for (let i = tracestateAt.length - 1; i >= 0; i--) headers.splice(tracestateAt[i]!, 2);
    traceparent = rootTraceparent();
    headers.push('traceparent', traceparent);
  }
  return { headers, requestId, traceparent, parentSpanId, userAgent, xForwardedFor: xff, chunked, contentLength };
}

function offersTrailers(value: string): boolean {
  for (const t of value.split(',')) if (t.split(';')[0]!.trim().toLowerCase() === 'trailers') return true;
  return false;
}

/** Raw header pairs as undici hands them to a handler: [name, value, ...], Buffers from its parsers. */
export type RawHeaders = readonly (Buffer | string)[];

/** What the proxy needs to know about a response head besides the headers it forwards. */
export interface ResponseHead {
  /** grpc-status, when the head (trailers-only gRPC) or the trailers carry one. */
  grpcStatus: string | undefined;
  /** x-envoy-ratelimited is present (retry_on envoy-ratelimited). */
  rateLimited: boolean;
}

/**
 * Response headers for writeHead, from undici's raw pairs in one pass: names lower-cased (undici's
 * own interned lookup for known names), values read as latin1 so every byte goes back out as it came
 * (Node writes header strings as latin1), hop-by-hop and Connection-listed fields dropped,
 * pseudo-headers skipped. Facts the proxy acts on land in `head`. `utf8`: the pairs came from
 * undici's HTTP/2 client, which encodes Node's (one byte per octet) strings as UTF-8; decoding them
 * as UTF-8 gives the octets back. `waypoint`: the upstream's `server` and
 * `x-envoy-upstream-service-time` go too (the waypoint writes its own, WAYPOINT_OWN).
 */
export function forwardResponseHead(raw: RawHeaders, head: ResponseHead, utf8 = false, waypoint = false): string[] {
  const enc = utf8 ? 'utf8' : 'latin1';
  const drop = waypoint ? WAYPOINT_OWN : HOP_BY_HOP;
  const out: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = headerNameToString(raw[i]!);
    if (name.charCodeAt(0) === 58) continue; // :status and other HTTP/2 pseudo-headers
    const v = raw[i + 1]!;
    const value = typeof v === 'string' ? v : v.toString(enc);
    if (drop.has(name)) {
      if (name === 'connection') connection = connection === undefined ? value : `${connection},${value}`;
      continue;
    }
    if (name === 'grpc-status') head.grpcStatus = grpcCode(value);
    else if (name === 'x-envoy-ratelimited') head.rateLimited = true;
    out.push(name, value);
  }
  const listed = connectionTokens(connection);
  return listed ? dropListed(out, listed) : out;
}

/**
 * Trailers for addTrailers, minus hop-by-hop fields: undici gives HTTP/1.1 trailers as raw pairs and
 * HTTP/2 ones as an object. Returns undefined when none are left.
 */
export function forwardTrailers(t: RawHeaders | Readonly<Record<string, string | string[]>>, head: ResponseHead): Record<string, string> | undefined {
  // An object, because HTTP/2 responses (Node's compat API) take no [name, value] pairs.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let any = false;
  const add = (name: string, value: string) => {
    if (name.charCodeAt(0) === 58 || HOP_BY_HOP.has(name)) return;
    if (name === 'grpc-status') head.grpcStatus = grpcCode(value);
    out[name] = value;
    any = true;
  };
  if (isRaw(t)) {
    for (let i = 0; i < t.length; i += 2) {
      const v = t[i + 1]!;
      add(headerNameToString(t[i]!), typeof v === 'string' ? v : v.toString('latin1'));
    }
  } else {
    for (const name of Object.keys(t)) {
      const v = t[name]!;
      for (const x of Array.isArray(v) ? v : [v]) add(name.toLowerCase(), x);
    }
  }
  return any ? out : undefined;
}

function isRaw(t: RawHeaders | Readonly<Record<string, string | string[]>>): t is RawHeaders {
  return Array.isArray(t);
}

// grpc_response_status is a small number; anything else is not a gRPC status.
function grpcCode(v: string): string | undefined {
  return /^\d{1,2}$/.test(v) ? v : undefined;
}

function dropListed(flat: readonly string[], listed: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) if (!listed.has(flat[i]!)) out.push(flat[i]!, flat[i + 1]!);
  return out;
}
