// The published package, installed as a user installs it: `npm pack` (its prepack builds dist/), then
// `npm install <tarball>` into a fresh project, then the installed `egressway` bin. Node refuses to strip
// types under node_modules, so every other test (which runs src/) would pass on a package that cannot run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, startWaypoint, tmpDir } from '../helpers/run.ts';
import type { ListenerAddress, TmpDir, Waypoint } from '../helpers/run.ts';

interface Ran {
  code: number | string;
  stdout: string;
  stderr: string;
}

function exec(file: string, args: readonly string[], cwd: string): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, timeout: 150_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as NodeJS.ErrnoException).code ?? 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function explain(what: string, r: Ran): string {
  return `${what} failed (${r.code})\n--- stderr ---\n${r.stderr.slice(-3000)}\n--- stdout ---\n${r.stdout.slice(-2000)}`;
}

// Under `npm test`, the npm that started this run, on this same Node 24; run alone, the npm on PATH.
const NPM: readonly [string, ...string[]] = /npm-cli\.c?js$/.test(process.env.npm_execpath ?? '')
  ? [process.execPath, process.env.npm_execpath!]
  : ['npm'];
const npm = (args: readonly string[], cwd: string) => exec(NPM[0], [...NPM.slice(1), ...args], cwd);

const npmMissing = (await npm(['--version'], REPO_ROOT)).code === 'ENOENT';

/**
 * Installs the tarball from the npm cache alone (`npm ci` filled it). Without a cache, the package is
 * unpacked by hand and its dependencies are this checkout's node_modules: no download either way.
 */
async function install(tarball: string, app: string): Promise<string> {
  const offline = await npm(['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball], app);
  if (offline.code === 0) return 'npm install --offline';
  const pkg = join(app, 'node_modules/egressway');
  await mkdir(pkg, { recursive: true });
  const untar = await exec('tar', ['-xzf', tarball, '--strip-components=1', '-C', pkg], app);
  if (untar.code !== 0) throw new Error(`${explain('npm install --offline', offline)}\n${explain('tar', untar)}`);
  await symlink(join(REPO_ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  await mkdir(join(app, 'node_modules/.bin'), { recursive: true });
  await symlink('../egressway/bin/egressway.js', join(app, 'node_modules/.bin/egressway'));
  const why = offline.stderr.split('\n').find((l) => /npm error (code|errno)/.test(l)) ?? `exit ${offline.code}`;
  return `unpacking it with this checkout's node_modules linked (npm install --offline: ${why.trim()})`;
}

function httpGet(to: ListenerAddress, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: to.host, port: to.port, path, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${path} via ${to.authority}: no response in 5 s`)));
    req.once('error', reject).end();
  });
}

describe('the packed and installed package', { skip: npmMissing && 'npm is not on PATH: cannot pack and install the package' }, () => {
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  let dir: TmpDir;
  let app: string;
  let pkg: string;
  let bin: string;
  let how: string;
  let waypoint: Waypoint | undefined;

  before(async () => {
    dir = await tmpDir('egressway-pack-');
    const packed = await npm(['pack', '--pack-destination', dir.path], REPO_ROOT);
    assert.equal(packed.code, 0, explain('npm pack', packed));
    const tarball = readdirSync(dir.path).find((f) => f.endsWith('.tgz'));
    assert.ok(tarball, `npm pack wrote no .tgz into ${dir.path}`);
    app = join(dir.path, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), '{"name": "egressway-install-test", "private": true}\n');
    how = await install(join(dir.path, tarball), app);
    pkg = join(app, 'node_modules/egressway');
    bin = join(app, 'node_modules/.bin/egressway');
  }, { timeout: 240_000 });

  after(async () => {
    await waypoint?.close();
    await dir?.close();
  });

  test('ships compiled JavaScript, the bin and the examples, and no TypeScript sources', (t) => {
    t.diagnostic(`installed by ${how}`);
    for (const f of ['bin/egressway.js', 'dist/cli/main.js', 'dist/server.js', 'dist/telemetry/otlp.js', 'examples/quickstart/waypoint.yaml']) {
      assert.ok(existsSync(join(pkg, f)), `${f} is missing from the package`);
    }
    assert.ok(!existsSync(join(pkg, 'src')), 'src/ was packed: the installed bin must run dist/');
    assert.ok(!existsSync(join(pkg, 'test')), 'test/ was packed');
  });

  test('egressway --version runs from node_modules', async () => {
    const r = await exec(process.execPath, [bin, '--version'], app);
    assert.equal(r.code, 0, explain('egressway --version', r));
    assert.equal(r.stdout.trim(), version);
  });

  test('egressway run listens, serves the dashboard assets and refuses an unknown host', async () => {
    waypoint = await startWaypoint({
      configDir: join(pkg, 'examples/quickstart'),
      entry: bin,
      // Loads the OpenTelemetry SDK through the lazy import('./telemetry/otlp.js'); nothing listens on 9.
      args: ['--otlp-endpoint', 'http://127.0.0.1:9', '--drain-duration', '1s'],
    });
    const { admin, proxy } = waypoint.listeners;
    assert.ok(admin && proxy, `listening line without admin or proxy: ${JSON.stringify(waypoint.listeners)}`);
    await waypoint.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('exporting one span per request'));

    // uPlot is read at run time from the installed dependency, relative to dist/dashboard/.
    const js = await httpGet(admin, '/assets/uPlot.iife.min.js');
    assert.equal(js.status, 200, js.body);
    assert.match(js.body, /uPlot/);
    assert.equal((await httpGet(admin, '/')).status, 200);

    const refused = await httpGet(proxy, 'http://not-in-registry.invalid/');
    assert.equal(refused.status, 502, refused.body);
    assert.equal(refused.headers['x-egressway-flags'], 'NR');

    assert.equal(await waypoint.stop('SIGTERM', 10_000), 0, waypoint.stderr);
  });
});
