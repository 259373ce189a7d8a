// Issue 16: what a command loads is what it pays for, in start-up time and in resident memory for
// the life of the process. A preload records every module the real CLI loads; the waypoint at idle
// and one `check` must not load the libraries only some configs or commands need.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { authorizationPolicy, loopbackEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { REPO_ROOT, startWaypoint, tmpDir } from '../helpers/run.ts';
import type { TmpDir } from '../helpers/run.ts';

// registerHooks sees every ESM and CommonJS module; moduleLoadList names Node's own (internal undici
// comes with node:http). Written at exit, so the list is complete.
const RECORDER = `
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const seen = new Set();
registerHooks({ load(url, context, next) { seen.add(url); return next(url, context); } });
process.on('exit', () => writeFileSync(process.env.LOADED_OUT, [...seen, ...process.moduleLoadList].join('\\n')));
`;

// The same per thread (a worker of \`run --concurrency N\` runs the preload too), to LOADED_OUT.<threadId>,
// rewritten as modules load: a worker is ended by terminate(), which runs no exit handlers.
const THREAD_RECORDER = `
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
const seen = new Set();
let due = false;
const write = () => { due = false; writeFileSync(process.env.LOADED_OUT + '.' + threadId, [...seen, ...process.moduleLoadList].join('\\n')); };
registerHooks({ load(url, context, next) { seen.add(url); if (!due) { due = true; setImmediate(write); } return next(url, context); } });
process.on('exit', write);
`;

const QUICKSTART = join(REPO_ROOT, 'examples/quickstart');
const NODE = join(REPO_ROOT, 'node_modules/.bin/node');

let dir: TmpDir;
let recorder: string;
let threadRecorder: string;
before(async () => {
  dir = await tmpDir('egressway-lazy-');
  recorder = join(dir.path, 'recorder.mjs');
  await writeFile(recorder, RECORDER);
  threadRecorder = join(dir.path, 'thread-recorder.mjs');
  await writeFile(threadRecorder, THREAD_RECORDER);
});
after(() => dir.close());

function loaded(out: string): string[] {
  return readFileSync(out, 'utf8').split('\n');
}

/** The entries of `list` that belong to a package (node_modules/<name>/ or node_modules/<name>/<file>). */
function fromPackage(list: readonly string[], name: string, file = ''): string[] {
  return list.filter((u) => u.includes(`/node_modules/${name}/${file}`));
}

test('an idle waypoint on the quickstart loads neither jose, OpenTelemetry, client-node, x509, gRPC, nor the indexes of undici and prom-client', async () => {
  const out = join(dir.path, 'run.txt');
  const w = await startWaypoint({ configDir: QUICKSTART, args: ['--drain-duration', '0s'], env: { NODE_OPTIONS: `--import ${recorder}`, LOADED_OUT: out } });
  await w.close();
  const list = loaded(out);
  assert.ok(list.some((u) => u.endsWith('/src/server.ts')), 'the recorder saw the waypoint load');
  assert.deepEqual(fromPackage(list, 'jose'), [], 'jose: only a RequestAuthentication token needs it');
  assert.deepEqual(list.filter((u) => u.includes('/node_modules/@opentelemetry/')), [], 'OpenTelemetry: only --otlp-endpoint needs it');
  assert.deepEqual(fromPackage(list, '@kubernetes/client-node'), [], 'client-node: only --kubernetes needs it');
  assert.deepEqual(fromPackage(list, '@peculiar/x509'), [], '@peculiar/x509: only `certs` and the istiod CA client need it');
  assert.deepEqual(list.filter((u) => u.includes('/node_modules/@grpc/')), [], 'gRPC: only the istiod CA client needs it');
  assert.deepEqual(fromPackage(list, 'undici', 'index.js'), [], "undici's index (fetch, WebSocket, cache...): the data plane uses Pool and Client only");
  assert.deepEqual(fromPackage(list, 'prom-client', 'index.js'), [], "prom-client's index (default metrics, push gateway)");
  assert.ok(fromPackage(list, 'undici', 'lib/dispatcher/pool.js').length === 1, 'the data plane still has its Pool');
  assert.ok(!list.includes('NativeModule http2'), 'node:http2: only HBONE, an h2c tunnel or an HTTP/2 upstream needs it');
  // `import { createServer } from 'node:http'` would read the WebSocket getter (src/node-http.ts).
  assert.ok(!list.includes('NativeModule internal/deps/undici/undici'), "Node's own bundled undici (fetch, WebSocket)");
  assert.deepEqual(fromPackage(list, 'yaml'), [], 'yaml: the quickstart fits the fast path (config/yaml-fast.ts); yaml loads for a file that does not');
});

