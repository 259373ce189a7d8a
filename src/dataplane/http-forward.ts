// Streams one HTTP request to an upstream and the response back, with back-pressure both ways,
// the route's retry policy and timeouts. Drives undici's dispatch() with a handler of its own:
// that gives exact byte counts and tells a failure before response headers (retry or local reply)
// from one after (reset). A try is retried only while nothing was sent downstream and the request
// body can be sent again: none, buffered, or not yet read.
//
// Hot path: one Forward per request and one ForwardTry (the undici handler) per try, with every
// callback on a prototype; timers take their target as an argument instead of a closure. The
// handler speaks undici's legacy shape (onConnect/onHeaders/onData/onComplete/onError), which
// undici calls without an adapter, so response headers go from undici's raw [name, value] buffers
// to writeHead's flat array in one pass (headers.ts). It also keeps HTTP/2 trailers: undici 7.30's
// adapter for the newer handler shape runs them through the HTTP/1.1 raw-array parser and loses
// them, and with them gRPC's grpc-status.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { HeaderOps, RetryPolicy } from '../model/route.ts';
import type { RequestRecord } from '../telemetry/record.ts';
import { classifyUpstreamError, DataplaneError, type FailureCode } from './errors.ts';
import { forwardResponseHead, forwardTrailers, SERVER_NAME, type RawHeaders, type ResponseHead } from './headers.ts';
import { localReply } from './local-reply.ts';
import { markFailure } from './record.ts';
import { backoffMs, retriableFailure, retriableResponse } from './retry.ts';
import { applyHeaderOps } from './route.ts';
import { headerFormat } from './header-format.ts';

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
  /** Where each try goes, and the cluster's retry budget. */
  readonly upstream: Upstream;
  readonly retry: RetryPolicy;
  readonly timeoutMs?: number;
  readonly responseHeaders?: HeaderOps;
  /** A consistent-hash cookie made for this request: on upstream responses only, as Envoy's onUpstreamHeaders adds it. */
  readonly setCookie?: string;
  readonly closeAfter: boolean;
  /** DestinationRule maxRetries (connectionPool.http.maxRetries) applies: ask it before each retry. */
  readonly retryBudget?: RetryBudget;
  /** The request's owner tells of the client leaving through this; without it, a 'close' listener. */
  readonly downstream?: DownstreamClose;
  /**
   * An admitted Upgrade: sent upstream with `Connection: upgrade` + `Upgrade: <protocol>` (undici
   * writes them, and closes the upstream connection after any answer but 101). A 101 goes to
   * `onUpgrade` with the upstream socket; any other answer is an ordinary response.
   */
  readonly upgrade?: { readonly protocol: string; readonly onUpgrade: UpgradeHandler };
}

/**
 * Takes over after an upstream's 101: writes the head to the client and splices the two sockets.
 * `headers` are flat [name, value, ...] for the client: Connection and Upgrade first, then the
 * upstream's end-to-end fields (Sec-WebSocket-*) with the route's response header edits applied.
 */
export type UpgradeHandler = (status: number, headers: readonly string[], upstream: Duplex) => void;

export interface Upstream {
  /** The dispatcher for the next try (picks an endpoint each time). Throws DataplaneError. */
  acquire(): Dispatcher | Promise<Dispatcher>;
}

export interface RetryBudget {
  /** A release function per retry, or undefined when the budget is spent. */
  retrySlot(): (() => void) | undefined;
}

/** A request owner that already listens for the response's 'close' and passes it on to `closed`. */
export interface DownstreamClose {
  closed: { onDownstreamClose(): void } | undefined;
}

/**
 * Aborts a try that lost to a retry, a timeout or the client: its late callbacks are ignored. Its
 * code tells outlier detection (observe-dispatch.ts) that it says nothing about the upstream.
 */
class Superseded extends Error {
  readonly code = 'superseded';
}

const noop = () => {};

export function forwardHttp(f: ForwardRequest): void {
  new Forward(f).attempt();
}

class Forward {
  readonly f: ForwardRequest;
  readonly started = Date.now();
  tries = 0;
  committed = false;
  finished = false;
  /** The try undici is running, to abort it. */
  current: ForwardTry | undefined;
  perTry: NodeJS.Timeout | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  routeTimer: NodeJS.Timeout | undefined;
  releases: (() => void)[] | undefined;

