// W3C Trace Context at the waypoint: traceparent/tracestate pass through; one is started when absent
// or invalid. Unit-level on forwardRequestHeaders, plus one request end to end.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { forwardRequestHeaders } from '../../src/dataplane/headers.ts';
import { curl } from '../helpers/curl.ts';
import { startInProcess, WAYPOINT_YAML, type InProcess, loopbackEntry } from '../helpers/inprocess.ts';
import { startHttpUpstream, type EchoBody, type HttpUpstream } from '../helpers/upstream.ts';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const valid = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

function get(headers: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === name) out.push(headers[i + 1]!);
  return out;
}

describe('traceparent', () => {
  test('a valid traceparent and its tracestate pass through unchanged', () => {
    const f = forwardRequestHeaders(['traceparent', TP, 'tracestate', 'congo=t61rcWkgMzE'], 'api.test');
    assert.deepEqual(get(f.headers, 'traceparent'), [TP]);
    assert.deepEqual(get(f.headers, 'tracestate'), ['congo=t61rcWkgMzE']);
    assert.equal(f.traceparent, TP);
  });

  test('absent or invalid: a new sampled root is started', () => {
    for (const raw of [[], ['traceparent', 'garbage'], ['traceparent', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`]]) {
      const f = forwardRequestHeaders(raw, 'api.test');
      const tp = get(f.headers, 'traceparent');
      assert.equal(tp.length, 1, JSON.stringify(f.headers));
      assert.match(tp[0]!, valid);
      assert.equal(f.traceparent, tp[0]);
    }
    assert.notEqual(forwardRequestHeaders([], 'a').traceparent, forwardRequestHeaders([], 'a').traceparent);
  });

  test('regression: an invalid traceparent is replaced and the tracestate that came with it dropped', () => {
    for (const raw of [
      ['tracestate', 'congo=t61rcWkgMzE', 'traceparent', 'garbage', 'accept', '*/*', 'tracestate', 'rojo=00f067aa0ba902b7'],
      ['tracestate', 'congo=t61rcWkgMzE'],
    ]) {
      const f = forwardRequestHeaders(raw, 'api.test');
      assert.deepEqual(get(f.headers, 'tracestate'), []);
      assert.match(get(f.headers, 'traceparent')[0]!, valid);
      assert.deepEqual(get(f.headers, 'accept'), raw.includes('accept') ? ['*/*'] : []);
    }
  });

  test('ownSpan (span export on): the trace continues with the waypoint span as the upstream parent', () => {
    const f = forwardRequestHeaders(['traceparent', TP, 'tracestate', 'congo=t61rcWkgMzE'], 'api.test', false, true);
    const [tp] = get(f.headers, 'traceparent');
    assert.equal(get(f.headers, 'traceparent').length, 1);
    assert.match(tp!, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    assert.notEqual(tp, TP);
    assert.equal(f.traceparent, tp);
    assert.equal(f.parentSpanId, '00f067aa0ba902b7');
    assert.deepEqual(get(f.headers, 'tracestate'), ['congo=t61rcWkgMzE']);
    const root = forwardRequestHeaders([], 'api.test', false, true);
    assert.equal(root.parentSpanId, '');
    assert.equal(forwardRequestHeaders(['traceparent', TP], 'api.test').parentSpanId, '');
  });
});

describe('traceparent end to end', () => {
  let up: HttpUpstream;
  let wp: InProcess;
  before(async () => {
    up = await startHttpUpstream();
    wp = await startInProcess(WAYPOINT_YAML
      + loopbackEntry('api', up.port));
  });
  after(async () => {
    await wp?.close();
    await up?.close();
  });

  test('the upstream sees the client traceparent, or a new one', async () => {
    const kept = JSON.parse((await curl(['-x', wp.proxyUrl, '-H', `traceparent: ${TP}`, 'http://api.test/t'])).stdout) as EchoBody;
    assert.equal(kept.headers.traceparent, TP);
    const started = JSON.parse((await curl(['-x', wp.proxyUrl, 'http://api.test/t'])).stdout) as EchoBody;
    assert.match(String(started.headers.traceparent), valid);
  });
});
