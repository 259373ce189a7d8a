// A span's ids and times from its request record, without the SDK or sockets: which incoming
// traceparent is honoured (W3C Trace Context), forwarded vs locally answered requests, and
// sub-millisecond times that stay in the record's millisecond. Also: records carry no trace
// capture unless spans are exported.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { finishRecord, newRecord, type RecordStart } from '../../src/dataplane/record.ts';
import type { RequestRecord, TraceCapture } from '../../src/telemetry/record.ts';
import { parseTraceparent, spanIds, spanTimes } from '../../src/telemetry/trace-context.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const OURS = 'a1b2c3d4e5f60718';
const START: RecordStart = { kind: 'http', method: 'GET', path: '/', protocol: 'HTTP/1.1', authority: 'api.test', userAgent: '', requestId: '', local: '', remote: '' };

function record(extra: Partial<RequestRecord> = {}): RequestRecord {
  return { ...newRecord(START), ...extra };
}

function capture(traceparent: string, tracestate = '', startMs = 0, endMs = 0): TraceCapture {
  return { traceparent, tracestate, startMs, endMs };
}

/** Deterministic stand-in for random ids: 'ab' bytes for a span id, 'cd' for a trace id. */
const fresh = (n: number) => (n === 8 ? 'ab' : 'cd').repeat(n);

describe('parseTraceparent', () => {
  test('a valid version 00 header, sampled or not, surrounding whitespace ignored', () => {
    assert.deepEqual(parseTraceparent(`00-${TRACE}-${PARENT}-01`), { traceId: TRACE, parentId: PARENT, sampled: true });
    assert.deepEqual(parseTraceparent(` 00-${TRACE}-${PARENT}-00 `), { traceId: TRACE, parentId: PARENT, sampled: false });
    assert.equal(parseTraceparent(`00-${TRACE}-${PARENT}-03`)?.sampled, true); // other flag bits ignored
  });

  test('invalid headers are ignored: all-zero ids, upper case, wrong shape, other versions, a repeated header', () => {
    for (const v of [
      '', `00-${'0'.repeat(32)}-${PARENT}-01`, `00-${TRACE}-${'0'.repeat(16)}-01`, `00-${TRACE.toUpperCase()}-${PARENT}-01`,
      `00-${TRACE}-${PARENT}`, `00-${TRACE}-${PARENT}-01-extra`, `ff-${TRACE}-${PARENT}-01`, `00-${TRACE.slice(1)}-${PARENT}-01`,
      `00-${TRACE}-${PARENT}-01, 00-${TRACE}-${PARENT}-01`,
    ]) assert.equal(parseTraceparent(v), undefined, v);
  });
});

describe('spanIds', () => {
  test('forwarded, continuing the client trace: the span id is the parent-id sent upstream', () => {
    const r = record({ traceparent: `00-${TRACE}-${OURS}-01`, parentSpanId: PARENT, trace: capture(`00-${TRACE}-${PARENT}-01`, 'congo=t61') });
    assert.deepEqual(spanIds(r, fresh), { traceId: TRACE, spanId: OURS, parentSpanId: PARENT, sampled: true, tracestate: 'congo=t61' });
  });

  test('forwarded as a new root (no valid client context): no parent, no tracestate', () => {
    const r = record({ traceparent: `00-${TRACE}-${OURS}-01`, parentSpanId: '', trace: capture('garbage', 'congo=stale') });
    assert.deepEqual(spanIds(r, fresh), { traceId: TRACE, spanId: OURS, parentSpanId: '', sampled: true, tracestate: '' });
  });

  test('answered locally: a child of the client span, with a new span id and the client tracestate', () => {
    const r = record({ trace: capture(`00-${TRACE}-${PARENT}-01`, 'congo=t61') });
    assert.deepEqual(spanIds(r, fresh), { traceId: TRACE, spanId: 'ab'.repeat(8), parentSpanId: PARENT, sampled: true, tracestate: 'congo=t61' });
    assert.equal(spanIds(record({ trace: capture(`00-${TRACE}-${PARENT}-00`) }), fresh).sampled, false);
  });

  test('answered locally without a valid traceparent: a new root trace, tracestate dropped', () => {
    const root = { traceId: 'cd'.repeat(16), spanId: 'ab'.repeat(8), parentSpanId: '', sampled: true, tracestate: '' };
    assert.deepEqual(spanIds(record({ trace: capture('', '') }), fresh), root);
    assert.deepEqual(spanIds(record({ trace: capture(`00-${'0'.repeat(32)}-${PARENT}-01`, 'congo=stale') }), fresh), root);
    assert.deepEqual(spanIds(record(), fresh), root); // a record built without capture
  });
});

describe('spanTimes', () => {
  const startTime = 1_700_000_000_123; // epoch ms, as Date.now() read it
  const timeOrigin = 1_700_000_000_000.25; // performance.timeOrigin: startMs 123.5 is startTime + 0.75 ms

  test('sub-millisecond start in the record\'s millisecond, monotonic duration', () => {
    const r = record({ startTime, durationMs: 3, trace: capture('', '', 123.5, 126.75) });
    assert.deepEqual(spanTimes(r, timeOrigin), { start: [1_700_000_000, 123_750_000], end: [1_700_000_000, 127_000_000] });
  });

  test('a wall clock stepped since the process started: the start is held inside startTime\'s millisecond', () => {
    const late = record({ startTime, durationMs: 0, trace: capture('', '', 5000, 5000.5) });
    assert.deepEqual(spanTimes(late, timeOrigin), { start: [1_700_000_000, 123_999_999], end: [1_700_000_000, 124_499_999] });
    const early = record({ startTime, durationMs: 0, trace: capture('', '', 1, 1.25) });
    assert.deepEqual(spanTimes(early, timeOrigin).start, [1_700_000_000, 123_000_000]);
  });

  test('the end carries into the next second; long tunnels keep nanosecond arithmetic exact', () => {
    const r = record({ startTime: 1_700_000_000_999, trace: capture('', '', 999.25, 999.25 + 3_600_000.125) });
    assert.deepEqual(spanTimes(r, timeOrigin), { start: [1_700_000_000, 999_500_000], end: [1_700_003_600, 999_625_000] });
  });

  test('without capture (or before the record finished): the millisecond times', () => {
    assert.deepEqual(spanTimes(record({ startTime, durationMs: 7 }), timeOrigin), { start: [1_700_000_000, 123_000_000], end: [1_700_000_000, 130_000_000] });
    const unfinished = record({ startTime, durationMs: 7, trace: capture('', '', 123.5, NaN) });
    assert.deepEqual(spanTimes(unfinished, timeOrigin).end, [1_700_000_000, 130_000_000]);
  });
});

describe('trace capture on records', () => {
  test('only records of a waypoint that exports spans carry it; finishing one reads the clock', () => {
    assert.equal('trace' in newRecord(START), false);
    const r = newRecord({ ...START, traced: true, traceHeaders: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: ['a=1', 'b=2'] } });
    assert.equal(r.trace?.traceparent, `00-${TRACE}-${PARENT}-01`);
    assert.equal(r.trace?.tracestate, 'a=1,b=2');
    assert.ok(Number.isNaN(r.trace?.endMs));
    finishRecord(r, () => {});
    assert.ok(r.trace!.endMs >= r.trace!.startMs);
    assert.deepEqual(newRecord({ ...START, traced: true }).trace?.traceparent, '');
  });
});
