// Streams one HTTP request to an upstream and the response back, with back-pressure both ways,
// the route's retry policy and timeouts. Uses undici's dispatch handler API directly: it gives
// exact byte counts and tells a failure before response headers (retry or local reply) from one
// after (reset). A try is retried only while nothing was sent downstream and the request body can
// be sent again: none, buffered, or not yet read.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { HeaderOps, RetryPolicy } from '../model/route.ts';
import type { RequestRecord } from '../telemetry/record.ts';
import { classifyUpstreamError, DataplaneError, type FailureCode } from './errors.ts';
import { forwardResponseHeaders } from './headers.ts';
import { localReply } from './local-reply.ts';
import { markFailure } from './record.ts';
import { backoffMs, retriableFailure, retriableResponse } from './retry.ts';
import { applyHeaderOps } from './route.ts';
import { legacyHandler } from './undici-bridge.ts';

export type Body =
  | { readonly kind: 'none' }
  | { readonly kind: 'buffer'; readonly data: Buffer }
  | { readonly kind: 'stream'; readonly chunked: boolean; readonly contentLength?: number };

export interface ForwardRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly record: RequestRecord;
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  readonly body: Body;
  /** The dispatcher for the next try (picks an endpoint each time). Throws DataplaneError. */
  readonly acquire: () => Dispatcher | Promise<Dispatcher>;
  readonly retry: RetryPolicy;
  readonly timeoutMs?: number;
  readonly responseHeaders?: HeaderOps;
  readonly closeAfter: boolean;
  /** DestinationRule maxRetries: a release function per retry, or undefined when the budget is spent. */
  readonly retryBudget?: () => (() => void) | undefined;
}

class Superseded extends Error {}

const noop = () => {};

