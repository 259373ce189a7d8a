// OTLP span export (--otlp-endpoint) against a local OTLP/HTTP receiver that decodes the JSON it gets:
// span name, ids that match the traceparent the upstream saw, local replies joining the client's
// trace, sub-millisecond times, status and attributes. Also: without the flag no OpenTelemetry
// module is loaded at all.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { authorizationPolicy, serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess, loopbackEntry } from '../helpers/inprocess.ts';
import { startHttpUpstream, type EchoBody, type HttpUpstream } from '../helpers/upstream.ts';
import { REPO_ROOT } from '../helpers/waypoint.ts';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_PARENT = '00f067aa0ba902b7';
const TP = `00-${CLIENT_TRACE}-${CLIENT_PARENT}-01`;

interface OtlpValue { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number }
interface OtlpAttr { key: string; value: OtlpValue }
interface OtlpSpan {
  traceId: string; spanId: string; parentSpanId?: string; traceState?: string; name: string; kind: number;
  startTimeUnixNano: string | number; endTimeUnixNano: string | number;
  attributes: OtlpAttr[]; status?: { code?: number; message?: string };
}
interface OtlpRequest { resourceSpans: { resource: { attributes: OtlpAttr[] }; scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[] }[] }

export interface DecodedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly traceState: string;
  readonly name: string;
  readonly kind: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly durationNs: bigint;
  readonly status: number;
  readonly attrs: Record<string, string | number | boolean>;
  readonly resource: Record<string, string | number | boolean>;
  readonly scope: string;
}

function flat(attrs: OtlpAttr[] = []): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const a of attrs) {
    const v = a.value;
    out[a.key] = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.boolValue ?? v.doubleValue ?? '';
  }
  return out;
}

