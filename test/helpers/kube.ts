// A real Kubernetes control plane for tests: etcd and kube-apiserver built from their Go modules by
// scripts/build-peers.sh (.peers/bin), started on loopback ports with a fresh data directory, RBAC on,
// and a static admin token. `kubectl` is the real one. Suites call kubePeers() first: when the
// binaries are missing it returns the one-line reason to skip.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './waypoint.ts';
import { tmpDir, type TmpDir } from './tmp.ts';

const run = promisify(execFile);
export const PEERS_DIR = process.env.EGRESSWAY_PEERS_DIR ?? join(REPO_ROOT, '.peers');
const BIN = join(PEERS_DIR, 'bin');

/** undefined when etcd, kube-apiserver and kubectl are built; else why the suite skips. */
export function kubePeersMissing(): string | undefined {
  const missing = ['etcd', 'kube-apiserver', 'kubectl'].filter((b) => !existsSync(join(BIN, b)));
  return missing.length ? `skipped: ${missing.join(', ')} not built (run scripts/build-peers.sh; .ci/run does)` : undefined;
}

/**
 * `n` distinct free ports: each is held until all are found. Asked one after another, a port closed
 * a moment ago can come back (etcd's client port was also given to kube-apiserver once).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface KubeControlPlane {
  readonly server: string;
  /** Admin kubeconfig (system:masters). */
  readonly kubeconfig: string;
  readonly dir: string;
  kubectl(args: readonly string[], input?: string): Promise<string>;
  /** A kubeconfig for a ServiceAccount token (RBAC applies to it). */
  kubeconfigFor(namespace: string, serviceAccount: string): Promise<string>;
  /** Stops kube-apiserver and starts it again on the same port and etcd (watches break). */
  restartApiServer(): Promise<void>;
  close(): Promise<void>;
}

interface Proc {
  child: ChildProcess;
  log: string[];
}

