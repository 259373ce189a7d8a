// Issue 16: what a command loads is what it pays for, in start-up time and in resident memory for
// the life of the process. A preload records every module the real CLI loads; the waypoint at idle
// and one `check` must not load the libraries only some configs or commands need.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

const QUICKSTART = join(REPO_ROOT, 'examples/quickstart');
const NODE = join(REPO_ROOT, 'node_modules/.bin/node');

let dir: TmpDir;
let recorder: string;
before(async () => {
  dir = await tmpDir('egressway-lazy-');
  recorder = join(dir.path, 'recorder.mjs');
  await writeFile(recorder, RECORDER);
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