/** An OTLP/HTTP trace receiver (JSON encoding) on loopback that keeps every decoded span. */
async function startReceiver(): Promise<{ url: string; spans: DecodedSpan[]; contentTypes: string[]; server: Server }> {
  const spans: DecodedSpan[] = [];
  const contentTypes: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
      contentTypes.push(String(req.headers['content-type']));
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpRequest;
      for (const rs of body.resourceSpans) {
        const resource = flat(rs.resource.attributes);
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            spans.push({
              traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', traceState: s.traceState ?? '', name: s.name, kind: s.kind,
              startNs: BigInt(s.startTimeUnixNano), endNs: BigInt(s.endTimeUnixNano),
              durationNs: BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano),
              status: s.status?.code ?? 0, attrs: flat(s.attributes), resource, scope: ss.scope.name,
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, contentTypes, server };
}

async function waitFor<T>(what: string, get: () => T | undefined, timeoutMs = 8000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function parseTp(tp: string): { traceId: string; parentId: string; flags: string } {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(tp);
  assert.ok(m, `not a traceparent: ${tp}`);
  return { traceId: m[1]!, parentId: m[2]!, flags: m[3]! };
}

describe('OTLP span export', () => {
  let up: HttpUpstream;
  let wp: InProcess;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    rx = await startReceiver();
    up = await startHttpUpstream();
    wp = await startInProcess(WAYPOINT_YAML
      + loopbackEntry('api', up.port)
      + loopbackEntry('guarded', up.port)
      + authorizationPolicy('guarded-deny', 'guarded', 'action: DENY\nrules: [{to: [{operation: {paths: ["/admin*"]}}]}]\n')
      + serviceEntry('raw', `hosts: [raw.test]\nports: [{number: 9000, name: tcp, protocol: TCP, targetPort: ${up.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`),
    { otlpEndpoint: rx.url });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    await new Promise((r) => rx?.server.close(r));
  });

  test('a continued trace: same trace id, the client parent as parent, our span id as the upstream parent', async () => {
    const r = await curl(['-x', wp.proxyUrl, '-H', `traceparent: ${TP}`, '-H', 'tracestate: congo=t61rcWkgMzE', '-A', 'otlp-test/1', 'http://api.test/t?x=1']);
    assert.equal(r.status, 200, r.stderr);
    const seen = JSON.parse(r.stdout) as EchoBody;
    const tp = parseTp(String(seen.headers.traceparent));
    assert.equal(tp.traceId, CLIENT_TRACE);
    assert.notEqual(tp.parentId, CLIENT_PARENT, 'the upstream must see the waypoint span as parent');
    assert.equal(tp.flags, '01');
    assert.equal(seen.headers.tracestate, 'congo=t61rcWkgMzE');
    const span = await waitFor('the span', () => rx.spans.find((s) => s.traceId === CLIENT_TRACE));
    assert.equal(span.spanId, tp.parentId);
    assert.equal(span.parentSpanId, CLIENT_PARENT);
    assert.equal(span.name, 'api.test:80/*');
    assert.equal(span.kind, 2); // SPAN_KIND_SERVER
    assert.equal(span.status, 0); // unset: success
    assert.ok(span.durationNs > 0n);
    assert.equal(span.scope, 'egressway');
    assert.deepEqual(
      { ...span.attrs, 'network.peer.port': 0, 'guid:x-request-id': '', request_size: 0, response_size: 0 },
      {
        'http.request.method': 'GET', 'url.scheme': 'http', 'url.path': '/t', 'url.query': 'x=1',
        'server.address': 'api.test', 'server.port': 80, 'http.response.status_code': 200,
        'network.protocol.name': 'http', 'network.protocol.version': '1.1', 'network.transport': 'tcp',
        'network.peer.address': '127.0.0.1', 'network.peer.port': 0, 'user_agent.original': 'otlp-test/1',
        component: 'proxy', upstream_cluster: 'inbound-vip|80|http|api.test', response_flags: '-',
        response_code_details: 'via_upstream', upstream_address: `127.0.0.1:${up.port}`,
        'guid:x-request-id': '', request_size: 0, response_size: 0, 'istio.destination_service': 'api.test',
      },
    );
    assert.equal(span.attrs['guid:x-request-id'], seen.headers['x-request-id']);
    assert.equal(span.resource['service.name'], 'waypoint.istio-egress');
    assert.equal(span.resource['service.namespace'], 'istio-egress');
    assert.ok(rx.contentTypes.every((c) => c.startsWith('application/json')), rx.contentTypes.join());
  });

  test('no or invalid traceparent: a new root span, its ids in the traceparent the upstream saw, tracestate dropped', async () => {
    for (const extra of [[], ['-H', 'traceparent: 00-garbage-01', '-H', 'tracestate: congo=stale']]) {
      const r = await curl(['-x', wp.proxyUrl, ...extra, 'http://api.test/root']);
      const seen = JSON.parse(r.stdout) as EchoBody;
      const tp = parseTp(String(seen.headers.traceparent));
      assert.equal(seen.headers.tracestate, undefined);
      const span = await waitFor('the root span', () => rx.spans.find((s) => s.traceId === tp.traceId));
      assert.equal(span.spanId, tp.parentId);
      assert.equal(span.parentSpanId, '');
      assert.equal(span.attrs['url.path'], '/root');
    }
  });

  test('upstream 503: status ERROR and error.type', async () => {
    const r = await curl(['-x', wp.proxyUrl, '-H', `traceparent: 00-${'a'.repeat(32)}-${CLIENT_PARENT}-01`, 'http://api.test/status/503']);
    assert.equal(r.status, 503);
    const span = await waitFor('the 503 span', () => rx.spans.find((s) => s.traceId === 'a'.repeat(32)));
    assert.equal(span.status, 2); // STATUS_CODE_ERROR
    assert.equal(span.attrs['http.response.status_code'], 503);
    // Istio's default retry policy retries a 503 twice; Envoy then flags the response URX, and the
    // response flag is the error type when there is one.
    assert.equal(span.attrs['response_flags'], 'URX');
    assert.equal(span.attrs['error.type'], 'URX');
  });

  test('a refused host and a CONNECT tunnel get spans too, with their response flags', async () => {
    const nr = await curl(['-x', wp.proxyUrl, 'http://denied.test/x']);
    assert.equal(nr.status, 502);
    const refused = await waitFor('the NR span', () => rx.spans.find((s) => s.attrs['response_flags'] === 'NR'));
    assert.equal(refused.status, 2);
    assert.equal(refused.attrs['error.type'], 'NR');
    assert.equal(refused.attrs['server.address'], 'denied.test');
    const t = await curl(['-p', '-x', wp.proxyUrl, 'http://raw.test:9000/tunnelled']);
    assert.equal(t.status, 200, t.stderr);
    const tunnel = await waitFor('the tunnel span', () => rx.spans.find((s) => s.attrs['http.request.method'] === 'CONNECT'));
    assert.equal(tunnel.name, 'raw.test:9000/*');
    assert.equal(tunnel.attrs['upstream_cluster'], 'inbound-vip|9000|tcp|raw.test');
    assert.equal(tunnel.attrs['server.port'], 9000);
    assert.equal(tunnel.attrs['url.path'], undefined);
  });

  // Envoy's span for a request it answers itself is a child of the incoming context, like a forwarded one's.
  test('local replies (502 NR, 403 RBAC, a refused CONNECT) join the client trace under its parent, with span ids of their own', async () => {
    const cases = [
      { trace: 'd1'.repeat(16), args: ['http://nowhere.test/x'], status: 502, flags: 'NR' },
      { trace: 'd2'.repeat(16), args: ['http://guarded.test/admin/users'], status: 403, flags: '-' },
      {
        trace: 'd3'.repeat(16), status: 502, flags: 'NR',
        args: ['-p', '--proxy-header', `traceparent: 00-${'d3'.repeat(16)}-${CLIENT_PARENT}-01`, '--proxy-header', 'tracestate: congo=t61rcWkgMzE', 'http://nowhere.test:9443/'],
      },
    ];
    for (const c of cases) {
      const r = await curl(['-x', wp.proxyUrl, '-H', `traceparent: 00-${c.trace}-${CLIENT_PARENT}-01`, '-H', 'tracestate: congo=t61rcWkgMzE', ...c.args]);
      // curl -p reports the refused CONNECT's status as the proxy's and fails the transfer.
      if (!c.args.includes('-p')) assert.equal(r.status, c.status, r.stderr);
    }
    for (const c of cases) {
      const span = await waitFor(`the ${c.status} span`, () => rx.spans.find((s) => s.traceId === c.trace));
      assert.equal(span.parentSpanId, CLIENT_PARENT);
      assert.match(span.spanId, /^[0-9a-f]{16}$/);
      assert.notEqual(span.spanId, CLIENT_PARENT);
      assert.notEqual(span.spanId, '0'.repeat(16));
      assert.equal(span.attrs['http.response.status_code'], c.status);
      assert.equal(span.attrs['response_flags'], c.flags);
      assert.equal(span.kind, 2);
      assert.equal(span.traceState, 'congo=t61rcWkgMzE');
    }
    const denied = rx.spans.find((s) => s.traceId === 'd2'.repeat(16))!;
    assert.equal(denied.attrs['response_code_details'], 'rbac_access_denied_matched_policy[ns[istio-egress]-policy[guarded-deny]-rule[0]]');
    assert.equal(denied.status, 0, 'a 4xx is the client\'s error: status unset');
    const connect = rx.spans.find((s) => s.traceId === 'd3'.repeat(16))!;
    assert.equal(connect.attrs['http.request.method'], 'CONNECT');
  });

  test('local replies without or with an invalid traceparent start a new trace, tracestate dropped', async () => {
    const invalid = [
      [],
      ['-H', `traceparent: 00-${'0'.repeat(32)}-${CLIENT_PARENT}-01`, '-H', 'tracestate: congo=stale'],
      ['-H', `traceparent: 00-${'e'.repeat(32)}-${'0'.repeat(16)}-01`, '-H', 'tracestate: congo=stale'],
      ['-H', `traceparent: 00-${'E'.repeat(32)}-${CLIENT_PARENT}-01`],
    ];
    for (const [i, extra] of invalid.entries()) {
      const r = await curl(['-x', wp.proxyUrl, ...extra, `http://fresh-${i}.test/x`]);
      assert.equal(r.status, 502, r.stderr);
    }
    for (const i of invalid.keys()) {
      const host = `fresh-${i}.test`;
      const span = await waitFor(`the ${host} span`, () => rx.spans.find((s) => s.attrs['server.address'] === host));
      assert.equal(span.parentSpanId, '');
      assert.match(span.traceId, /^[0-9a-f]{32}$/);
      assert.ok(![CLIENT_TRACE, '0'.repeat(32), 'e'.repeat(32)].includes(span.traceId), span.traceId);
      assert.equal(span.traceState, '');
    }
  });

  test('span times are sub-millisecond and agree with the record\'s startTime and durationMs', async () => {
    const trace = 'f'.repeat(32);
    await curl(['-x', wp.proxyUrl, '-H', `traceparent: 00-${trace}-${CLIENT_PARENT}-01`, 'http://api.test/delay/15']);
    const span = await waitFor('the timed span', () => rx.spans.find((s) => s.traceId === trace));
    const record = wp.records.find((r) => r.path === '/delay/15')!;
    assert.equal(span.startNs / 1_000_000n, BigInt(record.startTime), 'the span starts in the millisecond the access log says');
    const durationMs = Number(span.durationNs) / 1e6;
    assert.ok(Math.abs(durationMs - record.durationMs) <= 1, `span ${durationMs} ms vs record ${record.durationMs} ms`);
    assert.ok(durationMs >= 15, `${durationMs} ms`);
    // Whole milliseconds everywhere would mean Date.now() times: at least one span must show finer ones.
    const fine = rx.spans.filter((s) => s.startNs % 1_000_000n !== 0n && s.endNs % 1_000_000n !== 0n && s.durationNs % 1_000_000n !== 0n);
    assert.ok(fine.length > 0 && fine.includes(span), `no sub-millisecond span among ${rx.spans.length}`);
  });

  test('an unsampled client trace is continued but not exported', async () => {
    const trace = 'b'.repeat(32);
    const r = await curl(['-x', wp.proxyUrl, '-H', `traceparent: 00-${trace}-${CLIENT_PARENT}-00`, 'http://api.test/unsampled']);
    const tp = parseTp(String((JSON.parse(r.stdout) as EchoBody).headers.traceparent));
    assert.equal(tp.traceId, trace);
    assert.equal(tp.flags, '00');
    const nr = await curl(['-x', wp.proxyUrl, '-H', `traceparent: 00-${trace}-${CLIENT_PARENT}-00`, 'http://unsampled.test/']);
    assert.equal(nr.status, 502);
    // A sampled request sent after them is exported; by then the unsampled ones would have been too.
    await curl(['-x', wp.proxyUrl, '-H', `traceparent: 00-${'c'.repeat(32)}-${CLIENT_PARENT}-01`, 'http://api.test/after']);
    await waitFor('the later span', () => rx.spans.find((s) => s.traceId === 'c'.repeat(32)));
    assert.equal(rx.spans.filter((s) => s.traceId === trace).length, 0);
  });
});

