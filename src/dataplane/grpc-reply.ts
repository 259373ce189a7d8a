// Local replies to gRPC requests, as Envoy sends them (Http::Utility::prepareLocalReply): a
// trailers-only response (one HEADERS frame ending the stream) with :status 200, content-type
// application/grpc, grpc-status mapped from the HTTP status the reply would have had, and
// grpc-message the reply's body, percent-encoded. A gRPC client reads the status from it; an HTTP
// error status or a text body would only tell it "Stream removed" or "Bad gRPC response".
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestRecord } from '../telemetry/record.ts';
import { SERVER_NAME } from './server-name.ts';

/** Envoy's Grpc::Common::hasGrpcContentType: `application/grpc` or `application/grpc+...`. */
export function isGrpcRequest(req: Pick<IncomingMessage, 'headers'> | undefined): boolean {
  const ct = req?.headers['content-type'];
  return typeof ct === 'string' && ct.startsWith('application/grpc') && (ct.length === 16 || ct.charCodeAt(16) === 43);
}

const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * The route timeout of a gRPC request. istiod sets max_grpc_timeout to the route's timeout (0 when
 * none), so Envoy's router (FilterUtility::finalTimeout) takes the request's `grpc-timeout`
 * (`100m`, `5S`...; absent or 0 is no limit), capped by the route's timeout when it has one.
 */
export function grpcRouteTimeoutMs(header: string | string[] | undefined, routeMs: number | undefined): number | undefined {
  const m = typeof header === 'string' ? GRPC_TIMEOUT.exec(header) : null;
  const asked = m ? Math.ceil(Number(m[1]) * UNIT_MS[m[2]!]!) : 0;
  if (!asked) return routeMs;
  return routeMs && routeMs < asked ? routeMs : asked;
}

/** Envoy's Grpc::Utility::httpToGrpcStatus (the gRPC spec's "HTTP to gRPC Status Code Mapping"). */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400: return 13; // INTERNAL
    case 401: return 16; // UNAUTHENTICATED
    case 403: return 7; // PERMISSION_DENIED
    case 404: return 12; // UNIMPLEMENTED
    case 429: case 502: case 503: case 504: return 14; // UNAVAILABLE
    default: return 2; // UNKNOWN
  }
}

/** Envoy's PercentEncoding::encode, as grpc-message wants it: bytes outside ' '..'~', and '%'. */
export function percentEncode(s: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(s)) return s;
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The request behind a response (both node:http and the HTTP/2 compat API keep it as `req`). */
function requestOf(res: ServerResponse): IncomingMessage | undefined {
  return (res as { req?: IncomingMessage }).req;
}

/**
 * Sends a local reply: `status`, `headers` and `body` for HTTP, or the trailers-only gRPC form of
 * them when the request is gRPC. The record gets what the client saw (response code 200 and the
 * grpc-status, for gRPC), as Envoy's access log and Istio's metrics do.
 */
export function sendLocal(
  res: ServerResponse, r: RequestRecord, status: number, headers: Readonly<Record<string, string | number | readonly string[]>>, body: string | Uint8Array,
  /** A gRPC status to send instead of the one mapped from `status` (a fault filter grpcStatus abort). */
  grpcStatus?: number,
): void {
  // HTTP/2 has no Connection header (Node drops it with a warning): the session outlives a reply.
  const h2 = 'stream' in res;
  if (!isGrpcRequest(requestOf(res))) {
    r.responseCode = status;
    r.bytesSent = Buffer.byteLength(body);
    // The HCM writes its server_name on every reply (Istio: `istio-envoy`, OVERWRITE).
    const out: Record<string, string | number | readonly string[]> = { ...headers, 'content-length': r.bytesSent, server: SERVER_NAME };
    if (h2) delete out.connection;
    res.writeHead(status, out as Record<string, string | number | string[]>);
    res.end(body);
    return;
  }
  const code = String(grpcStatus ?? httpToGrpcStatus(status));
  r.responseCode = 200;
  r.grpcStatus = code;
  r.bytesSent = 0;
  res.statusCode = 200;
  // Headers set but not written: end() then sends them with END_STREAM (writeHead() would not).
  for (const [k, v] of Object.entries(headers)) {
    if (k === 'content-type' || k === 'content-length' || (h2 && k === 'connection')) continue;
    res.setHeader(k, v as string | string[]);
  }
  res.setHeader('content-type', 'application/grpc');
  res.setHeader('grpc-status', code);
  res.setHeader('server', SERVER_NAME);
  const text = typeof body === 'string' ? body : Buffer.from(body).toString();
  const message = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (message) res.setHeader('grpc-message', percentEncode(message));
  res.end();
}