// Each thread of `run --concurrency N` is its own V8 isolate: a module loaded in the primary and in N
// workers is compiled and kept N + 1 times. The primary serves no traffic; workers get compiled
// snapshots and never read a config. Run as \`npm start\` runs it (bin/egressway.js, compile cache on),
// twice: the first run fills the compile cache, as the first start after an install or edit does.
test('run --concurrency 2: the primary loads no request path, the workers no config, compile, YAML or CLI code and no TypeScript stripper', async () => {
  const out = join(dir.path, 'threads');
  for (const round of [1, 2]) {
    const w = await startWaypoint({ configDir: QUICKSTART, entry: 'bin/egressway.js', args: ['--concurrency', '2', '--drain-duration', '0s'], env: { NODE_OPTIONS: `--import ${threadRecorder}`, LOADED_OUT: `${out}${round}` } });
    await w.close();
  }
  const primary = loaded(`${out}2.0`);
  assert.ok(primary.some((u) => u.endsWith('/src/workers/primary.ts')), 'the recorder saw the primary start');
  for (const path of ['/src/data-plane.ts', '/src/dataplane/proxy-listener.ts', '/src/hbone/', '/node_modules/undici/']) {
    assert.deepEqual(primary.filter((u) => u.includes(path)), [], `the primary loads no ${path}`);
  }
  const workers = [1, 2, 3].filter((id) => existsSync(`${out}2.${id}`)).map((id) => loaded(`${out}2.${id}`));
  assert.equal(workers.length, 2, 'two workers recorded what they loaded');
  for (const list of workers) {
    assert.ok(list.some((u) => u.endsWith('/src/dataplane/proxy-listener.ts')), 'a worker runs the request path');
    for (const path of ['/src/config/', '/src/compile/', '/src/cli/', '/node_modules/yaml/', '/node_modules/commander/', 'internal/deps/amaro']) {
      assert.deepEqual(list.filter((u) => u.includes(path)), [], `a worker loads no ${path}`);
    }
  }
});

test('one `egressway check` loads neither jose, undici nor node:http', async () => {
  const out = join(dir.path, 'check.txt');
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(NODE, [join(REPO_ROOT, 'bin/egressway.js'), 'check', '--config', QUICKSTART, '--from', 'spiffe://cluster.local/ns/default/sa/curl', 'http://httpbin.org/get'],
      { env: { ...process.env, NODE_OPTIONS: `--import ${recorder}`, LOADED_OUT: out }, timeout: 60_000 },
      (err, so, se) => (err && err.code !== 1 ? reject(new Error(`${err.message}\n${se}`)) : resolve(so)));
  });
  assert.match(stdout, /decision/, 'check ran and printed its verdict');
  const list = loaded(out);
  assert.deepEqual(fromPackage(list, 'jose'), [], 'jose: the request carries no JWT');
  assert.deepEqual(fromPackage(list, 'undici'), [], 'undici: no ext-authz call, no remote JWKS');
  assert.deepEqual(list.filter((u) => u === 'NativeModule http' || u.includes('internal/deps/undici')), [],
    "node:http brings Node's bundled undici: about 0.1 s of CPU per check");
});

// The other side of the same coin: a config that will verify JWTs or call an ext-authz provider loads
// jose and undici's request API as soon as it is in force, not on the first such request (which then
// waited for 50 to 150 modules: past a client's patience on a busy machine).
test('a config with a RequestAuthentication (jwksUri) and a CUSTOM policy loads jose and undici before any request', async () => {
  const out = join(dir.path, 'warm.txt');
  const config = join(dir.path, 'warm');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(config);
  await writeFile(join(config, 'config.yaml'), WAYPOINT_YAML + loopbackEntry('guarded', 9)
    + authorizationPolicy('guard', 'guarded', 'action: CUSTOM\nprovider: {name: checker}\nrules: [{}]\n')
    + authorizationPolicy('guard', 'guarded', 'jwtRules: [{issuer: https://issuer.test, jwksUri: "http://127.0.0.1:9/jwks"}]\n').replace('kind: AuthorizationPolicy', 'kind: RequestAuthentication'));
  const mesh = join(dir.path, 'mesh.yaml');
  await writeFile(mesh, 'extensionProviders:\n- name: checker\n  envoyExtAuthzHttp: {service: authz.local/127.0.0.1, port: 9, timeout: 2s}\n');
  const w = await startWaypoint({ configDir: config, args: ['--mesh-config', mesh, '--drain-duration', '0s'], env: { NODE_OPTIONS: `--import ${recorder}`, LOADED_OUT: out } });
  await new Promise((r) => setTimeout(r, 3000));
  await w.close();
  const list = loaded(out);
  assert.ok(fromPackage(list, 'jose', 'dist/webapi/index.js').length === 1, 'jose is loaded');
  assert.ok(fromPackage(list, 'undici', 'index.js').length === 1, "undici's request API is loaded");
});
