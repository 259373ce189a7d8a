// Replies the proxy makes itself (denials, no route, upstream failures), for HTTP responses and
// for raw sockets after CONNECT. One line of body: the cause and, where known, the next step.
// gRPC requests get the trailers-only form (grpc-reply.ts).
import type { ServerResponse } from 'node:http';
import type { RequestRecord } from '../telemetry/record.ts';
import { FAILURES, type FailureCode } from './errors.ts';
import { sendLocal } from './grpc-reply.ts';
import { markFailure } from './record.ts';
import type { HeaderOps } from '../model/route.ts';
import { applyHeaderOps } from './route.ts';
import { headerFormat } from './header-format.ts';
import type { IncomingHttpHeaders } from 'node:http';

export function replyBody(code: FailureCode, reason: string): string {
  const base = FAILURES[code].body;
  if (code === 'rbac_denied') return `${base}\n`; // Envoy's exact body; the reason goes to the log
  if (!reason) return `${base}\n`;
  return base ? `${base} (${reason})\n` : `egressway: ${reason}\n`;
}

/**
 * `edits`: the matched route's response header edits (with CORS and authorization's), which Envoy's
 * router applies to its own replies too (modify_headers_ calls finalizeResponseHeaders).
 */
export function localReply(res: ServerResponse, r: RequestRecord, code: FailureCode, reason: string, close = false, details?: string, edits?: HeaderOps): void {
  const f = FAILURES[code];
  markFailure(r, code, reason, details);
  r.responseCode = f.status;
  const body = replyBody(code, reason);
  r.bytesSent = Buffer.byteLength(body);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string | string[]> = {
    'content-type': 'text/plain; charset=utf-8',
    'x-egressway-flags': f.flag,
    'x-egressway-details': r.responseCodeDetails,
    ...(close ? { connection: 'close' } : {}),
  };
  sendLocal(res, r, f.status, edits ? withEdits(headers, edits, edits.dynamic ? headerFormat(r, (res as { req?: { headers: IncomingHttpHeaders } }).req?.headers ?? {}) : undefined) : headers, body);
}

function withEdits(headers: Record<string, string | string[]>, edits: HeaderOps, format: ((v: string) => string) | undefined): Record<string, string | string[]> {
  const flat = applyHeaderOps(Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v.flatMap((x) => [k, x]) : [k, v])), edits, format);
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i]!.toLowerCase();
    const prev = out[k];
    out[k] = prev === undefined ? flat[i + 1]! : [...(Array.isArray(prev) ? prev : [prev]), flat[i + 1]!];
  }
  return out;
}

/** How a tunnel request (CONNECT over HTTP/1.1, or an HBONE stream) is answered. */
export interface TunnelResponder {
  /** 200: the tunnel is open and bytes flow on the stream from now on. */
  accept(): void;
  /** A refusal with a short body; the stream is closed after it. */
  refuse(status: number, headers: Readonly<Record<string, string>>, body: string): void;
  /** The refusal sends nothing, it only closes (PROXY protocol has no reply): 0 bytes sent. */
  readonly closesOnly?: boolean;
}

/** Refuses a tunnel request through its responder, and records why. */
export function refuseTunnel(respond: TunnelResponder, r: RequestRecord, code: FailureCode, reason: string, details?: string): void {
  const f = FAILURES[code];
  markFailure(r, code, reason, details);
  r.responseCode = f.status;
  const body = replyBody(code, reason);
  r.bytesSent = respond.closesOnly ? 0 : Buffer.byteLength(body);
  respond.refuse(f.status, {
    'content-type': 'text/plain; charset=utf-8', 'x-egressway-flags': f.flag, 'x-egressway-details': r.responseCodeDetails,
  }, body);
}