function start(cmd: string, args: string[], logs: string[]): Proc {
  const child = spawn(join(BIN, cmd), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const keep = (c: Buffer) => {
    log.push(c.toString());
    if (log.length > 200) log.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  logs.push(cmd);
  return { child, log };
}

async function stop(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(t);
}

async function waitFor(what: string, p: Proc, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (p.child.exitCode !== null) throw new Error(`${what} exited with ${p.child.exitCode}: ${p.log.join('').slice(-2000)}`);
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms: ${p.log.join('').slice(-2000)}`);
}

/**
 * Starts etcd and kube-apiserver. freePort() only picks a port that was free a moment ago: another
 * suite's process may take it before ours binds, so a start that fails on a taken address is tried
 * again on new ports. A start that fails stops what it started (a live etcd child would keep the
 * test process from ever exiting).
 */
export async function startKube(): Promise<KubeControlPlane> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startKubeOnce();
    } catch (err) {
      if (attempt >= 3 || !/address already in use|bind: /i.test(String(err))) throw err;
    }
  }
}

async function startKubeOnce(): Promise<KubeControlPlane> {
  const tmp: TmpDir = await tmpDir('egressway-kube-');
  const started: Proc[] = [];
  try {
    return await bootKube(tmp, started);
  } catch (err) {
    for (const p of started.reverse()) await stop(p);
    await tmp.close();
    throw err;
  }
}

async function bootKube(tmp: TmpDir, started: Proc[]): Promise<KubeControlPlane> {
  const dir = tmp.path;
  const names: string[] = [];
  const [etcdClient, etcdPeer, apiPort] = await freePorts(3);
  await mkdir(join(dir, 'etcd'), { recursive: true });
  await mkdir(join(dir, 'certs'), { recursive: true });
  const etcd = start('etcd', [
    '--data-dir', join(dir, 'etcd'), '--name', 'test',
    '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
    '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
    '--initial-cluster', `test=http://127.0.0.1:${etcdPeer}`, '--log-level', 'error',
  ], names);
  started.push(etcd);
  await waitFor('etcd', etcd, async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok, 30_000);

  const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(join(dir, 'sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await writeFile(join(dir, 'sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
  const token = `admin-${Math.random().toString(36).slice(2)}`;
  await writeFile(join(dir, 'tokens.csv'), `${token},admin,admin,system:masters\n`);
  const apiArgs = [
    '--etcd-servers', `http://127.0.0.1:${etcdClient}`, '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1',
    '--secure-port', String(apiPort), '--cert-dir', join(dir, 'certs'),
    '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local',
    '--service-account-key-file', join(dir, 'sa.pub'), '--service-account-signing-key-file', join(dir, 'sa.key'),
    '--api-audiences', 'https://kubernetes.default.svc.cluster.local,istio-ca',
    '--token-auth-file', join(dir, 'tokens.csv'), '--authorization-mode', 'RBAC',
    '--service-cluster-ip-range', '10.96.0.0/16', '--enable-priority-and-fairness=false',
    '--disable-admission-plugins', 'ServiceAccount', '--v', '0',
  ];
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = join(dir, 'admin.kubeconfig');
  await writeFile(kubeconfig, kubeconfigText(server, token));
  let api = start('kube-apiserver', apiArgs, names);
  started.push(api);
  const kubectl = async (args: readonly string[], input?: string) => {
    const child = execFile(join(BIN, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 64 * 1024 * 1024 });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
    return new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout!.on('data', (c) => (out += c));
      child.stderr!.on('data', (c) => (err += c));
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`kubectl ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
    });
  };
  const ready = async () => (await run(join(BIN, 'kubectl'), ['--kubeconfig', kubeconfig, 'get', '--raw', '/readyz'])).stdout.trim() === 'ok';
  await waitFor('kube-apiserver', api, ready, 90_000);
  return {
    server, kubeconfig, dir, kubectl,
    async kubeconfigFor(namespace, serviceAccount) {
      const tok = (await kubectl(['create', 'token', serviceAccount, '-n', namespace, '--duration', '1h'])).trim();
      const file = join(dir, `${namespace}-${serviceAccount}.kubeconfig`);
      await writeFile(file, kubeconfigText(server, tok));
      return file;
    },
    async restartApiServer() {
      await stop(api);
      api = start('kube-apiserver', apiArgs, names);
      await waitFor('kube-apiserver', api, ready, 90_000);
    },
    async close() {
      await stop(api);
      await stop(etcd);
      await tmp.close();
    },
  };
}

/** undefined when kube-controller-manager is built; else why a test needing it skips. */
export function controllerManagerMissing(): string | undefined {
  return existsSync(join(BIN, 'kube-controller-manager')) ? undefined : 'skipped: kube-controller-manager not built (run scripts/build-peers.sh; .ci/run does)';
}

/**
 * A real kube-controller-manager on the admin kubeconfig, for garbage collection (owner references)
 * and Deployments. No leader election, no serving port, no per-controller service accounts.
 */
export async function startControllerManager(k: KubeControlPlane, controllers: readonly string[] = ['garbagecollector', 'deployment', 'replicaset']): Promise<{ close(): Promise<void> }> {
  const p = start('kube-controller-manager', [
    '--kubeconfig', k.kubeconfig, '--controllers', controllers.join(','), '--leader-elect=false',
    '--use-service-account-credentials=false', '--secure-port', '0', '--v', '0',
  ], []);
  // Running means: still alive after its start-up (a bad flag exits at once).
  await new Promise((r) => setTimeout(r, 1_000));
  if (p.child.exitCode !== null) throw new Error(`kube-controller-manager exited with ${p.child.exitCode}: ${p.log.join('').slice(-2000)}`);
  return { close: () => stop(p) };
}

function kubeconfigText(server: string, token: string): string {
  return [
    'apiVersion: v1', 'kind: Config', 'current-context: test',
    'clusters:', '- name: test', '  cluster:', `    server: ${server}`, '    insecure-skip-tls-verify: true',
    'users:', '- name: test', '  user:', `    token: ${token}`,
    'contexts:', '- name: test', '  context: {cluster: test, user: test}', '',
  ].join('\n');
}

/** Applies the Istio and Gateway API CRDs that build-peers.sh copied from their modules, and waits for them. */
export async function installCrds(k: KubeControlPlane): Promise<void> {
  await k.kubectl(['apply', '--server-side', '-f', join(PEERS_DIR, 'crds', 'istio.yaml')]);
  await k.kubectl(['apply', '--server-side', '-f', join(PEERS_DIR, 'crds', 'gateway-api')]);
  await k.kubectl(['wait', '--for', 'condition=Established', '--timeout', '60s', 'crd', '--all']);
}

/** A Secret in istio-egress (kubernetes.io/tls, or generic with the given keys), as kubectl would create it. */
export function secretYaml(name: string, data: Record<string, string>, type = 'Opaque'): string {
  const enc = Object.entries(data).map(([k, v]) => `  ${JSON.stringify(k)}: ${Buffer.from(v).toString('base64')}`).join('\n');
  return `---\napiVersion: v1\nkind: Secret\nmetadata: {name: ${name}, namespace: istio-egress}\ntype: ${type}\ndata:\n${enc || '  {}'}\n`;
}
