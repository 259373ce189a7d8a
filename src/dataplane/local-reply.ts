// Replies the proxy makes itself (denials, no route, upstream failures), for HTTP responses and
// for raw sockets after CONNECT. One line of body: the cause and, where known, the next step.
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { RequestRecord } from '../telemetry/record.ts';
import { FAILURES, type FailureCode } from './errors.ts';
import { markFailure } from './record.ts';

export function replyBody(code: FailureCode, reason: string): string {
  const base = FAILURES[code].body;
  if (code === 'rbac_denied') return `${base}\n`; // Envoy's exact body; the reason goes to the log
  if (!reason) return `${base}\n`;
  return base ? `${base} (${reason})\n` : `egressway: ${reason}\n`;
}

export function localReply(res: ServerResponse, r: RequestRecord, code: FailureCode, reason: string, close = false, details?: string): void {
  const f = FAILURES[code];
  markFailure(r, code, reason, details);
  r.responseCode = f.status;
  const body = replyBody(code, reason);
  r.bytesSent = Buffer.byteLength(body);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(f.status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': r.bytesSent,
    'x-egressway-flags': f.flag,
    'x-egressway-details': r.responseCodeDetails,
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(body);
}

/** A complete HTTP/1.1 response written to a raw socket (CONNECT refusals), then closed. */
export function rawReply(socket: Duplex, r: RequestRecord, code: FailureCode, reason: string, details?: string): void {
  const f = FAILURES[code];
  markFailure(r, code, reason, details);
  r.responseCode = f.status;
  const body = replyBody(code, reason);
  r.bytesSent = Buffer.byteLength(body);
  if (socket.destroyed || !socket.writable) return;
  socket.end(
    `HTTP/1.1 ${f.status} ${STATUS_CODES[f.status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\n`
    + `content-length: ${r.bytesSent}\r\nx-egressway-flags: ${f.flag}\r\nx-egressway-details: ${r.responseCodeDetails}\r\n`
    + `connection: close\r\n\r\n${body}`,
  );
}
