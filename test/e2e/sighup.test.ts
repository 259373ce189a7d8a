// Regression (issue 11): SIGHUP killed the waypoint (Node's default). Like nginx, it now reloads the
// config paths and --mesh-config, through the real CLI, with the file watcher off so that only the
// signal can have caused the reload.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { startWaypoint, type LogLine, type Waypoint } from '../helpers/waypoint.ts';

const staticSe = (name: string, port: number) =>
  serviceEntry(name, `hosts: [${name}.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);

describe('SIGHUP reloads the config (real CLI, --no-watch)', () => {
  let up: HttpUpstream;
  let dir: TmpDir;
  let wp: Waypoint;
  const msgs = (from: number) => wp.logs.slice(from).map((l: LogLine) => String(l.msg));
  // A log line matching `re` printed after the first `from` lines (waitForLog also sees older ones).
  const logAfter = (from: number, re: RegExp) => wp.waitForLog((l) => re.test(String(l.msg)) && wp.logs.indexOf(l) >= from);
  const hup = () => {
    const from = wp.logs.length;
    process.kill(wp.pid, 'SIGHUP');
    return from;
  };
  before(async () => {
    up = await startHttpUpstream();
    dir = await tmpDir();
    await writeFile(join(dir.path, 'c.yaml'), WAYPOINT_YAML + staticSe('api', up.port));
    await writeFile(join(dir.path, 'mesh.yaml'), 'outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n');
    wp = await startWaypoint({ configDir: join(dir.path, 'c.yaml'), args: ['--no-watch', '--mesh-config', join(dir.path, 'mesh.yaml')] });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    await dir?.close();
  });

  test('a new host is live after SIGHUP, and the process keeps running', async () => {
    assert.equal((await curl(['-x', wp.proxyUrl, 'http://extra.test/'])).status, 502, 'not routable before the reload');
    await writeFile(join(dir.path, 'c.yaml'), WAYPOINT_YAML + staticSe('api', up.port) + staticSe('extra', up.port));
    const from = hup();
    await logAfter(from, /^config loaded/);
    assert.ok(msgs(from).includes('SIGHUP: reloading the config'), msgs(from).join('\n'));
    assert.equal(wp.exitCode, null, 'still running');
    assert.equal((await curl(['-x', wp.proxyUrl, 'http://extra.test/'])).status, 200);
  });

  test('SIGHUP with nothing changed logs "unchanged" and swaps nothing', async () => {
    const from = hup();
    await logAfter(from, /^SIGHUP: config unchanged \(snapshot [0-9a-f]+\)$/);
    assert.ok(!msgs(from).some((m) => m.startsWith('config loaded')), msgs(from).join('\n'));
  });

  test('a broken file on SIGHUP is refused and the last good config keeps serving', async () => {
    await writeFile(join(dir.path, 'c.yaml'), `${WAYPOINT_YAML}${staticSe('api', up.port)}---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: bad, namespace: istio-egress}\nspec:\n  hosts: [bad.test]\n  ports: [null]\n`);
    await logAfter(hup(), /^config rejected/);
    assert.equal((await curl(['-x', wp.proxyUrl, 'http://extra.test/'])).status, 200, 'the last good config still serves');
    await writeFile(join(dir.path, 'c.yaml'), WAYPOINT_YAML + staticSe('api', up.port) + staticSe('extra', up.port));
    await logAfter(hup(), /^config loaded/);
  });

  test('--mesh-config is read again: outboundTrafficPolicy ALLOW_ANY takes effect', async () => {
    // ALLOW_ANY sends an unknown host to PassthroughCluster; the SSRF guard then refuses loopback (403),
    // where REGISTRY_ONLY answered 502 NR. The status difference is the policy change.
    const before = await curl(['-x', wp.proxyUrl, `http://localhost:${up.port}/`, '-D', '-']);
    assert.equal(before.status, 502);
    await writeFile(join(dir.path, 'mesh.yaml'), 'outboundTrafficPolicy: {mode: ALLOW_ANY}\n');
    await logAfter(hup(), /^config loaded/);
    const afterHup = await curl(['-x', wp.proxyUrl, `http://localhost:${up.port}/`, '-D', '-']);
    assert.equal(afterHup.status, 403, 'PassthroughCluster, then the SSRF guard');
    assert.match(afterHup.stdout, /x-egressway-details: egress_denied\{ssrf_guard\}/i);
  });

  test('an unreadable --mesh-config on SIGHUP keeps the last good config', async () => {
    await writeFile(join(dir.path, 'mesh.yaml'), 'outboundTrafficPolicy: [\n');
    await logAfter(hup(), /^SIGHUP: --mesh-config .* is not valid YAML.*still serving the last good config$/);
    assert.equal((await curl(['-x', wp.proxyUrl, 'http://api.test/'])).status, 200);
    assert.equal(wp.exitCode, null);
  });

  test('SIGTERM after SIGHUPs still drains and exits 0', async () => {
    assert.equal(await wp.stop('SIGTERM'), 0);
  });
});