export function forwardHttp(f: ForwardRequest): void {
  const { req, res, record } = f;
  const started = Date.now();
  let tries = 0;
  let committed = false;
  let finished = false;
  let controller: Dispatcher.DispatchController | undefined;
  let perTry: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  const routeTimer = f.timeoutMs ? setTimeout(() => end('upstream_timeout', `route timeout of ${f.timeoutMs} ms expired`), f.timeoutMs) : undefined;

  const releases: (() => void)[] = [];
  const clearTimers = () => {
    clearTimeout(perTry);
    clearTimeout(retryTimer);
    clearTimeout(routeTimer);
    for (const r of releases.splice(0)) r();
  };
  res.once('close', () => {
    if (res.writableFinished || finished) return;
    finished = true;
    clearTimers();
    markFailure(record, 'downstream_disconnect');
    controller?.abort(new DataplaneError('downstream_disconnect', 'client closed the connection'));
  });

  /** The request is over: a failure before or after response headers. */
  function end(code: FailureCode, reason: string): void {
    if (finished) return;
    finished = true;
    clearTimers();
    controller?.abort(new Superseded());
    if (committed) {
      markFailure(record, code, reason);
      res.destroy();
      return;
    }
    req.resume(); // discard any unread request body so the connection can be reused
    localReply(res, record, code, reason, f.closeAfter);
    if (tries > 0 && code !== 'upstream_timeout') record.responseFlags += ',URX';
  }

  const replayable = () => f.body.kind !== 'stream' || !req.readableDidRead;
  const canRetry = () => !committed && !finished && tries < f.retry.attempts && replayable();

  function retryOr(code: FailureCode, reason: string, retriable: boolean): void {
    const release = retriable && canRetry() ? (f.retryBudget ? f.retryBudget() : noop) : undefined;
    if (release) {
      releases.push(release);
      clearTimeout(perTry);
      retryTimer = setTimeout(attempt, backoffMs(f.retry, tries));
      tries++;
      return;
    }
    end(code, reason);
  }

  function attempt(): void {
    if (finished) return;
    let d: Dispatcher | Promise<Dispatcher>;
    try {
      d = f.acquire();
    } catch (err) {
      return end(err instanceof DataplaneError ? err.code : 'connect_failure', errReason(err));
    }
    if (d instanceof Promise) d.then(dispatch, (err) => end(err instanceof DataplaneError ? err.code : 'dns_failure', errReason(err)));
    else dispatch(d);
  }

  function dispatch(d: Dispatcher): void {
    if (finished) return;
    const mine = tries;
    let tryController: Dispatcher.DispatchController | undefined;
    if (f.retry.perTryTimeoutMs) {
      perTry = setTimeout(() => {
        tryController?.abort(new Superseded());
        retryOr('per_try_timeout', `per-try timeout of ${f.retry.perTryTimeoutMs} ms expired`, retriableFailure(f.retry, 'per_try_timeout'));
      }, f.retry.perTryTimeoutMs);
    }
    const stale = () => finished || mine !== tries;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        tryController = c;
        controller = c;
        if (stale()) c.abort(new Superseded());
      },
      onResponseStart(c, status, headers, statusMessage) {
        if (stale() || status < 200) return;
        const h = headers as Record<string, string | string[]>;
        if (canRetry() && retriableResponse(f.retry, status, h)) {
          c.abort(new Superseded());
          retryOr('upstream_closed_before_headers', `retrying on ${status}`, true);
          return;
        }
        clearTimeout(perTry);
        committed = true;
        record.upstreamServiceTimeMs = Date.now() - started;
        record.responseCode = status;
        grpcStatus(record, h);
        if (f.closeAfter) res.shouldKeepAlive = false;
        const out = applyHeaderOps(forwardResponseHeaders(h), f.responseHeaders);
        // HTTP/2 has no reason phrase; Node warns if one is passed.
        if (req.httpVersionMajor === 2) res.writeHead(status, out);
        else res.writeHead(status, statusMessage || undefined, out);
      },
      onResponseData(c, chunk) {
        if (stale()) return;
        record.bytesSent += chunk.length;
        if (!res.write(chunk)) {
          c.pause();
          res.once('drain', () => c.resume());
        }
      },
      onResponseEnd(_c, trailers) {
        if (stale()) return;
        grpcStatus(record, trailers as Record<string, string | string[]>);
        // gRPC carries its status in trailers; HTTP/1.1 clients get them on chunked responses only.
        const t = forwardResponseHeaders(trailers as Record<string, string | string[]>);
        if (t.length) res.addTrailers(Object.fromEntries(pairs(t)));
        finished = true;
        clearTimers();
        if (tries > 0) record.responseFlags = record.responseFlags === '-' ? '-' : record.responseFlags;
        res.end();
      },
      onResponseError(_c, err) {
        if (err instanceof Superseded || stale()) return;
        if (committed) return end(classifyUpstreamError(err, true), errReason(err));
        const code = classifyUpstreamError(err, false);
        retryOr(code, errReason(err), code !== 'downstream_disconnect' && retriableFailure(f.retry, code));
      },
    };
    try {
      d.dispatch({ path: f.path, method: f.method, headers: f.headers, body: requestBody(f) }, legacyHandler(handler));
    } catch (err) {
      end(classifyUpstreamError(err, false), errReason(err));
    }
  }

  attempt();
}

/** grpc_response_status: a trailers-only gRPC response carries grpc-status in its headers, else in trailers. */
function grpcStatus(record: RequestRecord, h: Record<string, string | string[] | undefined> | undefined): void {
  const v = h?.['grpc-status'];
  const s = Array.isArray(v) ? v[0] : v;
  if (s !== undefined && /^\d{1,2}$/.test(s)) record.grpcStatus = s;
}

function pairs(flat: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

export function errReason(err: unknown): string {
  if (err instanceof DataplaneError) return err.reason;
  const e = err as { message?: string; code?: string };
  return e.message || e.code || String(err);
}

// A chunked body is counted as it passes; a Content-Length body by its declared length once read.
function requestBody(f: ForwardRequest): Dispatcher.DispatchOptions['body'] {
  const { req, record, body } = f;
  if (body.kind === 'none') return null;
  if (body.kind === 'buffer') {
    record.bytesReceived = body.data.length;
    return body.data;
  }
  if (body.chunked) {
    return Readable.from((async function* count() {
      for await (const chunk of req) {
        record.bytesReceived += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    })(), { objectMode: false });
  }
  req.once('end', () => { record.bytesReceived = body.contentLength ?? 0; });
  return req;
}
