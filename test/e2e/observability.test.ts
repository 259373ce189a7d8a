// Observability end to end: /stats/summary, `egressway stat` (table, JSON, --watch), the egressway_
// health gauges and the dashboard assets, against an in-process waypoint with real curl traffic.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess, loopbackEntry } from '../helpers/inprocess.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { REPO_ROOT } from '../helpers/waypoint.ts';
import { sendTraffic } from '../telemetry/traffic.ts';
import type { SummaryBody } from '../../src/dashboard/admin-server.ts';

const NODE = `${REPO_ROOT}/node_modules/.bin/node`;
const CLI = `${REPO_ROOT}/src/cli/main.ts`;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NODE, [CLI, ...args], { timeout: 10_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A loopback port that was free a moment ago and has nothing listening now. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('observability: summary, stat, health metrics, dashboard', () => {
  let up: HttpUpstream;
  let wp: InProcess;
  before(async () => {
    up = await startHttpUpstream();
    wp = await startInProcess(WAYPOINT_YAML
      + loopbackEntry('api', up.port)
      + serviceEntry('raw', `hosts: [raw.test]\nports: [{number: 9000, name: tcp, protocol: TCP, targetPort: ${up.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`));
    await sendTraffic(wp.proxyUrl, 'http://api.test/get', 18);
    await sendTraffic(wp.proxyUrl, 'http://api.test/status/503', 2);
    await curl(['-x', wp.proxyUrl, 'http://denied.test/secret']);
    const t = await curl(['-p', '-x', wp.proxyUrl, 'http://raw.test:9000/tunnelled']);
    assert.equal(t.status, 200, t.stderr);
    await wp.nextRecord((r) => r.method === 'CONNECT');
  });
  after(async () => {
    await wp?.close();
    await up?.close();
  });

  test('/stats/summary: per-service RPS, success rate, percentiles, tunnels and recent denials', async () => {
    const s = await (await fetch(`${wp.adminUrl}/stats/summary`)).json() as SummaryBody;
    const api = s.services.find((x) => x.service === 'api.test')!;
    assert.equal(api.requests, 20);
    assert.equal(api.successRate, 0.9);
    assert.ok(api.rps > 0);
    assert.ok(api.p50Ms !== null && api.p99Ms !== null && api.p50Ms <= api.p99Ms);
    const raw = s.services.find((x) => x.service === 'raw.test')!;
    assert.equal(raw.requests, 0);
    assert.ok(raw.tunnelsPerSec > 0);
    const denied = s.recent.find((e) => e.authority === 'denied.test');
    assert.ok(denied, JSON.stringify(s.recent));
    assert.equal(denied.flags, 'NR');
    assert.equal(denied.path, '/secret');
    assert.match(denied.details, /route_not_found/);
    assert.ok(s.recent.some((e) => e.code === 503 && e.service === 'api.test'));
    assert.deepEqual(s.totals, { activeRequests: 0, activeTunnels: 0 });
  });

  test('egressway stat prints the table and -o json the summary', async () => {
    const t = await cli(['stat', '--admin', wp.adminUrl]);
    assert.equal(t.code, 0, t.stderr);
    const lines = t.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^SERVICE\s+RPS\s+SUCCESS\s+P50\s+P90\s+P99\s+TCP$/);
    const api = lines.find((l) => l.startsWith('api.test'));
    assert.match(api ?? '', /^api\.test\s+\d+\.\d\s+90\.00%\s+\S+ms\s+\S+ms\s+\S+ms\s+\S+$/, t.stdout);
    const j = await cli(['stat', '--admin', `${wp.adminUrl}/stats/summary`, '-o', 'json']);
    const body = JSON.parse(j.stdout) as SummaryBody;
    assert.equal(body.services.find((x) => x.service === 'api.test')?.requests, 20);
  });

  test('egressway stat --watch refreshes; an unreachable admin port is one clear error line', async () => {
    const child = spawn(NODE, [CLI, 'stat', '--admin', wp.adminUrl, '--watch', '--interval', '200ms']);
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no second table: ${out}`)), 8000);
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if ((out.match(/^SERVICE/gm) ?? []).length >= 2) { clearTimeout(timer); resolve(); }
      });
    });
    child.kill('SIGTERM');
    const port = await closedPort();
    const bad = await cli(['stat', '--admin', `http://127.0.0.1:${port}`]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, `error: cannot read http://127.0.0.1:${port}/stats/summary: ECONNREFUSED\n`);
  });

  test('egressway_ health gauges are exported', async () => {
    const text = await (await fetch(`${wp.statsUrl}/stats/prometheus`)).text();
    assert.match(text, /^egressway_downstream_active_requests 0$/m);
    assert.match(text, /^egressway_active_tunnels 0$/m);
    assert.match(text, /^egressway_snapshot_age_seconds \d/m);
    assert.match(text, /^egressway_event_loop_lag_seconds\{stat="p99"\} \d/m);
    assert.match(text, /^egressway_config_reloads_total\{result="success"\} 1$/m);
    assert.match(text, /istio_tcp_connections_opened_total\{[^}]*destination_service="raw\.test"[^}]*\} 1$/m);
  });

  test('the dashboard page and its bundled uPlot are served from the admin port', async () => {
    const page = await fetch(`${wp.adminUrl}/`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<script src="\/assets\/uPlot\.iife\.min\.js">/);
    assert.doesNotMatch(html, /https?:\/\//, 'no request may leave the admin port');
    const js = await fetch(`${wp.adminUrl}/assets/uPlot.iife.min.js`);
    assert.equal(js.status, 200);
    assert.match(await js.text(), /uPlot/);
  });
});
