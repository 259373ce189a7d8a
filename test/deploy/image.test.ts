// The container image, built with no container engine: scripts/build-image.sh assembles it with buildah
// (vfs storage, private to this test) from the project's Node 24 binary, dist/ and the production
// node_modules. The built image then runs: `egressway --version` through `buildah run`, and a whole
// waypoint as UID 65532 on a read-only root filesystem (only /tmp writable, as the chart mounts it)
// that answers its readiness probe and proxies a request. Its config agrees with the Dockerfile.
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from '../helpers/waypoint.ts';
import { freePorts } from '../helpers/kube.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { loopbackEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { fetchVia } from '../helpers/proxy-fetch.ts';
import { VERSION } from '../../src/version.ts';

const run = promisify(execFile);
const BUILDAH = ['/usr/bin/buildah', '/usr/local/bin/buildah'].find((p) => existsSync(p));
const skip = !BUILDAH ? 'skipped: buildah not installed (apt-get install buildah; .ci/run does)'
  : process.getuid?.() !== 0 ? 'skipped: building and chrooting into the image needs root (.ci/run runs as root)'
  : spawnSync('unshare', ['--mount', 'true']).status !== 0 ? 'skipped: this machine may not create a mount namespace (unshare --mount failed; a container without CAP_SYS_ADMIN?)' : undefined;
if (skip) console.log(`# image: ${skip}`);

const TAG = 'localhost/egressway:test';

