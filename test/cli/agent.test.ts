// `egressway agent` through the real CLI: the pool and keepalive flags are refused with one line when
// wrong, and when right they change what the running agent does (seen at the waypoint and on the
// client's sockets, not through hooks); --no-proxy reaches the agent; the config is watched.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { withTimeout } from '../helpers/lifecycle.ts';
import { LogCollector, type LogLine } from '../helpers/log-lines.ts';
import { tmpDir, writeConfig, type TmpDir } from '../helpers/tmp.ts';
import { REPO_ROOT } from '../helpers/waypoint.ts';
import { startMesh, type Mesh } from '../hbone/fixture.ts';

const CLI = ['src/cli/main.ts', 'agent'];
// Enough to get past commander's required options: a bad flag value is refused before any file is read.
const REQUIRED = ['--config', 'nowhere', '--cert', 'a.crt', '--key', 'a.key', '--trust-bundle', 'ca.pem'];
const entry = (name: string, port: number, proto: string) =>
  serviceEntry(name, `hosts: [${name}.test]\nports: [{number: ${port}, name: p, protocol: ${proto}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);

function envWithoutNoProxy(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NO_PROXY;
  delete env.no_proxy;
  return env;
}

describe('egressway agent flags: bad values are one line naming the flag and the fix', () => {
  const refuse = (args: string[]) => spawnSync(process.execPath, [...CLI, ...REQUIRED, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 15_000 });
  const cases: [string[], RegExp][] = [
    [['--pool-size', '0'], /^error: option '--pool-size <n>' argument '0' is invalid\. "0" is not a stream count; pass a whole number from 1 to 10000 \(default 128\)$/],
    [['--pool-size', 'lots'], /^error: option '--pool-size <n>' argument 'lots' is invalid\. .*pass a whole number/],
    [['--pool-idle-timeout', '0'], /^error: option '--pool-idle-timeout <duration>' argument '0' is invalid\. .*pass a duration above 0 and at most 24h \(examples: 500ms, 30s, 2m\)$/],
    [['--pool-idle-timeout', 'soon'], /^error: option '--pool-idle-timeout <duration>' argument 'soon' is invalid\. "soon" is not a duration \(examples: 500ms, 30s, 2m\)$/],
    [['--keepalive-interval', '48h'], /^error: option '--keepalive-interval <duration>' argument '48h' is invalid\. .*at most 24h/],
    [['--keepalive-timeout', '5s'], /^error: --keepalive-timeout \(5s\) must be longer than --keepalive-interval \(10s\), which is how often it is checked; pass e\.g\. --keepalive-timeout 20s$/],
  ];
  for (const [args, want] of cases) {
    test(args.join(' '), () => {
      const r = refuse(args);
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stderr.trimEnd().split('\n').filter((l) => l !== '(run with --help for usage)');
      assert.equal(lines.length, 1, `one line, no stack trace:\n${r.stderr}`);
      assert.match(lines[0]!, want);
      assert.equal(r.stdout, '');
    });
  }

  test('--help lists the pool flags with their defaults', () => {
    const r = spawnSync(process.execPath, [...CLI, '--help'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /--pool-size <n> .*\(default: 128\)/);
    assert.match(r.stdout, /--pool-idle-timeout <duration> .*\(default: 30s\)/);
    assert.match(r.stdout, /--keepalive-interval <duration> .*\(default: 10s\)/);
    assert.match(r.stdout, /--keepalive-timeout <duration> .*\(default: 20s\)/);
    assert.match(r.stdout, /--no-watch /);
  });
});

/** The agent CLI as a child process, ready once it logs its listeners. */
interface AgentProcess {
  readonly http: string;
  readonly pid: number;
  readonly logs: LogCollector;
  stop(): Promise<void>;
}

async function startAgentCli(args: string[]): Promise<AgentProcess> {
  const child: ChildProcess = spawn(process.execPath, [...CLI, ...args], { cwd: REPO_ROOT, env: envWithoutNoProxy(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const logs = new LogCollector(child.stdout!);
  const exited = new Promise<void>((resolve) => child.once('close', () => {
    logs.end(new Error(`the agent exited: ${stderr}`));
    resolve();
  }));
  const describe = () => `stderr:\n${stderr}\nstdout:\n${logs.lines.map((l) => JSON.stringify(l)).join('\n')}`;
  const stop = async () => {
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  };
  try {
    const ready = await logs.waitFor((l) => typeof l.http === 'string', 15_000, describe);
    return { http: ready.http as string, pid: child.pid ?? -1, logs, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A TCP relay to the waypoint's HBONE port that can stop carrying bytes, as a vanished peer does. */
async function startRelay(port: number): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((down) => {
    const up = connect({ host: '127.0.0.1', port });
    const pair: [Socket, Socket] = [down, up];
    pairs.add(pair);
    for (const [a, b] of [[down, up], [up, down]] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => {
        b.destroy();
        pairs.delete(pair);
      });
      a.pipe(b);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    freeze() {
      for (const [down, up] of pairs) {
        down.unpipe(up);
        up.unpipe(down);
        down.pause();
        up.pause();
      }
    },
    async close() {
      for (const [down, up] of pairs) {
        down.destroy();
        up.destroy();
      }
      await new Promise((r) => server.close(r));
    },
  };
}

/** One absolute-form request on a new client connection; resolves with its status and local port. */
function get(proxy: string, url: string): Promise<{ status: number; body: string; clientPort: number }> {
  const [host, port] = proxy.split(':');
  return new Promise((resolve, reject) => {
    const r = request({ host, port: Number(port), path: url, headers: { host: new URL(url).host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, clientPort }));
    });
    let clientPort = 0;
    r.on('socket', (s: Socket) => s.once('connect', () => { clientPort = s.localPort ?? 0; }));
    r.on('error', reject);
    r.end();
  });
}

describe('egressway agent flags reach the running agent', () => {
  let m: Mesh;
  let dir: TmpDir;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let agent: AgentProcess;
  /** The forwarded for= (client address) the waypoint recorded for a request: one per HBONE stream. */
  const streamOf = async (path: string) => (await m.wp.nextRecord((x) => x.path === path)).downstreamRemoteAddress;

  before(async () => {
    m = await startMesh();
    relay = await startRelay(m.hbonePort);
    dir = await tmpDir();
    await writeConfig(dir.path, WAYPOINT_YAML + entry('api', 80, 'HTTP') + entry('raw', 9000, 'TCP'));
    const pki = m.pki.files.cart!;
    agent = await startAgentCli([
      '--config', dir.path, '--cert', pki.cert, '--key', pki.key, '--trust-bundle', m.pki.bundle,
      '--waypoint-address', `127.0.0.1:${relay.port}`, '--http-port', '0', '--socks-port', '0', '--workload', 'cart',
      '--no-proxy', '127.0.0.1',
      '--pool-size', '1', '--pool-idle-timeout', '1s', '--keepalive-interval', '200ms', '--keepalive-timeout', '600ms',
    ]);
  });
  after(async () => {
    await agent?.stop();
    await relay?.close();
    await m?.close();
    await dir?.close();
  });

  test('--pool-size 1: concurrent requests to one destination take turns on one HBONE stream', async () => {
    const t0 = Date.now();
    const rs = await Promise.all([1, 2, 3].map((i) => get(agent.http, `http://api.test/delay/300?c=${i}`)));
    const elapsed = Date.now() - t0;
    for (const r of rs) assert.equal(r.status, 200, r.body);
    const streams = new Set(await Promise.all([1, 2, 3].map((i) => streamOf(`/delay/300?c=${i}`))));
    assert.equal(streams.size, 1, `one stream carried all three (128 by default would open three): ${[...streams].join(', ')}`);
    assert.ok(elapsed >= 850, `three 300 ms answers one after another, not at once (took ${elapsed} ms)`);
  });

  test('--pool-idle-timeout 1s: an idle stream is closed and forgotten; the next request opens its own', async () => {
    assert.equal((await get(agent.http, 'http://api.test/idle-1')).status, 200);
    assert.equal((await get(agent.http, 'http://api.test/idle-2')).status, 200);
    assert.equal(await streamOf('/idle-2'), await streamOf('/idle-1'), 'within the idle timeout the stream is reused');
    // The stream closes 1 s after its last request; its emptied pool goes one idle period later, at
    // the next 1 s sweep: within 3 s. With the default (30 s) the stream would still be there.
    await sleep(4_000);
    const third = await get(agent.http, 'http://api.test/idle-3');
    assert.equal(third.status, 200);
    assert.equal(await streamOf('/idle-3'), `127.0.0.1:${third.clientPort}`, 'a new stream, opened for this client');
  });

  test('regression: --no-proxy was ignored (commander files a --no-* option as `proxy`); a listed host is dialled direct', async () => {
    const r = await get(agent.http, `${m.up.url}/no-proxy-flag`);
    assert.equal(r.status, 200, r.body);
    assert.equal(m.wp.records.some((x) => x.path === '/no-proxy-flag'), false);
  });

  // Regression (issue 11): SIGHUP killed the agent.
  test('SIGHUP reloads the config and the agent keeps running', async () => {
    const from = agent.logs.lines.length;
    const after = (pred: (l: LogLine) => boolean) => (l: LogLine) => agent.logs.lines.indexOf(l) >= from && pred(l);
    process.kill(agent.pid, 'SIGHUP');
    await agent.logs.waitFor(after((l) => l.msg === 'SIGHUP: config unchanged'), 5_000, () => 'no SIGHUP reload logged');
    assert.equal((await get(agent.http, 'http://api.test/after-hup')).status, 200, 'still serving');
  });

  test('the config is watched: a new host is routed, bad YAML is one error line and the old config stays', async () => {
    assert.equal((await get(agent.http, 'http://payments.test/v1/charges')).status, 403);
    const from = agent.logs.lines.length;
    const after = (pred: (l: LogLine) => boolean) => (l: LogLine) => agent.logs.lines.indexOf(l) >= from && pred(l);
    await writeConfig(dir.path, WAYPOINT_YAML + entry('api', 80, 'HTTP') + entry('raw', 9000, 'TCP') + entry('payments', 80, 'HTTP'));
    await agent.logs.waitFor(after((l) => String(l.msg).startsWith('config reloaded')), 5_000, () => 'no reload logged');
    assert.equal((await get(agent.http, 'http://payments.test/v1/charges')).status, 200);
    await writeConfig(dir.path, `${WAYPOINT_YAML}---\nkind: ServiceEntry\nmetadata: {name: broken\n  spec: [\n`);
    const bad = await agent.logs.waitFor(after((l) => l.level === 50), 5_000, () => 'no error logged');
    assert.match(String(bad.msg), /^config reload rejected, still routing with the last good config: Error \[EGW0001\] \(\S+config\.yaml:\d+:\d+\) .*\(fix: /);
    assert.equal((await get(agent.http, 'http://payments.test/v1/charges')).status, 200, 'the last good config still routes');
  });

  // Last: it takes the agent's HBONE connection down.
  test('--keepalive-interval/--keepalive-timeout: a waypoint that stops answering PINGs is dropped within the timeout', async () => {
    const [host, port] = agent.http.split(':');
    const sock = connect({ host, port: Number(port) });
    sock.write('CONNECT raw.test:9000 HTTP/1.1\r\nHost: raw.test:9000\r\n\r\n');
    assert.match(await new Promise<string>((r) => sock.once('data', (d: Buffer) => r(d.toString()))), /^HTTP\/1\.1 200/);
    sock.write('ping');
    assert.equal(await new Promise<string>((r) => sock.once('data', (d: Buffer) => r(d.toString()))), 'ping');
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.on('error', () => {});
    const t0 = Date.now();
    relay.freeze();
    // 600 ms without an answer, checked every 200 ms; the defaults (20 s) would outlast this wait.
    await withTimeout(closed, 5_000, () => 'the tunnel outlived a dead waypoint connection');
    assert.ok(Date.now() - t0 >= 400, 'not before the timeout');
  });
});
