// Access log: one line per request or tunnel, in Istio's JSON keys (EnvoyJSONLogFormatIstio) or
// Istio's default TEXT format, written in batches so a slow stdout never blocks the event loop.
//
// Hot path (the log is on by default, so every request pays for it):
// - JSON lines are one template; strings are escaped by JSON.stringify (exact), and values that
//   repeat across requests are escaped once and cached (about 0.85 µs a line, against 2.2 µs for a
//   field table and 1.7 µs for JSON.stringify of an object).
// - start_time's ISO string is computed once per millisecond, not once per request.
// - Lines are queued in an array and joined into one string per batch, which goes out as a single
//   asynchronous write on a node:fs WriteStream (it handles partial writes and ordering). Why not
//   pino.destination (sonic-boom): it measures the pending batch with Buffer.byteLength on every
//   line, so each line cost O(batch) and the JSON log took a quarter of saturation throughput.
import { write as fsWrite, type WriteStream } from 'node:fs';
import type { RequestRecord } from './record.ts';

export type AccessLogFormat = 'json' | 'text' | 'off';

export interface AccessLog {
  write(r: RequestRecord): void;
  /** Writes what is queued and waits for it to reach the file descriptor (shutdown). */
  close(): Promise<void>;
  /** Lines dropped because the destination fell too far behind or failed. */
  readonly dropped: number;
}

/** JSON string literal, or null for '' (Istio logs empty operators as null). */
function str(v: string): string {
  return v === '' ? 'null' : JSON.stringify(v);
}

// Values that repeat as the same string object (route and cluster names from the snapshot, details
// constants, peer addresses of a kept-alive connection, the endpoint's address) are encoded once: a
// Map hit on a string whose hash V8 already holds costs less than escaping again. Values read fresh
// from each request (path, Host, user agent, request id) are escaped directly: hashing a new string
// for the lookup costs as much as escaping it. Bounded: long values are not kept, and the whole
// cache is dropped when it fills.
const ENCODED = new Map<string, string>();
const ENCODED_MAX = 4096;
const ENCODED_MAX_LENGTH = 256;

function repeated(v: string): string {
  if (v === '') return 'null';
  let e = ENCODED.get(v);
  if (e === undefined) {
    e = JSON.stringify(v);
    if (v.length > ENCODED_MAX_LENGTH) return e;
    if (ENCODED.size >= ENCODED_MAX) ENCODED.clear();
    ENCODED.set(v, e);
  }
  return e;
}

/**
 * One access-log line in Istio's JSON format (EnvoyJSONLogFormatIstio keys, in Istio's order),
 * newline included. Empty strings are null. Egressway's authorization extras follow, only when set.
 */
export function jsonLine(r: RequestRecord): string {
  const ust = r.upstreamServiceTimeMs === null ? 'null' : `"${r.upstreamServiceTimeMs}"`;
  let s = `{"start_time":"${isoTime(r.startTime)}","route_name":${repeated(r.routeName)},"method":${repeated(r.method)},`
    + `"path":${str(r.path)},"protocol":${repeated(r.protocol)},"response_code":${r.responseCode},`
    + `"response_flags":${repeated(r.responseFlags)},"response_code_details":${repeated(r.responseCodeDetails)},`
    + `"connection_termination_details":${repeated(r.connectionTerminationDetails)},"bytes_received":${r.bytesReceived},`
    + `"bytes_sent":${r.bytesSent},"duration":${r.durationMs},"upstream_service_time":${ust},`
    + `"x_forwarded_for":${str(r.xForwardedFor)},"user_agent":${str(r.userAgent)},"request_id":${str(r.requestId)},`
    + `"authority":${str(r.authority)},"upstream_host":${repeated(r.upstreamHost)},"upstream_cluster":${repeated(r.upstreamCluster)},`
    + `"upstream_local_address":${repeated(r.upstreamLocalAddress)},"downstream_local_address":${repeated(r.downstreamLocalAddress)},`
    + `"downstream_remote_address":${repeated(r.downstreamRemoteAddress)},"requested_server_name":${repeated(r.requestedServerName)},`
    + `"upstream_transport_failure_reason":${str(r.upstreamTransportFailureReason)}`;
  if (r.dryRunResult) s += `,"dry_run_result":"${r.dryRunResult === 'deny' ? 'would_deny' : 'allow'}","dry_run_policy":${JSON.stringify(r.dryRunPolicy ?? 'none')}`;
  if (r.auditPolicy) s += `,"audit_policy":${JSON.stringify(r.auditPolicy)}`;
  if (r.requestPrincipal) s += `,"request_principal":${JSON.stringify(r.requestPrincipal)}`;
  return `${s}}\n`;
}

