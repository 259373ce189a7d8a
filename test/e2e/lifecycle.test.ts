// Live config and process lifecycle: reload under load, bad reloads, SIGTERM drain, and the
// messages an operator sees when the config or flags are wrong.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { startWaypoint } from '../helpers/waypoint.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { spawnSync } from 'node:child_process';

const NODE = 'node_modules/.bin/node';
const staticSe = (name: string, port: number) =>
  serviceEntry(name, `hosts: [${name}.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);

describe('live reload', () => {
  let up: HttpUpstream;
  let wp: InProcess;
  before(async () => {
    up = await startHttpUpstream();
    wp = await startInProcess(WAYPOINT_YAML + staticSe('api', up.port), { watch: true });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
  });

  test('reloading under load fails no request, and new hosts appear', async () => {
    const agent = new Agent({ connections: 8 });
    const proxy = wp.proxyUrl;
    let ok = 0;
    const failures: string[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const r = await request(`${proxy}/load`, { dispatcher: agent, headers: { host: 'api.test' } }).catch((e: Error) => e);
        if (r instanceof Error) failures.push(r.message);
        else {
          await r.body.text();
          if (r.statusCode === 200) ok++;
          else failures.push(String(r.statusCode));
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    for (let i = 0; i < 5; i++) {
      await wp.writeYaml(WAYPOINT_YAML + staticSe('api', up.port) + staticSe(`extra${i}`, up.port));
      await sleep(250);
    }
    stop = true;
    await Promise.all(workers);
    await agent.close();
    assert.deepEqual(failures, []);
    assert.ok(ok > 50, `only ${ok} requests completed`);
    const r = await curl(['-x', proxy, 'http://extra4.test/']);
    assert.equal(r.status, 200, 'the last reload must be live');
  });

  test('a bad reload keeps the last good snapshot and says where the error is', async () => {
    const before = wp.wp.store.current().version;
    await wp.writeYaml(`${WAYPOINT_YAML}${staticSe('api', up.port)}---\nkind: ServiceEntry\napiVersion: networking.istio.io/v1\nmetadata: {name: broken, namespace: istio-egress}\nspec:\n  hosts: ["*"]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n`);
    for (let i = 0; i < 40 && wp.wp.store.lastReload?.ok !== false; i++) await sleep(50);
    assert.equal(wp.wp.store.lastReload?.ok, false);
    assert.equal(wp.wp.store.current().version, before);
    const dump = await (await fetch(`${wp.adminUrl}/config_dump`)).json() as { lastReload: { ok: boolean; diagnostics: string[] } };
    assert.equal(dump.lastReload.ok, false);
    assert.ok(dump.lastReload.diagnostics.some((d) => /config\.yaml:\d+/.test(d) && /ServiceEntry istio-egress\/broken/.test(d)), dump.lastReload.diagnostics.join('\n'));
    const r = await curl(['-x', wp.proxyUrl, 'http://api.test/still']);
    assert.equal(r.status, 200);
  });
});

describe('process lifecycle (the real CLI)', () => {
  test('SIGTERM drains in-flight requests and exits 0', async () => {
    const up = await startHttpUpstream();
    const dir = await tmpDir();
    await writeFile(join(dir.path, 'c.yaml'), WAYPOINT_YAML + staticSe('api', up.port));
    const wp = await startWaypoint({ configDir: dir.path, args: ['--drain-duration', '5s'] });
    try {
      const slow = curl(['-x', wp.proxyUrl, 'http://api.test/delay/1200']);
      await sleep(300);
      const code = wp.stop('SIGTERM', 10_000);
      const r = await slow;
      assert.equal(r.status, 200, 'the in-flight request completes');
      assert.equal(await code, 0);
      const late = await curl(['-x', wp.proxyUrl, 'http://api.test/late', '--max-time', '2']);
      assert.equal(late.status, 0, 'no new requests after drain');
    } finally {
      await up.close();
      await dir.close();
    }
  });

  const runCli = (args: string[]) => spawnSync(NODE, ['src/cli/main.ts', 'run', ...args, '--proxy-port', '0', '--admin-port', '0', '--status-port', '0', '--stats-port', '0'], { encoding: 'utf8', timeout: 15_000 });

  test('malformed YAML exits 1 naming file:line, with no stack trace', async () => {
    const dir = await tmpDir();
    await writeFile(join(dir.path, 'bad.yaml'), `${WAYPOINT_YAML}---\nkind: ServiceEntry\nmetadata: {name: x\n  spec: [\n`);
    const r = runCli(['--config', dir.path]);
    await dir.close();
    assert.equal(r.status, 1);
    assert.match(r.stderr, /bad\.yaml:\d+:\d+/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  test('a missing waypoint exits 1 with the fix', async () => {
    const dir = await tmpDir();
    await writeFile(join(dir.path, 'c.yaml'), staticSe('api', 80));
    const r = runCli(['--config', dir.path]);
    await dir.close();
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no Gateway with gatewayClassName: istio-waypoint/);
    assert.match(r.stderr, /fix: add a Gateway/);
  });

  test('two waypoints without --waypoint is a clear error; --waypoint picks one', async () => {
    const dir = await tmpDir();
    await writeFile(join(dir.path, 'c.yaml'), WAYPOINT_YAML + '---' + WAYPOINT_YAML.replace('name: waypoint', 'name: other'));
    const r = runCli(['--config', dir.path]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /2 istio-waypoint Gateways.*--waypoint/s);
    const wp = await startWaypoint({ configDir: dir.path, args: ['--waypoint', 'istio-egress/other'] });
    assert.equal(await wp.stop('SIGTERM'), 0);
    await dir.close();
  });

  test('a port clash exits 1 naming both flags', () => {
    const r = spawnSync(NODE, ['src/cli/main.ts', 'run', '--config', 'examples/quickstart', '--proxy-port', '18001', '--stats-port', '18001'], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /port clash: --proxy-port and --stats-port are both 18001/);
  });

  test('unknown fields are warnings that name file:line and a suggestion, and the waypoint still starts', async () => {
    const dir = await tmpDir();
    await writeFile(join(dir.path, 'c.yaml'), WAYPOINT_YAML + staticSe('api', 80).replace('resolution: STATIC', 'resolution: STATIC\n  locaton: MESH_EXTERNAL'));
    const wp = await startWaypoint({ configDir: dir.path });
    const warn = wp.logs.find((l) => String(l.msg).includes('EGW0003'));
    assert.ok(warn, JSON.stringify(wp.logs));
    assert.match(String(warn.msg), /c\.yaml:\d+:\d+.*locaton.*location/);
    assert.equal(await wp.stop('SIGTERM'), 0);
    await dir.close();
  });
});
