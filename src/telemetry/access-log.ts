// Access log: one line per request or tunnel, in Istio's JSON keys (EnvoyJSONLogFormatIstio) or
// Istio's default TEXT format, written in batches so a slow stdout never blocks the event loop.
//
// Hot path (the log is on by default, so every request pays for it):
// - JSON lines come from a fixed field table with the `"key":` prefixes built once; only values are
//   encoded per request, strings through JSON.stringify (V8's fast path escapes them exactly).
// - start_time's ISO string is computed once per millisecond, not once per request.
// - Lines are queued in an array and joined into one string per batch, which goes out as a single
//   asynchronous write on a node:fs WriteStream (it handles partial writes and ordering). Why not
//   pino.destination (sonic-boom): it measures the pending batch with Buffer.byteLength on every
//   line, so each line cost O(batch) and the JSON log took a quarter of saturation throughput.
import { createWriteStream, type WriteStream } from 'node:fs';
import type { RequestRecord } from './record.ts';

export type AccessLogFormat = 'json' | 'text' | 'off';

export interface AccessLog {
  write(r: RequestRecord): void;
  /** Writes what is queued and waits for it to reach the file descriptor (shutdown). */
  close(): Promise<void>;
  /** Lines dropped because the destination fell too far behind or failed. */
  readonly dropped: number;
}

type Value = string | number | null;

/** Istio's JSON keys in Istio's order; extras only when set, so Istio's keys stay as they are. */
const FIELDS: readonly (readonly [key: string, get: (r: RequestRecord) => Value])[] = [
  ['start_time', (r) => isoTime(r.startTime)],
  ['route_name', (r) => r.routeName || null],
  ['method', (r) => r.method || null],
  ['path', (r) => r.path || null],
  ['protocol', (r) => r.protocol],
  ['response_code', (r) => r.responseCode],
  ['response_flags', (r) => r.responseFlags],
  ['response_code_details', (r) => r.responseCodeDetails || null],
  ['connection_termination_details', (r) => r.connectionTerminationDetails || null],
  ['bytes_received', (r) => r.bytesReceived],
  ['bytes_sent', (r) => r.bytesSent],
  ['duration', (r) => r.durationMs],
  ['upstream_service_time', (r) => (r.upstreamServiceTimeMs === null ? null : String(r.upstreamServiceTimeMs))],
  ['x_forwarded_for', (r) => r.xForwardedFor || null],
  ['user_agent', (r) => r.userAgent || null],
  ['request_id', (r) => r.requestId || null],
  ['authority', (r) => r.authority || null],
  ['upstream_host', (r) => r.upstreamHost || null],
  ['upstream_cluster', (r) => r.upstreamCluster || null],
  ['upstream_local_address', (r) => r.upstreamLocalAddress || null],
  ['downstream_local_address', (r) => r.downstreamLocalAddress || null],
  ['downstream_remote_address', (r) => r.downstreamRemoteAddress || null],
  ['requested_server_name', (r) => r.requestedServerName || null],
  ['upstream_transport_failure_reason', (r) => r.upstreamTransportFailureReason || null],
];

const PREFIXES = FIELDS.map(([key], i) => `${i === 0 ? '{' : ','}${JSON.stringify(key)}:`);

function encode(v: Value): string {
  return typeof v === 'string' ? JSON.stringify(v) : v === null ? 'null' : String(v);
}

/** One access-log line in Istio's JSON format, newline included. */
export function jsonLine(r: RequestRecord): string {
  let s = '';
  for (let i = 0; i < FIELDS.length; i++) s += PREFIXES[i]! + encode(FIELDS[i]![1](r));
  // Egressway's authorization extras.
  if (r.dryRunResult) s += `,"dry_run_result":"${r.dryRunResult === 'deny' ? 'would_deny' : 'allow'}","dry_run_policy":${JSON.stringify(r.dryRunPolicy ?? 'none')}`;
  if (r.auditPolicy) s += `,"audit_policy":${JSON.stringify(r.auditPolicy)}`;
  if (r.requestPrincipal) s += `,"request_principal":${JSON.stringify(r.requestPrincipal)}`;
  return `${s}}\n`;
}

let lastMs = Number.NaN;
let lastIso = '';

/** ISO 8601 time of an epoch-ms instant; requests in the same millisecond share the string. */
function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
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

class BatchedLines {
  readonly #stream: WriteStream;
  readonly #timer: NodeJS.Timeout;
  #lines: string[] = [];
  #chars = 0;
  #failed = false;
  dropped = 0;

  constructor(fd: number, onError: (err: Error) => void) {
    this.#stream = createWriteStream('', { fd, autoClose: false });
    this.#stream.on('error', (err) => {
      // EPIPE (the reader went away), EBADF...: stop writing; the proxy keeps serving.
      if (!this.#failed) onError(err);
      this.#failed = true;
    });
    this.#timer = setInterval(() => this.flush(), FLUSH_MS);
    this.#timer.unref();
  }

  write(line: string): void {
    if (this.#failed || this.#chars + this.#stream.writableLength > MAX_BACKLOG_CHARS) {
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
    if (this.#failed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      t.unref();
      // autoClose is off: end() drains the queued writes and leaves the descriptor (stdout) open.
      this.#stream.end(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

/** `onError` hears once that the destination failed (then lines are dropped and counted). */
export function createAccessLog(format: AccessLogFormat, fd = 1, onError: (err: Error) => void = () => {}): AccessLog {
  if (format === 'off') return { write() {}, close: () => Promise.resolve(), dropped: 0 };
  const out = new BatchedLines(fd, onError);
  const line = format === 'text' ? textLine : jsonLine;
  return {
    write: (r) => out.write(line(r)),
    close: () => out.close(),
    get dropped() { return out.dropped; },
  };
}