  constructor(f: ForwardRequest) {
    this.f = f;
    // Envoy's route timeout runs from the end of the downstream request: a streamed body that is
    // still arriving starts it when it ends.
    if (f.timeoutMs) {
      if (f.body.kind === 'stream' && !f.req.readableEnded) f.req.once('end', () => this.startRouteTimer());
      else this.startRouteTimer();
    }
    // The client may be gone already (it left during a fault delay or a body read): its close was
    // recorded, so there is nothing to send.
    if (f.res.destroyed) this.finished = true;
    else if (f.downstream) f.downstream.closed = this;
    else f.res.once('close', () => this.onDownstreamClose());
  }

  startRouteTimer(): void {
    if (!this.finished) this.routeTimer = setTimeout(routeTimeout, this.f.timeoutMs!, this);
  }

  onDownstreamClose(): void {
    if (this.f.res.writableFinished || this.finished) return;
    this.finished = true;
    this.clearTimers();
    markFailure(this.f.record, 'downstream_disconnect');
    this.current?.cancel(new DataplaneError('downstream_disconnect', 'client closed the connection'));
  }

  clearTimers(): void {
    if (this.perTry) clearTimeout(this.perTry);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.routeTimer) clearTimeout(this.routeTimer);
    if (this.releases) for (const r of this.releases.splice(0)) r();
  }

  /** The request is over: a failure before or after response headers. */
  end(code: FailureCode, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.clearTimers();
    this.current?.cancel(new Superseded());
    const { req, res, record } = this.f;
    if (this.committed) {
      markFailure(record, code, reason);
      res.destroy();
      return;
    }
    req.unpipe(); // from an aborted try's body view
    req.resume(); // discard any unread request body so the connection can be reused
    localReply(res, record, code, reason, this.f.closeAfter, undefined, this.f.responseHeaders);
    if (this.tries > 0 && code !== 'upstream_timeout') record.responseFlags += ',URX';
  }

  canRetry(): boolean {
    const f = this.f;
    const replayable = f.body.kind !== 'stream' || !f.req.readableDidRead;
    return !this.committed && !this.finished && this.tries < f.retry.attempts && replayable;
  }

  /** A retry slot (its release function) when one more try may go now; undefined: do not retry. */
  retrySlot(retriable: boolean): (() => void) | undefined {
    if (!retriable || !this.canRetry()) return undefined;
    return this.f.retryBudget ? this.f.retryBudget.retrySlot() : noop;
  }

  retryOr(code: FailureCode, reason: string, retriable: boolean): void {
    const release = this.retrySlot(retriable);
    if (!release) return this.end(code, reason);
    this.retryWith(release);
  }

  retryWith(release: () => void): void {
    (this.releases ??= []).push(release);
    if (this.perTry) clearTimeout(this.perTry);
    this.retryTimer = setTimeout(attemptAgain, backoffMs(this.f.retry, this.tries), this);
    this.tries++;
  }

  attempt(): void {
    if (this.finished) return;
    let d: Dispatcher | Promise<Dispatcher>;
    try {
      d = this.f.upstream.acquire();
    } catch (err) {
      return this.end(err instanceof DataplaneError ? err.code : 'connect_failure', errReason(err));
    }
    if (d instanceof Promise) d.then((x) => this.dispatch(x), (err) => this.end(err instanceof DataplaneError ? err.code : 'dns_failure', errReason(err)));
    else this.dispatch(d);
  }

  dispatch(d: Dispatcher): void {
    if (this.finished) return;
    const t = new ForwardTry(this, this.tries);
    const perTryMs = this.f.retry.perTryTimeoutMs;
    // Envoy starts a try's timer once the request is sent in full (setupPerTryTimeout at end_stream).
    if (perTryMs) {
      if (this.f.body.kind === 'stream' && !this.f.req.readableEnded) this.f.req.once('end', () => { if (this.current === t && !this.finished && !this.committed) this.perTry = setTimeout(perTryTimeout, perTryMs, t); });
      else this.perTry = setTimeout(perTryTimeout, perTryMs, t);
    }
    const f = this.f;
    try {
      d.dispatch({ path: f.path, method: f.method as Dispatcher.HttpMethod, headers: f.headers, body: requestBody(f), upgrade: f.upgrade?.protocol ?? null }, t as unknown as Dispatcher.DispatchHandler);
    } catch (err) {
      this.end(classifyUpstreamError(err, false), errReason(err));
    }
  }
}

