// Span export over OTLP/HTTP (JSON) with the OpenTelemetry JS SDK: one SERVER span per request or
// tunnel, built from its RequestRecord when it ends. server.ts imports this module only when
// --otlp-endpoint is set, so without it no SDK module is loaded and the sink pays nothing.
//
// The ids are not the SDK's: a forwarded request's span id already went upstream as the traceparent
// parent-id, and a span continues the client's trace whether or not the request was forwarded
// (trace-context.ts). A preset IdGenerator hands the SDK those ids; startSpan() reads them
// synchronously, once per span. Times are the record's, sub-millisecond (spanTimes).
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createTraceState, ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type IdGenerator, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_NAMESPACE, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from './logger.ts';
import type { RequestRecord } from './record.ts';
import { spanAttributes, spanFailed, spanName } from './span-attributes.ts';
import { spanIds, spanTimes } from './trace-context.ts';

export interface OtlpOptions {
  /** Collector base URL (`http://127.0.0.1:4318`); `/v1/traces` is appended unless the path names one. */
  readonly endpoint: string;
  /** The waypoint, as Istio names a proxy's service: `<name>.<namespace>`. */
  readonly serviceName: string;
  readonly serviceNamespace: string;
  readonly serviceVersion: string;
  readonly log: Logger;
  /** BatchSpanProcessor delay between exports (default 1 s). */
  readonly scheduledDelayMs?: number;
}

export interface SpanExport {
  /** The export URL actually used. */
  readonly url: string;
  /** Queues the record's span; never waits on the network (the batch drops spans when its queue is full). */
  record(r: RequestRecord): void;
  /** Flushes queued spans, waiting at most `timeoutMs`, then stops. */
  shutdown(timeoutMs: number): Promise<void>;
}

// Sized for a busy waypoint: 8192 spans is about 8 s of 1k RPS if the collector stalls.
const MAX_QUEUE = 8192;
const MAX_BATCH = 512;
const WARN_EVERY_MS = 60_000;

export function tracesUrl(endpoint: string): string {
  const u = new URL(endpoint);
  if (!/\/v1\/traces\/?$/.test(u.pathname)) u.pathname = `${u.pathname.replace(/\/$/, '')}/v1/traces`;
  return u.toString();
}

export function startOtlpExport(o: OtlpOptions): SpanExport {
  const url = tracesUrl(o.endpoint);
  const ids = { traceId: '', spanId: '' };
  const idGenerator: IdGenerator = { generateTraceId: () => ids.traceId, generateSpanId: () => ids.spanId };
  const provider = new BasicTracerProvider({
    idGenerator,
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: o.serviceName, [ATTR_SERVICE_NAMESPACE]: o.serviceNamespace, [ATTR_SERVICE_VERSION]: o.serviceVersion,
    }),
    spanProcessors: [new BatchSpanProcessor(warnOnFailure(new OTLPTraceExporter({ url }), url, o.log), {
      maxQueueSize: MAX_QUEUE, maxExportBatchSize: MAX_BATCH, scheduledDelayMillis: o.scheduledDelayMs ?? 1000,
    })],
  });
  const tracer = provider.getTracer('egressway', o.serviceVersion);
  const exportSpan = (r: RequestRecord) => {
    const t = spanIds(r, freshHex);
    if (!t.sampled) return; // the client's trace is not sampled: ParentBased, as Envoy's OTel tracer does
    ids.traceId = t.traceId;
    ids.spanId = t.spanId;
    // The span inherits the remote parent's tracestate, as Envoy's does.
    const parent = t.parentSpanId
      ? trace.setSpanContext(ROOT_CONTEXT, {
        traceId: t.traceId, spanId: t.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true,
        traceState: t.tracestate ? createTraceState(t.tracestate) : undefined,
      })
      : ROOT_CONTEXT;
    const time = spanTimes(r, performance.timeOrigin);
    const span = tracer.startSpan(spanName(r), { kind: SpanKind.SERVER, startTime: time.start, attributes: spanAttributes(r) as Attributes }, parent);
    if (spanFailed(r)) span.setStatus({ code: SpanStatusCode.ERROR, message: r.responseCodeDetails || r.responseFlags });
    span.end(time.end);
  };
  return {
    url,
    record(r) {
      try {
        exportSpan(r);
      } catch (err) {
        // The sink runs in the request's close handler: a tracing bug must not take the proxy down.
        o.log.warn({ err: (err as Error).message }, 'span not exported: internal error in the OpenTelemetry SDK path');
      }
    },
    async shutdown(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); });
      await Promise.race([provider.shutdown().catch(() => {}), late]);
      clearTimeout(timer);
    },
  };
}

/** Random ids for new spans and traces; an all-zero id is invalid (W3C), so it is redrawn. */
function freshHex(bytes: number): string {
  for (;;) {
    const hex = randomBytes(bytes).toString('hex');
    if (!/^0+$/.test(hex)) return hex;
  }
}

/** The SDK reports export failures only to its diag logger: say it in ours, at most once a minute. */
function warnOnFailure(inner: SpanExporter, url: string, log: Logger): SpanExporter {
  let warnedAt = 0;
  return {
    export(spans, done) {
      inner.export(spans, (result) => {
        const now = Date.now();
        // ExportResultCode.SUCCESS is 0 (@opentelemetry/core, not a direct dependency).
        if (result.code !== 0 && now - warnedAt >= WARN_EVERY_MS) {
          warnedAt = now;
          log.warn({ url, spans: spans.length, err: result.error?.message }, `OTLP span export to ${url} failed; these spans are dropped and requests are unaffected. Is the collector listening (OTLP/HTTP, usually port 4318)?`);
        }
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}
