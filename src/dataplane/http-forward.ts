// Streams one HTTP request to an upstream pool and the response back, with back-pressure in both
// directions and no buffering. Uses undici's dispatch handler API directly: it gives exact byte
// counts and tells a failure before response headers (local reply) from one after (reset).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import type { RequestRecord } from '../telemetry/record.ts';
import { classifyUpstreamError, DataplaneError, type FailureCode } from './errors.ts';
import type { ForwardHeaders } from './headers.ts';
import { forwardResponseHeaders } from './headers.ts';
import { localReply } from './local-reply.ts';
import { markFailure } from './record.ts';

export interface ForwardRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly record: RequestRecord;
  readonly pool: Pool;
  readonly method: string;
  readonly path: string;
  readonly fwd: ForwardHeaders;
  readonly closeAfter: boolean;
}

export function forwardHttp(f: ForwardRequest): void {
  const { req, res, record } = f;
  let headersSent = false;
  let controller: Dispatcher.DispatchController | undefined;
  let downstreamGone = false;
  const started = Date.now();
  res.once('close', () => {
    if (!res.writableFinished) {
      downstreamGone = true;
      controller?.abort(new DataplaneError('downstream_disconnect', 'client closed the connection'));
    }
  });
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (downstreamGone) c.abort(new DataplaneError('downstream_disconnect', 'client closed the connection'));
    },
    onResponseStart(c, statusCode, headers, statusMessage) {
      if (statusCode < 200) return; // 1xx are not relayed; 100-continue was answered by Node
      record.upstreamServiceTimeMs = Date.now() - started;
      record.responseCode = statusCode;
      headersSent = true;
      if (f.closeAfter) res.shouldKeepAlive = false;
      res.writeHead(statusCode, statusMessage || undefined, forwardResponseHeaders(headers as Record<string, string | string[]>));
    },
    onResponseData(c, chunk) {
      record.bytesSent += chunk.length;
      if (!res.write(chunk)) {
        c.pause();
        res.once('drain', () => c.resume());
      }
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError(_c, err) {
      onError(f, err, headersSent, downstreamGone);
    },
  };
  const body = requestBody(f);
  try {
    f.pool.dispatch({ path: f.path, method: f.method, headers: f.fwd.headers, body }, handler);
  } catch (err) {
    onError(f, err, false, false);
  }
}

function onError(f: ForwardRequest, err: unknown, headersSent: boolean, downstreamGone: boolean): void {
  const code: FailureCode = downstreamGone ? 'downstream_disconnect' : classifyUpstreamError(err, headersSent);
  const reason = errReason(err);
  if (headersSent || downstreamGone) {
    markFailure(f.record, code, reason);
    f.res.destroy();
    return;
  }
  f.req.resume(); // discard any unread request body so the connection can be reused
  localReply(f.res, f.record, code, reason, f.closeAfter);
}

export function errReason(err: unknown): string {
  if (err instanceof DataplaneError) return err.reason;
  const e = err as { message?: string; code?: string };
  return e.message || e.code || String(err);
}

// Bodies stream through untouched. A chunked body is counted as it passes; a Content-Length body
// is counted by its declared length once the request completes.
function requestBody(f: ForwardRequest): Dispatcher.DispatchOptions['body'] {
  const { req, fwd, record } = f;
  if (fwd.chunked) {
    return Readable.from((async function* count() {
      for await (const chunk of req) {
        record.bytesReceived += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    })(), { objectMode: false });
  }
  if (fwd.contentLength && fwd.contentLength > 0) {
    req.once('end', () => { record.bytesReceived = fwd.contentLength!; });
    return req;
  }
  req.resume();
  return null;
}