function routeTimeout(fw: Forward): void {
  fw.end('upstream_timeout', `route timeout of ${fw.f.timeoutMs} ms expired`);
}

function attemptAgain(fw: Forward): void {
  fw.attempt();
}

function perTryTimeout(t: ForwardTry): void {
  const fw = t.fw;
  t.cancel(new Superseded());
  fw.retryOr('per_try_timeout', `per-try timeout of ${fw.f.retry.perTryTimeoutMs} ms expired`, retriableFailure(fw.f.retry, 'per_try_timeout'));
}

/**
 * One try: undici's handler in its legacy shape, which undici calls without an adapter. It is also
 * where the response head's facts land (ResponseHead), so a try allocates one object.
 */
class ForwardTry implements ResponseHead {
  readonly fw: Forward;
  readonly n: number;
  #abort: ((reason: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  grpcStatus: string | undefined = undefined;
  rateLimited = false;

  constructor(fw: Forward, n: number) {
    this.fw = fw;
    this.n = n;
  }

  stale(): boolean {
    return this.fw.finished || this.n !== this.fw.tries;
  }

  cancel(reason: Error): void {
    this.#abort?.(reason);
  }

  onConnect(abort: (reason: Error) => void): void {
    // A try that lost while it waited for a connection: throwing makes undici fail just this request.
    // Calling abort() would destroy the pooled socket and the request body, which a later try may
    // be sending (the client's own stream).
    if (this.stale()) throw new Superseded();
    this.#abort = abort;
    this.fw.current = this;
  }

  onHeaders(status: number, raw: RawHeaders, resume: () => void, statusText?: string): boolean {
    if (this.stale() || status < 200) return true;
    const fw = this.fw;
    const f = fw.f;
    const { res, record } = f;
    this.#resume = resume;
    // undici gives HTTP/2 heads no reason phrase, and their values as UTF-8 bytes of Node's strings.
    const out = forwardResponseHead(raw, this, statusText === '', true);
    if (retriableResponse(f.retry, status, this)) {
      // With the DestinationRule's maxRetries spent, Envoy forwards the response it has.
      const release = fw.retrySlot(true);
      if (release) {
        this.cancel(new Superseded());
        fw.retryWith(release);
        return true;
      }
      // Envoy's router: a retriable response forwarded because the retries ran out is URX.
      if (fw.tries >= f.retry.attempts) record.responseFlags = 'URX';
    }
    if (fw.perTry) clearTimeout(fw.perTry);
    record.upstreamServiceTimeMs = Date.now() - fw.started;
    if (f.closeAfter) res.shouldKeepAlive = false;
    // Envoy's router (onUpstreamHeaders): the service time once the request was in whole, the
    // routing cookie, then the route's edits; the HCM then overwrites `server`.
    if (requestIn(f)) out.push('x-envoy-upstream-service-time', String(record.upstreamServiceTimeMs));
    if (f.setCookie) out.push('set-cookie', f.setCookie);
    let headers = out;
    if (f.responseHeaders) headers = withServer(applyHeaderOps(out, f.responseHeaders, f.responseHeaders.dynamic ? headerFormat(record, f.req.headers) : undefined));
    else out.push('server', SERVER_NAME);
    // The standard reason phrase, as Envoy sends: the upstream's may hold what Node cannot write.
    try {
      // A grpc-status in the head is a trailers-only response (gRPC over HTTP/2): held until the
      // stream ends, so that end() sends one HEADERS frame with END_STREAM, as it came. writeHead()
      // would send HEADERS and then an empty DATA frame, which gRPC clients reject.
      if (this.grpcStatus !== undefined && 'stream' in res) holdHead(res, status, headers);
      else res.writeHead(status, headers);
    } catch (err) {
      // A header Node refuses to send (invalid characters): nothing went out, so answer locally.
      fw.end('upstream_protocol_error', `response head cannot be forwarded: ${errReason(err)}`);
      return true;
    }
    fw.committed = true;
    record.responseCode = status;
    if (this.grpcStatus !== undefined) record.grpcStatus = this.grpcStatus;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.stale()) return true;
    const res = this.fw.f.res;
    this.fw.f.record.bytesSent += chunk.length;
    if (res.write(chunk)) return true;
    if (this.#resume) res.once('drain', this.#resume);
    return false;
  }

