// The exported span's place in its trace and its times, from a finished RequestRecord. W3C Trace
// Context level 1 decides which incoming context is valid; Envoy decides the shape: its span for a
// request is a child of a valid incoming context, whether the request was forwarded or answered
// locally, and the root of a new trace otherwise. PURE (randomness comes in as `fresh`).
import type { RequestRecord } from './record.ts';

/** A version 00 traceparent: lower-case hex, all-zero trace or parent ids invalid (W3C §3.2.2). */
export const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

export interface IncomingContext {
  readonly traceId: string;
  readonly parentId: string;
  readonly sampled: boolean;
}

/** The client's context, or undefined when the header is absent or invalid (then a new trace starts). */
export function parseTraceparent(value: string): IncomingContext | undefined {
  const v = value.trim();
  if (!TRACEPARENT.test(v)) return undefined;
  return { traceId: v.slice(3, 35), parentId: v.slice(36, 52), sampled: sampledFlag(v) };
}

export interface SpanIds {
  readonly traceId: string;
  readonly spanId: string;
  /** '' for a root span. */
  readonly parentSpanId: string;
  /** false: the client's trace is not sampled, so the span is not exported (ParentBased sampling). */
  readonly sampled: boolean;
  /** The client's tracestate; only ever with its valid traceparent (W3C §3.3), else ''. */
  readonly tracestate: string;
}

/** `fresh(n)`: n random bytes as hex, not all zero (a span id is 8 bytes, a trace id 16). */
export function spanIds(r: RequestRecord, fresh: (bytes: number) => string): SpanIds {
  const sent = r.traceparent;
  // Forwarded: the traceparent sent upstream carries our span id as its parent-id (headers.ts), so
  // the upstream's spans hang under ours. It continues the client's trace when parentSpanId is set.
  if (sent) {
    const parentSpanId = r.parentSpanId ?? '';
    return { traceId: sent.slice(3, 35), spanId: sent.slice(36, 52), parentSpanId, sampled: sampledFlag(sent), tracestate: parentSpanId ? r.trace?.tracestate ?? '' : '' };
  }
  // Answered locally, or a tunnel: nothing went upstream, so the span id is new.
  const client = r.trace?.traceparent ? parseTraceparent(r.trace.traceparent) : undefined;
  if (client) return { traceId: client.traceId, spanId: fresh(8), parentSpanId: client.parentId, sampled: client.sampled, tracestate: r.trace!.tracestate };
  return { traceId: fresh(16), spanId: fresh(8), parentSpanId: '', sampled: true, tracestate: '' };
}

function sampledFlag(traceparent: string): boolean {
  return (parseInt(traceparent.slice(53, 55), 16) & 1) === 1;
}

/** [seconds, nanoseconds] since the epoch, as OpenTelemetry's HrTime. */
export type HrTime = [number, number];

const MAX_SUB_MS_NS = 999_999;

/**
 * Span start and end. With the record's performance.now() readings (TraceCapture) they are
 * sub-millisecond; without, the millisecond startTime and durationMs.
 *
 * The monotonic start is placed on the epoch with `timeOrigin` (performance.timeOrigin), then kept
 * inside the millisecond that Date.now() read at the same instant (record.startTime). That is exact
 * unless the wall clock was stepped since the process started (the monotonic clock is not), and
 * then still within 1 ms of it, as the access log's start_time is. The duration is the monotonic one.
 */
export function spanTimes(r: RequestRecord, timeOrigin: number): { start: HrTime; end: HrTime } {
  const t = r.trace;
  if (!t || !(t.endMs >= t.startMs)) return { start: hrTime(r.startTime, 0), end: hrTime(r.startTime + r.durationMs, 0) };
  const subMs = Math.round((timeOrigin - r.startTime + t.startMs) * 1e6);
  const start = hrTime(r.startTime, Math.min(Math.max(subMs, 0), MAX_SUB_MS_NS));
  return { start, end: addNanos(start, Math.round((t.endMs - t.startMs) * 1e6)) };
}

/** Integer epoch milliseconds plus nanoseconds below 1 ms. */
function hrTime(ms: number, ns: number): HrTime {
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6 + ns];
}

function addNanos(t: HrTime, ns: number): HrTime {
  const total = t[1] + ns;
  return [t[0] + Math.floor(total / 1e9), total % 1e9];
}
