import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { issueCert, makeCa, writePems } from '../helpers/certs.ts';
import { closeAfter, listenLoopback } from '../helpers/lifecycle.ts';
import { curl, hasCurl, parseListeners, startWaypoint, tmpDir, writeConfig } from '../helpers/run.ts';
import type { WaypointOptions } from '../helpers/run.ts';
import { sha256, startHttpsUpstream, startHttpUpstream } from '../helpers/upstream.ts';
import type { EchoBody } from '../helpers/upstream.ts';

const noCurl = !hasCurl() && 'curl is not installed';
const FAKE_CLI = 'test/helpers-selftest/fixtures/fake-cli.ts';

/** A port that refuses connections: bound once to learn a free number, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listenLoopback(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('curl', { skip: noCurl }, () => {
  test('returns the body and the status separately', async (t) => {
    const upstream = closeAfter(t, await startHttpUpstream());
    const result = await curl(['-X', 'PUT', '--data-binary', 'abc', `${upstream.url}/status/201`]);
    assert.equal(result.code, 0);
    assert.equal(result.status, 201);
    const echo = JSON.parse(result.stdout) as EchoBody;
    assert.equal(echo.method, 'PUT');
    assert.equal(echo.bodySha256, sha256(Buffer.from('abc')));
    assert.match(echo.headers['user-agent'] as string, /^curl\//);
  });

  test('reports curl failures as exit codes, not exceptions', async () => {
    const refused = await curl([`http://127.0.0.1:${await closedPort()}/`]);
    assert.equal(refused.code, 7);
    assert.equal(refused.status, 0);
    assert.match(refused.stderr, /Failed to connect|Connection refused/);
  });

  test('sees an upstream reset as exit 56 and a truncated body as exit 18', async (t) => {
    const upstream = closeAfter(t, await startHttpUpstream());
    assert.equal((await curl([`${upstream.url}/reset`])).code, 56);
    assert.equal((await curl([`${upstream.url}/close-mid-body`])).code, 18);
  });

  test('verifies the HTTPS upstream with --cacert and SNI from --resolve', async (t) => {
    const dir = await tmpDir();
    t.after(() => dir.close());
    const ca = await makeCa();
    const upstream = closeAfter(t, await startHttpsUpstream(await issueCert(ca, { dnsNames: ['httpbin.test'] })));
    const { ca: caFiles } = await writePems(dir.path, { ca });
    const url = `https://httpbin.test:${upstream.port}/anything`;
    const args = ['--cacert', caFiles.cert, '--resolve', `httpbin.test:${upstream.port}:127.0.0.1`, url];
    const result = await curl(args);
    assert.equal(result.status, 200, result.stderr);
    assert.equal((JSON.parse(result.stdout) as EchoBody).tls?.servername, 'httpbin.test');
  });

  test('leaves the output alone when the caller brings their own --write-out', async (t) => {
    const upstream = closeAfter(t, await startHttpUpstream());
    const result = await curl(['-o', '/dev/null', '-w', '%{http_code}', `${upstream.url}/status/404`]);
    assert.deepEqual([result.stdout, result.status], ['404', null]);
  });

  test('rejects when curl outlives timeoutMs', async (t) => {
    const upstream = closeAfter(t, await startHttpUpstream());
    await assert.rejects(curl([`${upstream.url}/delay/5000`], { timeoutMs: 200 }), /timed out after 200ms/);
  });
});

describe('tmpDir and writeConfig', () => {
  test('writes the config and removes the directory on close', async () => {
    const dir = await tmpDir();
    const file = await writeConfig(dir.path, 'kind: ServiceEntry\n');
    assert.equal(await readFile(file, 'utf8'), 'kind: ServiceEntry\n');
    await dir.close();
    assert.equal(existsSync(dir.path), false);
  });
});

describe('startWaypoint (against a stand-in CLI)', () => {
  async function start(t: { after(fn: () => Promise<void>): void }, extra: Partial<WaypointOptions> = {}) {
    const dir = await tmpDir();
    t.after(() => dir.close());
    return startWaypoint({ configDir: dir.path, entry: FAKE_CLI, startTimeoutMs: 5_000, ...extra });
  }

  test('waits for the listening line, parses listeners and collects logs', async (t) => {
    const waypoint = closeAfter(t, await start(t, { args: ['--log-level', 'debug'] }));
    assert.match(waypoint.proxyUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(waypoint.listeners.admin?.url, 'http://[::1]:15000');
    assert.equal(waypoint.listeners.stats, undefined);
    const argv = waypoint.logs[0]?.argv as string[];
    assert.deepEqual(argv.slice(0, 2), ['run', '--config']);
    assert.deepEqual(argv.slice(3, 5), ['--proxy-port', '0']);
    assert.deepEqual(argv.slice(-2), ['--log-level', 'debug']);
    assert.deepEqual(waypoint.logs[1], { raw: 'a line that is not JSON' });
    const applied = await waypoint.waitForLog((line) => line.msg === 'snapshot applied');
    assert.equal(applied.version, 2);
    assert.equal(await waypoint.stop(), 0);
    assert.equal(waypoint.logs.at(-1)?.msg, 'shutting down');
    assert.equal(waypoint.exitCode, 0);
  });

  test('waitForLog fails with the recent logs when the line never comes', async (t) => {
    const waypoint = closeAfter(t, await start(t));
    const never = waypoint.waitForLog((line) => line.msg === 'never', 100);
    await assert.rejects(never, /no matching log line within 100ms[^]*"listening"/);
  });

  test('a process that exits before listening rejects with its stderr and exit code', async (t) => {
    const crashing = start(t, { env: { FAKE_CLI_MODE: 'crash' } });
    await assert.rejects(crashing, /exited with code 3[^]*config error: no such directory/);
  });

  test('a process that never reports listening is killed after the start timeout', async (t) => {
    const started = performance.now();
    const silent = start(t, { env: { FAKE_CLI_MODE: 'silent' }, startTimeoutMs: 1_000 });
    await assert.rejects(silent, /within 1000ms[^]*"starting"/);
    assert.ok(performance.now() - started < 4_000);
  });

  test('stop() escalates to SIGKILL when SIGTERM is ignored', async (t) => {
    const waypoint = await start(t, { env: { FAKE_CLI_MODE: 'ignore-term' } });
    assert.equal(await waypoint.stop('SIGTERM', 300), 137);
    assert.equal(await waypoint.stop(), 137);
  });
});

describe('parseListeners', () => {
  test('accepts host:port strings, bracketed IPv6, wildcards, numbers and objects', () => {
    const parsed = parseListeners({
      proxy: '0.0.0.0:15001', admin: '[::]:15000', status: 15021, stats: { address: '::1', port: 15090 }, off: null,
    });
    assert.deepEqual(Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v.url])), {
      proxy: 'http://127.0.0.1:15001',
      admin: 'http://[::1]:15000',
      status: 'http://127.0.0.1:15021',
      stats: 'http://[::1]:15090',
    });
  });
});