describe('OTLP collector down', () => {
  test('requests are served as usual and stop() does not wait on the dead collector', async () => {
    const dead = await startReceiver();
    await new Promise((r) => dead.server.close(r)); // its port now refuses connections
    const up = await startHttpUpstream();
    const wp = await startInProcess(WAYPOINT_YAML
      + loopbackEntry('api', up.port),
    { otlpEndpoint: dead.url });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await curl(['-x', wp.proxyUrl, 'http://api.test/x'])).status, 200);
    } finally {
      const t0 = Date.now();
      await wp.close();
      await up.close();
      assert.ok(Date.now() - t0 < 4000, `stop took ${Date.now() - t0} ms`);
    }
  });
});

describe('OTLP export off', () => {
  test('without --otlp-endpoint no OpenTelemetry module is loaded and traceparent passes through', async () => {
    // A child process records every module it resolves while a waypoint serves one request.
    const script = `
      import { registerHooks } from 'node:module';
      const otel = [];
      registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); if (r.url.includes('opentelemetry')) otel.push(r.url); return r; } });
      const { startInProcess, serviceEntry, WAYPOINT_YAML } = await import('./test/helpers/inprocess.ts');
      const { startHttpUpstream } = await import('./test/helpers/upstream.ts');
      const { request, ProxyAgent } = await import('undici');
      const up = await startHttpUpstream();
      const wp = await startInProcess(WAYPOINT_YAML + serviceEntry('api', 'hosts: [api.test]\\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ' + up.port + '}]\\nresolution: STATIC\\nendpoints: [{address: 127.0.0.1}]'));
      const agent = new ProxyAgent({ uri: wp.proxyUrl, proxyTunnel: false });
      const res = await request('http://api.test/t', { dispatcher: agent, headers: { traceparent: '${TP}' } });
      const body = await res.body.json();
      await agent.close(); await wp.close(); await up.close();
      console.log(JSON.stringify({ otel, traceparent: body.headers.traceparent }));
    `;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(`${REPO_ROOT}/node_modules/.bin/node`, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, timeout: 20_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
    const got = JSON.parse(out.trim().split('\n').pop()!) as { otel: string[]; traceparent: string };
    // @opentelemetry/api alone is prom-client's (exemplars); the SDK, exporter and resources must not load.
    assert.deepEqual(got.otel.filter((u) => !u.includes('/@opentelemetry/api/')), []);
    assert.equal(got.traceparent, TP);
  });
});