describe('container image (scripts/build-image.sh, buildah, no daemon)', { skip, timeout: 600_000 }, () => {
  let store: TmpDir;
  let ctr = '';
  let rootfs = '';
  const bah = (args: string[]) => run(BUILDAH!, ['--storage-driver', 'vfs', '--root', join(store.path, 'root'), '--runroot', join(store.path, 'run'), ...args], { maxBuffer: 16 * 1024 * 1024 });

  before(async () => {
    store = await tmpDir('egressway-image-');
    await run('nice', ['-n', '10', join(REPO_ROOT, 'scripts/build-image.sh'), '--tag', TAG], {
      cwd: REPO_ROOT, env: { ...process.env, BUILDAH_ROOT: store.path }, maxBuffer: 16 * 1024 * 1024, timeout: 480_000,
    });
    ctr = (await bah(['from', '--pull-never', TAG])).stdout.trim();
    rootfs = (await bah(['mount', ctr])).stdout.trim();
  });
  after(async () => {
    if (store) {
      await bah(['rm', '--all']).catch(() => {});
      await bah(['rmi', '--all', '--force']).catch(() => {});
      await store.close();
    }
  });

  test('egressway --version runs from the image (buildah run, chroot isolation)', async () => {
    const { stdout } = await bah(['run', '--isolation', 'chroot', ctr, '--', '/usr/local/bin/node', '/app/bin/egressway.js', '--version']);
    assert.equal(stdout.trim(), VERSION);
  });

  test('every production dependency loads inside the image (the lazily imported ones too)', async () => {
    // reflect-metadata first: @peculiar/x509 needs its polyfill, as src/ imports it first.
    const script = `import { readFileSync } from 'node:fs';
      const deps = Object.keys(JSON.parse(readFileSync('/app/package.json', 'utf8')).dependencies).sort((a, b) => (b === 'reflect-metadata') - (a === 'reflect-metadata'));
      const failed = [];
      for (const d of deps) await import(d).catch((e) => failed.push(d + ': ' + e.message));
      console.log(JSON.stringify({ deps: deps.length, failed }));
      process.exit(0);`;
    const { stdout } = await bah(['run', '--isolation', 'chroot', '--workingdir', '/app', ctr, '--', '/usr/local/bin/node', '--input-type=module', '-e', script]);
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.deepEqual(r.failed, []);
    assert.ok(r.deps >= 10, `${r.deps} dependencies checked`);
  });

  test('the image config matches the Dockerfile: numeric non-root user, entrypoint, workdir', async () => {
    const cfg = JSON.parse((await bah(['inspect', '--type', 'image', TAG])).stdout).OCIv1.config;
    const dockerfile = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const last = (re: RegExp) => [...dockerfile.matchAll(re)].at(-1)?.[1];
    assert.equal(cfg.User, last(/^USER (\S+)$/gm));
    assert.match(cfg.User, /^[1-9]\d*:[1-9]\d*$/, 'a numeric non-root UID:GID, so runAsNonRoot can check it');
    assert.deepEqual(cfg.Entrypoint, JSON.parse(last(/^ENTRYPOINT (\[.*\])$/gm)!));
    assert.equal(cfg.WorkingDir, last(/^WORKDIR (\S+)$/gm));
    assert.deepEqual(cfg.Cmd, JSON.parse(last(/^CMD (\[.*\])$/gm)!));
  });

  test('only dist/ and production node_modules: no sources, tests or dev dependencies', () => {
    assert.ok(existsSync(join(rootfs, 'app/dist/cli/main.js')), 'dist/cli/main.js is there');
    assert.ok(existsSync(join(rootfs, 'app/node_modules/@kubernetes/client-node/package.json')), 'a production dependency is there');
    for (const absent of ['app/src', 'app/test', 'app/node_modules/typescript', 'app/node_modules/fast-check', 'app/node_modules/node', 'app/node_modules/@types/dns-packet']) {
      assert.ok(!existsSync(join(rootfs, absent)), `${absent} must not be in the image`);
    }
  });

  describe('a waypoint from the image, UID 65532, read-only root, only /tmp writable', () => {
    let up: HttpUpstream;
    let child: ChildProcess;
    let out = '';
    const ports = { proxy: 0, status: 0 };

    before(async () => {
      up = await startHttpUpstream();
      const [proxy, admin, status, stats] = await freePorts(4);
      Object.assign(ports, { proxy, status });
      const config = WAYPOINT_YAML + loopbackEntry('httpbin', up.port);
      // A private mount namespace: the image's root bound read-only, a tmpfs at /tmp (the chart's
      // emptyDir) holding the config; then chroot as 65532. The host's network is shared (loopback).
      const script = [
        'set -e', `r='${rootfs}'`,
        'mount --bind "$r" "$r"', 'mount -o remount,bind,ro "$r"', 'mount -t tmpfs -o mode=1777 tmpfs "$r/tmp"',
        'cat > "$r/tmp/config.yaml"', 'chmod 0644 "$r/tmp/config.yaml"',
        `exec chroot --userspec=65532:65532 "$r" /usr/local/bin/node /app/bin/egressway.js run --config /tmp/config.yaml --no-watch --listen-address 127.0.0.1 --proxy-port ${proxy} --admin-port ${admin} --status-port ${status} --stats-port ${stats} --access-log off`,
      ].join('\n');
      child = spawn('unshare', ['--mount', '--propagation', 'private', '--fork', '--kill-child=SIGTERM', 'sh', '-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdout!.on('data', (c) => (out += c));
      child.stderr!.on('data', (c) => (out += c));
      child.stdin!.end(config);
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (child.exitCode !== null) assert.fail(`the image's waypoint exited ${child.exitCode}: ${out.slice(-2000)}`);
        const ok = await fetch(`http://127.0.0.1:${status}/healthz/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline) assert.fail(`the image's waypoint was not ready after 60 s: ${out.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    });
    // `unshare --fork` ignores SIGTERM while it waits: signal its child, the chroot'ed node (sh and
    // chroot exec'ed into it), and unshare exits with it.
    const nodePid = () => Number(readFileSafe(`/proc/${child.pid}/task/${child.pid}/children`).trim().split(' ')[0]);
    after(async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        const pid = nodePid();
        if (pid) process.kill(pid, 'SIGTERM');
        else child.kill('SIGKILL');
        await exited;
      }
      await up?.close();
    });

    test('it is ready and proxies a request to a ServiceEntry host', async () => {
      const res = await fetchVia(`http://127.0.0.1:${ports.proxy}`, 'http://httpbin.test/get', {}, { tunnel: false });
      assert.equal(res.status, 200, out.slice(-1000));
    });

    test('the process runs as 65532 and its root is read-only', async () => {
      const status = await readFile(`/proc/${nodePid()}/status`, 'utf8');
      assert.match(status, /^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
      const mounts = await readFile(`/proc/${nodePid()}/mounts`, 'utf8');
      assert.match(mounts, /^\S+ \/ \S+ ro[,\s]/m, 'its root is mounted read-only');
    });
  });
});

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}