  onComplete(trailers: RawHeaders | Record<string, string | string[]> | null): void {
    if (this.stale()) return;
    const fw = this.fw;
    const { res, record } = fw.f;
    // gRPC carries its status in trailers; HTTP/1.1 clients get them on chunked responses only.
    if (trailers && (!Array.isArray(trailers) || trailers.length > 0)) {
      const t = forwardTrailers(trailers, this);
      if (this.grpcStatus !== undefined) record.grpcStatus = this.grpcStatus;
      if (t) res.addTrailers(t);
    }
    fw.finished = true;
    fw.clearTimers();
    res.end();
  }

  onError(err: Error): void {
    if (err instanceof Superseded || this.stale()) return;
    const fw = this.fw;
    if (fw.committed) return fw.end(classifyUpstreamError(err, true), errReason(err));
    const code = classifyUpstreamError(err, false);
    fw.retryOr(code, errReason(err), code !== 'downstream_disconnect' && retriableFailure(fw.f.retry, code));
  }

  /** The upstream switched protocols (an admitted Upgrade only: undici refuses a 101 to anything else). */
  onUpgrade(status: number, headers: RawHeaders, socket: Duplex): void {
    const fw = this.fw;
    if (this.stale() || !fw.f.upgrade) {
      socket.destroy();
      return;
    }
    fw.finished = true;
    fw.committed = true;
    fw.clearTimers();
    const f = fw.f;
    f.record.upstreamServiceTimeMs = Date.now() - fw.started;
    const out = forwardResponseHead(headers, this, false, true);
    if (requestIn(f)) out.push('x-envoy-upstream-service-time', String(f.record.upstreamServiceTimeMs));
    let flat = out;
    if (f.responseHeaders) flat = withServer(applyHeaderOps(out, f.responseHeaders, f.responseHeaders.dynamic ? headerFormat(f.record, f.req.headers) : undefined));
    else out.push('server', SERVER_NAME);
    f.upgrade!.onUpgrade(status, ['connection', 'Upgrade', 'upgrade', upgradeValue(headers) ?? f.upgrade!.protocol, ...flat], socket);
  }
}

/** The downstream request is in whole (Envoy's downstream_request_complete_time_ is set). */
function requestIn(f: ForwardRequest): boolean {
  return f.body.kind !== 'stream' || f.req.readableEnded;
}

/** A response head after route edits, with the waypoint's `server` in place of any the edits set (HCM OVERWRITE). */
function withServer(flat: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) if (flat[i]!.toLowerCase() !== 'server') out.push(flat[i]!, flat[i + 1]!);
  out.push('server', SERVER_NAME);
  return out;
}

/** The Upgrade field of a raw response head (what the upstream switched to). */
function upgradeValue(raw: RawHeaders): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 7 || name.toString().toLowerCase() !== 'upgrade') continue;
    const v = raw[i + 1]!;
    return typeof v === 'string' ? v : v.toString('latin1');
  }
  return undefined;
}

/** Sets the head without writing it: end() (or the first write) sends it. */
function holdHead(res: ServerResponse, status: number, flat: readonly string[]): void {
  const grouped = new Map<string, string | string[]>();
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i]!, v = flat[i + 1]!;
    const had = grouped.get(k);
    grouped.set(k, had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v]);
  }
  res.statusCode = status;
  for (const [k, v] of grouped) res.setHeader(k, v);
}

export function errReason(err: unknown): string {
  if (err instanceof DataplaneError) return err.reason;
  const e = err as { message?: string; code?: string };
  return e.message || e.code || String(err);
}

/**
 * What undici sends as the request body. A streamed body goes through a per-try view that counts
 * bytes as they pass: undici destroys the body stream of a request it aborts (a timeout, a try that
 * lost), and that must not be the client's own request, which the local reply (504 UT...) still
 * needs. Destroying the view only unpipes the client's request.
 */
function requestBody(f: ForwardRequest): Dispatcher.DispatchOptions['body'] {
  const { req, record, body } = f;
  if (body.kind === 'none') return null;
  if (body.kind === 'buffer') {
    record.bytesReceived = body.data.length;
    return body.data;
  }
  const view = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      record.bytesReceived += chunk.length;
      cb(null, chunk);
    },
  });
  view.on('error', noop); // undici reports the failure through the handler; the view is just dropped
  req.unpipe(); // an earlier try's view (undici does not destroy a queued request's body): one reader
  req.pipe(view);
  return view;
}