let lastMs = Number.NaN;
let lastIso = '';
let secondStart = Number.NaN;
let secondPrefix = ''; // "2026-11-25T12:00:00."

/**
 * ISO 8601 time of an epoch-ms instant. Requests in the same millisecond share the string, and
 * within a second only the milliseconds are formatted (toISOString costs ~0.4 µs; at low rates
 * every request is a new millisecond).
 */
export function isoTime(ms: number): string {
  if (ms === lastMs) return lastIso;
  lastMs = ms;
  const frac = ms - secondStart;
  if (frac >= 0 && frac < 1000) {
    lastIso = `${secondPrefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
  } else {
    lastIso = new Date(ms).toISOString();
    secondStart = ms - (((ms % 1000) + 1000) % 1000);
    secondPrefix = lastIso.slice(0, 20);
  }
  return lastIso;
}

const dash = (s: string | number | null | undefined): string | number => (s === '' || s === null || s === undefined ? '-' : s);

/** Istio's EnvoyTextLogFormat, field for field. */
export function textLine(r: RequestRecord): string {
  return `[${isoTime(r.startTime)}] "${dash(r.method)} ${dash(r.path)} ${r.protocol}" ${r.responseCode} ${r.responseFlags} `
    + `${dash(r.responseCodeDetails)} ${dash(r.connectionTerminationDetails)} "${dash(r.upstreamTransportFailureReason)}" `
    + `${r.bytesReceived} ${r.bytesSent} ${r.durationMs} ${dash(r.upstreamServiceTimeMs)} "${dash(r.xForwardedFor)}" `
    + `"${dash(r.userAgent)}" "${dash(r.requestId)}" "${dash(r.authority)}" "${dash(r.upstreamHost)}" ${dash(r.upstreamCluster)} `
    + `${dash(r.upstreamLocalAddress)} ${dash(r.downstreamLocalAddress)} ${dash(r.downstreamRemoteAddress)} `
    + `${dash(r.requestedServerName)} ${dash(r.routeName)}\n`;
}

/**
 * Lines are batched up to `BATCH_CHARS` and flushed at least every `FLUSH_MS`, like Envoy's
 * access-log flush interval. Past `MAX_BACKLOG_CHARS` waiting to be written (a stalled pipe, a full
 * disk) new lines are dropped and counted rather than held in memory without bound.
 */
const BATCH_CHARS = 64 * 1024;
const FLUSH_MS = 250;
const MAX_BACKLOG_CHARS = 16 * 1024 * 1024;

/** Where batches go: stdout's descriptor, or (a `run --concurrency` worker) a function that hands them to the one writer. */
export type LogTarget = number | ((batch: string) => void);

/** A batch consumer with a WriteStream's backlog and end() (a function target has no backlog). */
type Out = Pick<WriteStream, 'write' | 'writableLength' | 'end' | 'on'>;

/**
 * Batches to a file descriptor in order, with fs.write (the thread pool, so a slow disk never
 * blocks the loop) and partial writes resumed. Hand-written rather than a node:fs WriteStream
 * because a WriteStream fails for good on EAGAIN: a non-blocking stdout pipe (O_NONBLOCK belongs to
 * the open file description, so a parent that set it on its stdout hands it on, and a worker
 * thread opening process.stdout sets it) turned the access log off at the first full pipe. Here
 * EAGAIN waits 10 ms and writes again; the backlog bound above still applies meanwhile.
 */
class FdWriter {
  readonly #fd: number;
  readonly #queue: Buffer[] = [];
  #busy = false;
  #failed = false;
  #onError?: (err: Error) => void;
  #onIdle?: () => void;
  writableLength = 0;

  constructor(fd: number) {
    this.#fd = fd;
  }

  on(_event: 'error', cb: (err: Error) => void): this {
    this.#onError = cb;
    return this;
  }

  write(batch: string): boolean {
    const b = Buffer.from(batch);
    this.#queue.push(b);
    this.writableLength += b.length;
    this.#pump();
    return true;
  }

  /** `cb` once every queued batch is written (or the descriptor failed); the descriptor stays open. */
  end(cb?: () => void): this {
    if (this.#failed || this.writableLength === 0) cb?.();
    else this.#onIdle = cb;
    return this;
  }

  #pump(): void {
    if (this.#busy || this.#failed) return;
    const b = this.#queue[0];
    if (!b) {
      const idle = this.#onIdle;
      this.#onIdle = undefined;
      return idle?.();
    }
    this.#busy = true;
    fsWrite(this.#fd, b, 0, b.length, null, (err, n) => {
      this.#busy = false;
      if (err?.code === 'EAGAIN') return void setTimeout(() => this.#pump(), 10);
      if (err) {
        this.#failed = true;
        this.#onError?.(err);
        const idle = this.#onIdle;
        this.#onIdle = undefined;
        return idle?.();
      }
      this.writableLength -= n;
      if (n < b.length) this.#queue[0] = b.subarray(n);
      else this.#queue.shift();
      this.#pump();
    });
  }
}

function toOut(target: LogTarget): Out {
  if (typeof target === 'number') return new FdWriter(target) as unknown as Out;
  return {
    write: (batch: string) => { target(batch); return true; },
    writableLength: 0, on: () => undefined, end: (cb?: () => void) => { cb?.(); },
  } as unknown as Out;
}

class BatchedLines {
  readonly #stream: Out;
  readonly #timer: NodeJS.Timeout;
  #lines: string[] = [];
  #chars = 0;
  #failed = false;
  #closed = false;
  dropped = 0;

  constructor(target: LogTarget, onError: (err: Error) => void) {
    this.#stream = toOut(target);
    this.#stream.on('error', (err) => {
      // EPIPE (the reader went away), EBADF...: stop writing; the proxy keeps serving.
      if (!this.#failed) onError(err);
      this.#failed = true;
    });
    this.#timer = setInterval(() => this.flush(), FLUSH_MS);
    this.#timer.unref();
  }

  write(line: string): void {
    // After close() (shutdown) a late record has nowhere to go; count it rather than write after end.
    if (this.#failed || this.#closed || this.#chars + this.#stream.writableLength > MAX_BACKLOG_CHARS) {
      this.dropped++;
      return;
    }
    this.#lines.push(line);
    this.#chars += line.length;
    if (this.#chars >= BATCH_CHARS) this.flush();
  }

  flush(): void {
    if (this.#chars === 0) return;
    const batch = this.#lines.length === 1 ? this.#lines[0]! : this.#lines.join('');
    this.#lines = [];
    this.#chars = 0;
    if (!this.#failed) this.#stream.write(batch);
  }

  /** Writes what is queued; gives up after `timeoutMs` so a stalled stdout cannot hold up shutdown. */
  close(timeoutMs = 2000): Promise<void> {
    clearInterval(this.#timer);
    this.flush();
    this.#closed = true;
    if (this.#failed) return Promise.resolve();
    // autoClose is off: end() drains the queued writes and leaves the descriptor (stdout) open.
    return endWithin(this.#stream, timeoutMs);
  }
}

/** stream.end(), resolved when the queued writes are out or after `timeoutMs`, whichever is first. */
export function endWithin(stream: { end(cb: () => void): unknown }, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, timeoutMs);
    t.unref();
    stream.end(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** `onError` hears once that the destination failed (then lines are dropped and counted). */
export function createAccessLog(format: AccessLogFormat, target: LogTarget = 1, onError: (err: Error) => void = () => {}): AccessLog {
  if (format === 'off') return { write() {}, close: () => Promise.resolve(), dropped: 0 };
  const out = new BatchedLines(target, onError);
  const line = format === 'text' ? textLine : jsonLine;
  return {
    write: (r) => out.write(line(r)),
    close: () => out.close(),
    get dropped() { return out.dropped; },
  };
}
