// `run --concurrency 2` through the real CLI: two worker threads share the proxy port
// (SO_REUSEPORT), and the process still reads as one: merged metrics and summary, one access log,
// one reload report, readiness of every worker, drain of every worker, and a crashed worker restarted.
// Which worker served a request is read from egressway_worker_requests_total{worker}.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { startWaypoint, type LogLine, type Waypoint } from '../helpers/waypoint.ts';
import { sample } from '../helpers/exposition.ts';

const se = (name: string, port: number) =>
  serviceEntry(name, `hosts: [${name}.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);

/** One request on a connection of its own (Connection: close), so the kernel picks a worker for each. */
function oneShot(proxy: { host: string; port: number }, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(proxy.port, proxy.host);
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => { got += d; });
    s.on('error', reject);
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0)));
    s.write(`GET ${url} HTTP/1.1\r\nHost: ${new URL(url).host}\r\nConnection: close\r\n\r\n`);
  });
}

async function statuses(wp: Waypoint, urls: readonly string[]): Promise<number[]> {
  const out: number[] = [];
  // Ten at a time: enough to keep both workers busy, few enough for a loaded machine.
  for (let i = 0; i < urls.length; i += 10) out.push(...(await Promise.all(urls.slice(i, i + 10).map((u) => oneShot(wp.listeners.proxy!, u)))));
  return out;
}

/** An OTLP/HTTP JSON receiver that keeps the url.path of every span. */
async function startReceiver(): Promise<{ url: string; paths: string[]; server: Server }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      type Body = { resourceSpans: { scopeSpans: { spans: { attributes: { key: string; value: { stringValue?: string } }[] }[] }[] }[] };
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Body;
      for (const s of body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((ss) => ss.spans))) {
        paths.push(s.attributes.find((a) => a.key === 'url.path')?.value.stringValue ?? '');
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths, server };
}

const range = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

describe('run --concurrency 2 (real CLI, worker threads)', () => {
  let up: HttpUpstream;
  let dir: TmpDir;
  let wp: Waypoint;
  let file: string;
  let otlp: Awaited<ReturnType<typeof startReceiver>>;
  const get = async (listener: string, path: string) => {
    const res = await fetch(`${wp.listeners[listener]!.url}${path}`);
    return { status: res.status, body: await res.text() };
  };
  const msgs = (from: number) => wp.logs.slice(from).map((l: LogLine) => String(l.msg ?? ''));
  const logAfter = (from: number, re: RegExp, ms = 20_000) => wp.waitForLog((l) => re.test(String(l.msg)) && wp.logs.indexOf(l) >= from, ms);
  const readyAgain = async () => {
    const deadline = Date.now() + 30_000;
    while ((await get('status', '/healthz/ready')).status !== 200) {
      if (Date.now() > deadline) throw new Error('not ready again within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    up = await startHttpUpstream();
    dir = await tmpDir();
    file = join(dir.path, 'c.yaml');
    await writeFile(file, WAYPOINT_YAML + se('api', up.port));
    otlp = await startReceiver();
    wp = await startWaypoint({
      configDir: file, env: { EGRESSWAY_TEST_HOOKS: '1' }, startTimeoutMs: 60_000,
      args: ['--no-watch', '--concurrency', '2', '--drain-duration', '10s', '--otlp-endpoint', otlp.url, '--proxy-protocol-port', '0'],
    });
  });
  after(async () => {
    await wp?.close();
    otlp?.server.close();
    await up?.close();
    await dir?.close();
  });

  test('requests spread over both workers; metrics, summary and access log read as one process', async () => {
    assert.equal(wp.logs.find((l) => l.msg === 'listening')?.concurrency, 2);
    const n = 40;
    const codes = await statuses(wp, range(n, (i) => `http://api.test/r${i}`));
    assert.deepEqual(codes, range(n, () => 200));
    const text = (await get('stats', '/stats/prometheus')).body;
    assert.equal(sample(text, 'istio_requests_total', { destination_service: 'api.test' }), n, 'one sum over the workers');
    assert.equal(sample(text, 'istio_request_duration_milliseconds_count', { destination_service: 'api.test' }), n);
    const w0 = sample(text, 'egressway_worker_requests_total', { worker: '0' });
    const w1 = sample(text, 'egressway_worker_requests_total', { worker: '1' });
    assert.ok(w0 > 0 && w1 > 0, `both workers served requests: worker 0 ${w0}, worker 1 ${w1}`);
    assert.equal(w0 + w1, n);
    assert.equal(sample(text, 'istio_build'), 1, 'istio_build is one process, not one per worker');
    assert.equal((text.match(/^# TYPE istio_requests_total counter$/gm) ?? []).length, 1, 'one family, not one per worker');
    // The admin port serves the same merged text.
    assert.equal(sample((await get('admin', '/stats/prometheus')).body, 'istio_requests_total', { destination_service: 'api.test' }), n);
    const summary = JSON.parse((await get('admin', '/stats/summary')).body) as { services: { service: string; requests: number; p50Ms: number | null }[]; totals: object };
    const api = summary.services.find((s) => s.service === 'api.test');
    assert.equal(api?.requests, n, JSON.stringify(summary));
    assert.notEqual(api?.p50Ms, null);
    // One access-log line per request, each a whole JSON object (the log collector parsed it).
    await wp.waitForLog(() => wp.logs.filter((l) => typeof l.path === 'string' && /^\/r\d+$/.test(l.path)).length === n, 5_000);
    const paths = wp.logs.filter((l) => typeof l.path === 'string' && /^\/r\d+$/.test(l.path as string)).map((l) => l.path).sort();
    assert.deepEqual(paths, range(n, (i) => `/r${i}`).sort());
    // --otlp-endpoint: one span per request, from whichever worker served it (batches every second).
    const deadline = Date.now() + 10_000;
    while (otlp.paths.filter((p) => /^\/r\d+$/.test(p)).length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(otlp.paths.filter((p) => /^\/r\d+$/.test(p)).sort(), range(n, (i) => `/r${i}`).sort());
  });

  test('the PROXY-protocol port is shared too: refusals from either worker add up', async () => {
    const pp = wp.listeners.proxyProtocol!;
    assert.ok(pp, 'listening');
    // 20 connections that send no PROXY header but plain HTTP: each is refused (not_proxy_protocol or the like).
    await Promise.all(range(20, () => new Promise<void>((resolve) => {
      const s = connect(pp.port, pp.host);
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    })));
    const text = (await get('stats', '/stats/prometheus')).body;
    assert.equal(sample(text, 'egressway_proxy_protocol_refused_total'), 20);
  });

  test('/healthz/ready is 200 with every worker serving; config_dump is the one snapshot', async () => {
    assert.deepEqual(await get('status', '/healthz/ready'), { status: 200, body: 'ready\n' });
    const dump = JSON.parse((await get('admin', '/config_dump')).body) as { snapshot: { version: string } };
    assert.match(dump.snapshot.version, /^[0-9a-f]+$/);
  });

  test('a reload reaches every worker and is reported once; a bad config is rejected once', async () => {
    assert.deepEqual([...new Set(await statuses(wp, range(10, () => 'http://extra.test/')))], [502]);
    await writeFile(file, WAYPOINT_YAML + se('api', up.port) + se('extra', up.port));
    let from = wp.logs.length;
    process.kill(wp.pid, 'SIGHUP');
    await logAfter(from, /^config loaded/);
    await readyAgain(); // ready again only once both workers applied the new snapshot
    // 30 new connections: a worker left on the old snapshot would answer about half of them 502.
    assert.deepEqual([...new Set(await statuses(wp, range(30, () => 'http://extra.test/')))], [200]);
    assert.equal(msgs(from).filter((m) => m.startsWith('config loaded')).length, 1, msgs(from).join('\n'));

    await writeFile(file, `${WAYPOINT_YAML}${se('api', up.port)}---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: bad, namespace: istio-egress}\nspec:\n  hosts: [bad.test]\n  ports: [null]\n`);
    from = wp.logs.length;
    process.kill(wp.pid, 'SIGHUP');
    await logAfter(from, /^config rejected/);
    assert.deepEqual([...new Set(await statuses(wp, range(20, () => 'http://extra.test/')))], [200], 'every worker keeps the last good config');
    assert.equal(msgs(from).filter((m) => m.startsWith('config rejected')).length, 1, msgs(from).join('\n'));
    const metrics = (await get('stats', '/stats/prometheus')).body;
    assert.equal(sample(metrics, 'egressway_config_reloads_total', { result: 'failure' }), 1, 'counted once, by the primary');
    await writeFile(file, WAYPOINT_YAML + se('api', up.port) + se('extra', up.port));
  });

  test('a worker that crashes is restarted with backoff, logged in one line, and the process stays up', async () => {
    // Worker 0 has counted requests, and a scrape has read them, before it dies.
    const before = (await get('stats', '/stats/prometheus')).body;
    const requestsBefore = sample(before, 'istio_requests_total', {});
    const worker0Before = sample(before, 'egressway_worker_requests_total', { worker: '0' });
    assert.ok(worker0Before > 0, 'worker 0 served requests before the crash');
    const from = wp.logs.length;
    process.kill(wp.pid, 'SIGUSR2'); // test hook: worker 0 throws an uncaught exception
    const died = await logAfter(from, /^worker 0 died/);
    assert.match(String(died.msg), /^worker 0 died \(Error: crash requested by a test \(EGRESSWAY_TEST_HOOKS=1\)\); restarting it in 250 ms \(crash 1 in the last minute/);
    assert.equal(died.level, 50, 'an error line');
    const ready = await get('status', '/healthz/ready');
    assert.equal(ready.status, 503, 'not ready while a worker is down');
    assert.match(ready.body, /^worker 0 of 2 is (restarting|starting)\n$/);
    // The other worker keeps serving meanwhile.
    assert.deepEqual([...new Set(await statuses(wp, range(5, () => 'http://api.test/')))], [200]);
    await logAfter(from, /^worker 0 restarted/, 60_000);
    await readyAgain();
    assert.equal(wp.exitCode, null);
    assert.equal(msgs(from).filter((m) => m.startsWith('worker 0 died')).length, 1);
    // The restarted worker serves the current snapshot (extra.test came with the reload above).
    assert.deepEqual([...new Set(await statuses(wp, range(30, () => 'http://extra.test/')))], [200]);
    const text = (await get('stats', '/stats/prometheus')).body;
    // The dead worker's counts are carried over: the merged counters never go backwards, which
    // Prometheus would read as a reset and count twice in rate().
    let total = sample(text, 'istio_requests_total', {});
    for (let i = 0; i < 50 && total < requestsBefore + 35; i++) {
      await new Promise((r) => setTimeout(r, 100)); // a record lands just after its response
      total = sample((await get('stats', '/stats/prometheus')).body, 'istio_requests_total', {});
    }
    assert.ok(total >= requestsBefore + 35, `istio_requests_total ${total} after ${requestsBefore} and 35 more requests`);
    assert.ok(sample(text, 'egressway_worker_requests_total', { worker: '0' }) > worker0Before, 'the restarted worker takes connections again, counted on top of its predecessor');
    // The next change reaches the restarted worker as a delta on the snapshot it started with.
    await writeFile(file, WAYPOINT_YAML + se('api', up.port) + se('extra', up.port) + se('more', up.port));
    const reloaded = wp.logs.length;
    process.kill(wp.pid, 'SIGHUP');
    await logAfter(reloaded, /^config loaded/);
    await readyAgain();
    assert.deepEqual([...new Set(await statuses(wp, range(30, () => 'http://more.test/')))], [200]);
    await writeFile(file, WAYPOINT_YAML + se('api', up.port) + se('extra', up.port));
  });

  test('SIGTERM drains every worker: in-flight requests finish, then exit 0', async () => {
    // 10 slow requests on 10 connections: both workers hold some when SIGTERM arrives.
    const slow = range(10, (i) => oneShot(wp.listeners.proxy!, `http://api.test/delay/1500?slow=${i}`));
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    const code = wp.stop('SIGTERM', 20_000);
    assert.deepEqual(await Promise.all(slow), range(10, () => 200), 'in-flight requests finished');
    assert.equal(await code, 0);
    assert.ok(Date.now() - t0 < 10_000, 'within --drain-duration');
    // Their access-log lines were written before the exit.
    assert.equal(wp.logs.filter((l) => typeof l.path === 'string' && (l.path as string).startsWith('/delay/1500')).length, 10);
  });
});

describe('run --concurrency 2: failures end the process non-zero', () => {
  let up: HttpUpstream;
  let dir: TmpDir;
  before(async () => {
    up = await startHttpUpstream();
    dir = await tmpDir();
    await writeFile(join(dir.path, 'c.yaml'), WAYPOINT_YAML + se('api', up.port));
  });
  after(async () => {
    await up?.close();
    await dir?.close();
  });

  test('a worker that cannot start (an unreadable HBONE certificate) fails startup: exit 1 and one line', async () => {
    const missing = join(dir.path, 'missing.pem');
    const wp = startWaypoint({ configDir: join(dir.path, 'c.yaml'), args: ['--concurrency', '2', '--hbone-port', '0', '--hbone-cert', missing, '--hbone-key', missing, '--trust-bundle', missing], startTimeoutMs: 60_000 });
    await assert.rejects(wp, (err: Error) => {
      assert.match(err.message, /waypoint exited with code 1/);
      assert.match(err.message, /error: HBONE listener: .*missing\.pem/);
      return true;
    });
  });

  test(`a worker that keeps crashing ends the process with exit code 70, never 0`, async () => {
    const wp = await startWaypoint({ configDir: join(dir.path, 'c.yaml'), args: ['--no-watch', '--concurrency', '2'], env: { EGRESSWAY_TEST_HOOKS: '1' }, startTimeoutMs: 60_000 });
    try {
      for (let i = 1; i < 5; i++) {
        const from = wp.logs.length;
        process.kill(wp.pid, 'SIGUSR2');
        await wp.waitForLog((l) => /^worker 0 restarted/.test(String(l.msg)) && wp.logs.indexOf(l) >= from, 60_000);
      }
      process.kill(wp.pid, 'SIGUSR2');
      assert.equal(await wp.waitForExit(30_000), 70);
      assert.ok(wp.logs.some((l) => /^worker 0 died \(Error: crash requested.*\) 5 times within 60 s; giving up/.test(String(l.msg))), 'the reason is logged');
    } finally {
      await wp.close();
    }
  });
});
