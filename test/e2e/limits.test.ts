// Issue 11, "one client must not exhaust the waypoint": each downstream resource has a bound, over
// real loopback sockets, with short limits so the suite stays fast. Each test fails on the code
// before the limits (nothing was ever cut or refused there).
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { getHeapStatistics } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.ts';
import { REPO_ROOT, startWaypoint as startCli } from '../helpers/waypoint.ts';
import { tmpDir, writeConfig } from '../helpers/tmp.ts';
import { loopbackEntry, serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { startHttpUpstream, startTcpEcho, type EchoServer, type HttpUpstream } from '../helpers/upstream.ts';

interface Raw {
  readonly socket: Socket;
  /** Everything received so far. */
  text(): string;
  /** Resolves with the ms from `since` to the socket's close; rejects after `ms`. */
  closed(ms: number): Promise<number>;
}

function rawConnect(proxyUrl: string, allowHalfOpen = false): Promise<Raw> {
  const u = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    // allowHalfOpen: the client does not answer the server's FIN with its own (it keeps the socket).
    const socket = connect({ port: Number(u.port), host: u.hostname, allowHalfOpen });
    let got = '';
    let closedAt = 0;
    const waiters: (() => void)[] = [];
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => void (got += d));
    socket.on('error', () => {});
    socket.once('close', () => {
      closedAt = Date.now();
      for (const w of waiters.splice(0)) w();
    });
    socket.once('connect', () => {
      const since = Date.now();
      resolve({
        socket,
        text: () => got,
        closed: (ms) => new Promise((res, rej) => {
          if (closedAt) return res(closedAt - since);
          const t = setTimeout(() => rej(new Error(`socket still open after ${ms} ms; received: ${JSON.stringify(got.slice(0, 300))}`)), ms);
          waiters.push(() => { clearTimeout(t); res(closedAt - since); });
        }),
      });
    });
    socket.once('error', reject);
  });
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One absolute-form request through the proxy on a fresh connection. */
function viaProxy(proxyUrl: string, url: string, opts: { method?: string; agent?: false } = {}): Promise<Reply> {
  const p = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: p.hostname, port: Number(p.port), path: url, method: opts.method ?? 'GET', agent: false, headers: { host: new URL(url).host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => void (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function scrape(wp: InProcess): Promise<string> {
  return (await fetch(`${wp.statsUrl}/stats/prometheus`)).text();
}

function metric(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').pop()) : undefined;
}

describe('downstream timeouts', () => {
  let up: HttpUpstream;
  let echo: EchoServer;
  let wp: InProcess;

  before(async () => {
    up = await startHttpUpstream({ name: 'limits' });
    echo = await startTcpEcho();
    wp = await startInProcess(WAYPOINT_YAML + loopbackEntry('web', up.port) + loopbackEntry('tcp', echo.port, { port: 9000, protocol: 'TCP', portName: 'tcp' }), {
      limits: { requestHeadersTimeoutMs: 600, idleTimeoutMs: 600, streamIdleTimeoutMs: 600, tunnelIdleTimeoutMs: 600 },
    });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    await echo?.close();
  });

  test('slowloris: a request head dripped a byte at a time is cut by the headers timeout with 408', async () => {
    const c = await rawConnect(wp.proxyUrl);
    const head = 'GET http://web.test/ HTTP/1.1\r\nHost: web.test\r\nX-Slow: ' + 'a'.repeat(100);
    let i = 0;
    // One byte every 100 ms keeps the connection busy, so an idle timeout alone would never fire.
    const drip = setInterval(() => { if (!c.socket.destroyed) c.socket.write(head[i++ % head.length]!); }, 100);
    try {
      const ms = await c.closed(3_000);
      assert.ok(ms < 2_000, `cut after ${ms} ms`);
      assert.match(c.text(), /^HTTP\/1\.1 408 /);
      assert.match(c.text(), /request_header_timeout/);
    } finally {
      clearInterval(drip);
    }
    assert.equal(up.stats.paths.get('/') ?? 0, 0, 'the request never reached the upstream');
    const m = await scrape(wp);
    assert.ok((metric(m, 'egressway_downstream_limit_total', 'limit="request_headers_timeout"') ?? 0) >= 1, m);
  });

  test('a connection that never sends a request is closed by the idle timeout; one kept busy is not', async () => {
    const busy = await rawConnect(wp.proxyUrl);
    const c = await rawConnect(wp.proxyUrl);
    for (let n = 0; n < 4; n++) {
      busy.socket.write('GET http://web.test/ HTTP/1.1\r\nHost: web.test\r\n\r\n');
      await sleep(300);
    }
    assert.equal(busy.socket.destroyed, false, 'still open after 1.2 s of requests every 300 ms');
    assert.equal(busy.text().match(/HTTP\/1\.1 200 /g)?.length, 4);
    busy.socket.destroy();
    const ms = await c.closed(3_000);
    assert.ok(ms >= 500 && ms < 2_000, `closed after ${ms} ms`);
    assert.equal(c.text(), '', 'closed without a response: there was no request');
    const m = await scrape(wp);
    assert.ok((metric(m, 'egressway_downstream_limit_total', 'limit="idle_timeout"') ?? 0) >= 1);
  });

  test('a stalled request body is cut by the stream idle timeout: 408 with flag SI', async () => {
    const c = await rawConnect(wp.proxyUrl);
    c.socket.write('POST http://web.test/upload HTTP/1.1\r\nHost: web.test\r\nContent-Length: 1000\r\n\r\n0123456789');
    const ms = await c.closed(3_000);
    assert.ok(ms < 2_000, `cut after ${ms} ms`);
    assert.match(c.text(), /^HTTP\/1\.1 408 /);
    assert.match(c.text(), /x-egressway-flags: SI/i);
    const rec = await wp.nextRecord((r) => r.path === '/upload');
    assert.equal(rec.responseCode, 408);
    assert.equal(rec.responseFlags, 'SI');
    assert.equal(rec.responseCodeDetails, 'stream_idle_timeout');
  });

  test('a refused CONNECT that the client keeps half open is closed by the idle timeout', async () => {
    const c = await rawConnect(wp.proxyUrl, true);
    c.socket.write('CONNECT unknown.test:443 HTTP/1.1\r\nHost: unknown.test:443\r\n\r\n');
    await sleep(1_500);
    assert.match(c.text(), /^HTTP\/1\.1 502 /);
    // The waypoint sent its FIN with the 502; only a write shows whether it still holds the socket:
    // once it has closed it, the write is answered with a reset.
    c.socket.write('x');
    await sleep(200);
    c.socket.write('y');
    const ms = await c.closed(2_000);
    assert.ok(ms > 0);
  });

  test('an idle CONNECT tunnel is closed by the tunnel idle timeout; a busy one is not', async () => {
    const busy = await rawConnect(wp.proxyUrl);
    busy.socket.write(`CONNECT tcp.test:9000 HTTP/1.1\r\nHost: tcp.test:9000\r\n\r\n`);
    const idle = await rawConnect(wp.proxyUrl);
    idle.socket.write(`CONNECT tcp.test:9000 HTTP/1.1\r\nHost: tcp.test:9000\r\n\r\n`);
    const ping = setInterval(() => busy.socket.write('x'), 150);
    try {
      const ms = await idle.closed(3_000);
      assert.match(idle.text(), /^HTTP\/1\.1 200 /);
      assert.ok(ms >= 500 && ms < 2_000, `idle tunnel closed after ${ms} ms`);
      assert.equal(busy.socket.destroyed, false, 'the busy tunnel is still open');
      assert.ok(busy.text().includes('xxx'), 'and echoing');
    } finally {
      clearInterval(ping);
      busy.socket.destroy();
    }
    const rec = await wp.nextRecord((r) => r.method === 'CONNECT' && r.connectionTerminationDetails === 'idle_timeout');
    assert.equal(rec.responseCode, 200);
  });
});

describe('connection cap and overload guard', () => {
  let up: HttpUpstream;
  let wp: InProcess;

  before(async () => {
    up = await startHttpUpstream({ name: 'limits' });
    wp = await startInProcess(WAYPOINT_YAML + loopbackEntry('web', up.port), { limits: { maxConnections: 2, idleTimeoutMs: 10_000 } });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
  });

  test('the connection past --max-connections gets 503 OM at once; in-flight requests finish', async () => {
    // Connection 1 holds a slow request in flight; connection 2 is idle.
    const slow = viaProxy(wp.proxyUrl, 'http://web.test/delay/800');
    const idle = await rawConnect(wp.proxyUrl);
    await sleep(150);
    const t0 = Date.now();
    const third = await viaProxy(wp.proxyUrl, 'http://web.test/third');
    assert.equal(third.status, 503);
    assert.equal(third.headers['x-egressway-flags'], 'OM');
    assert.equal(third.headers['x-egressway-details'], 'overload{downstream_max_connections}');
    assert.match(third.body, /--max-connections/);
    assert.ok(Date.now() - t0 < 500, 'refused fast');
    assert.equal(up.stats.paths.get('/third') ?? 0, 0);
    assert.equal((await slow).status, 200, 'the request in flight finished');
    // With a slot free again, a new connection is served.
    idle.socket.destroy();
    await sleep(100);
    assert.equal((await viaProxy(wp.proxyUrl, 'http://web.test/fourth')).status, 200);
    const m = await scrape(wp);
    assert.ok((metric(m, 'egressway_downstream_limit_total', 'limit="max_connections"') ?? 0) >= 1);
  });
});

describe('overload guard (heap)', () => {
  let up: HttpUpstream;
  let wp: InProcess;

  before(async () => {
    up = await startHttpUpstream({ name: 'limits' });
    // The threshold sits 96 MiB above the heap in use now; the test then allocates 256 MiB.
    const h = getHeapStatistics();
    const fraction = (h.used_heap_size + 96 * 2 ** 20) / h.heap_size_limit;
    wp = await startInProcess(WAYPOINT_YAML + loopbackEntry('web', up.port), { overloadHeapFraction: fraction });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
  });

  test('above the heap threshold new requests get 503 OM while the one in flight finishes', async () => {
    const slow = viaProxy(wp.proxyUrl, 'http://web.test/delay/1000');
    await sleep(150);
    let ballast: number[] | undefined = new Array<number>(32 * 2 ** 20).fill(7);
    try {
      await sleep(400); // two samples of the 250 ms monitor
      const refused = await viaProxy(wp.proxyUrl, 'http://web.test/new');
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['x-egressway-flags'], 'OM');
      assert.equal(refused.headers['x-egressway-details'], 'overload');
      assert.match(refused.body, /overloaded: heap/);
      assert.equal(up.stats.paths.get('/new') ?? 0, 0);
      assert.equal((await slow).status, 200, 'the request in flight finished');
      const m = await scrape(wp);
      assert.equal(metric(m, 'egressway_overload_active'), 1);
      assert.ok((metric(m, 'egressway_downstream_limit_total', 'limit="overload"') ?? 0) >= 1);
    } finally {
      assert.equal(ballast.length, 32 * 2 ** 20);
      ballast = undefined;
    }
  });
});

describe('DNS cache bound (DYNAMIC_DNS wildcard)', () => {
  const N = 40;
  const MAX = 8;
  let up: HttpUpstream;
  let dns: DnsServer;
  let wp: InProcess;

  before(async () => {
    up = await startHttpUpstream({ name: 'dyn' });
    const records: Record<string, { type: 'A'; address: string; ttl: number }[]> = {};
    for (let i = 0; i < N; i++) records[`n${i}.dyn.test`] = [{ type: 'A', address: '127.0.0.1', ttl: 300 }];
    dns = await startDnsServer({ records });
    wp = await startInProcess(WAYPOINT_YAML
      + serviceEntry('dyn', `hosts: ["*.dyn.test"]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}]\nresolution: DYNAMIC_DNS`),
    { dnsServers: [`127.0.0.1:${dns.port}`], dialPolicy: { allowCidrs: ['127.0.0.0/8'] }, dnsMaxHosts: MAX });
  });
  after(async () => {
    await wp?.close();
    await dns?.close();
    await up?.close();
  });

  test(`${N} client-chosen names keep at most ${MAX} in the cache, least recently used out`, async () => {
    for (let i = 0; i < N; i++) assert.equal((await viaProxy(wp.proxyUrl, `http://n${i}.dyn.test/`)).status, 200);
    const m = await scrape(wp);
    assert.ok((metric(m, 'egressway_dns_cache_hosts') ?? Infinity) <= MAX, m.split('\n').filter((l) => l.includes('dns_cache')).join('\n'));
    assert.equal(metric(m, 'egressway_dns_cache_evictions_total'), N - MAX);
    // The newest name is still cached; the oldest was evicted and is asked for again.
    dns.clearQueries();
    assert.equal((await viaProxy(wp.proxyUrl, `http://n${N - 1}.dyn.test/`)).status, 200);
    assert.equal(dns.countQueries(`n${N - 1}.dyn.test`, 'A'), 0);
    assert.equal((await viaProxy(wp.proxyUrl, 'http://n0.dyn.test/')).status, 200);
    assert.equal(dns.countQueries('n0.dyn.test', 'A'), 1);
  });
});

describe('drain and half-open sockets', () => {
  test('shutdown does not wait on a refused CONNECT that the client keeps half open', async () => {
    const wp = await startInProcess(WAYPOINT_YAML);
    const c = await rawConnect(wp.proxyUrl, true);
    c.socket.write('CONNECT unknown.test:443 HTTP/1.1\r\nHost: unknown.test:443\r\n\r\n');
    await sleep(200);
    assert.match(c.text(), /^HTTP\/1\.1 502 /);
    const t0 = Date.now();
    const closed = await Promise.race([wp.close().then(() => true), sleep(4_000).then(() => false)]);
    c.socket.destroy();
    assert.ok(closed, 'the waypoint stopped');
    assert.ok(Date.now() - t0 < 2_000, `stopped after ${Date.now() - t0} ms`);
  });
});

describe('limit flags through the real CLI', () => {
  test('--idle-timeout and --max-connections reach the listener', async () => {
    const dir = await tmpDir();
    await writeConfig(dir.path, WAYPOINT_YAML);
    const wp = await startCli({ configDir: dir.path, args: ['--idle-timeout', '500ms', '--max-connections', '1', '--access-log', 'off'] });
    try {
      const first = await rawConnect(wp.proxyUrl);
      const second = await rawConnect(wp.proxyUrl);
      second.socket.write('GET http://x.test/ HTTP/1.1\r\nHost: x.test\r\n\r\n');
      const ms = await first.closed(3_000);
      assert.ok(ms >= 400 && ms < 2_500, `idle connection closed after ${ms} ms`);
      await second.closed(3_000);
      assert.match(second.text(), /^HTTP\/1\.1 503 [\s\S]*x-egressway-flags: OM/i);
      const stats = await (await fetch(`${wp.listeners.stats!.url}/stats/prometheus`)).text();
      assert.match(stats, /egressway_downstream_limit_total\{limit="idle_timeout"\} 1/);
      assert.match(stats, /egressway_downstream_limit_total\{limit="max_connections"\} 1/);
    } finally {
      await wp.close();
      await dir.close();
    }
  });

  test('a bad limit value is one line naming the flag and the range', async () => {
    const r = spawnSync(process.execPath, ['src/cli/main.ts', 'run', '--config', '.', '--max-connections', '-1'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--max-connections <n>.*"-1" is not a connection count; pass a whole number from 0 to 10000000/);
  });
});
