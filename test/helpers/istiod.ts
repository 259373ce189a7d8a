// A real istiod (pilot-discovery, built from istio.io/istio by scripts/build-peers.sh) run out of
// cluster against the test kube-apiserver: every port on loopback, ambient on, its self-signed CA
// (istio-ca-secret in istio-system), TokenReview against our API server for the CA's tokens
// (audience istio-ca, which startKube's --api-audiences accepts). One istiod per test file: it is
// heavy, so it runs under `nice`. Flags and environment are Istio's own:
//   pilot/cmd/pilot-discovery/app/cmd.go (--kubeconfig, --meshConfig, --*Addr, --clusterID, --domain),
//   pilot/pkg/features (PILOT_ENABLE_AMBIENT, ENABLE_DEBUG_ON_HTTP, *_WEBHOOK_CONFIG_NAME),
//   pilot/pkg/bootstrap/istio_ca.go (DEFAULT_WORKLOAD_CERT_TTL, MAX_WORKLOAD_CERT_TTL).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePorts, kubePeersMissing, PEERS_DIR, type KubeControlPlane } from './kube.ts';

/** $EGRESSWAY_ISTIOD, else .peers/bin/pilot-discovery (scripts/build-peers.sh). */
export function istiodBinary(): string | undefined {
  return [process.env.EGRESSWAY_ISTIOD, join(PEERS_DIR, 'bin', 'pilot-discovery')]
    .find((p): p is string => !!p && existsSync(p));
}

/** undefined when kube-apiserver, etcd, kubectl and pilot-discovery are built; else why the suite skips. */
export function istiodMissing(): string | undefined {
  return kubePeersMissing() ?? (istiodBinary() ? undefined : 'skipped: pilot-discovery (istiod) not built (run scripts/build-peers.sh; .ci/run does)');
}

export interface Istiod {
  /** 127.0.0.1:port of the CA and secure xDS (Istio's 15012). */
  readonly caAddress: string;
  /** The name in istiod's serving certificate (pass as --ca-server-name). */
  readonly serverName: string;
  /** Plaintext xDS (15010) and HTTP debug (8080; localhost gets /debug/* unauthenticated). */
  readonly grpcAddress: string;
  readonly httpAddress: string;
  readonly monitoringAddress: string;
  /** Milliseconds from spawn to /ready. */
  readonly startMs: number;
  /** The environment and flags it was started with, for reports. */
  readonly env: Readonly<Record<string, string>>;
  readonly args: readonly string[];
  /** GET a debug path on the HTTP port, parsed as JSON. */
  debug<T = unknown>(path: string): Promise<T>;
  /** root-cert.pem from the istio-ca-root-cert ConfigMap istiod writes into `namespace`. */
  rootCert(namespace: string): Promise<string>;
  log(): string;
  close(): Promise<void>;
}

export interface IstiodOptions {
  /** Extra environment (overrides the defaults below). */
  readonly env?: Readonly<Record<string, string>>;
  readonly startTimeoutMs?: number;
}


export async function startIstiod(kube: KubeControlPlane, o: IstiodOptions = {}): Promise<Istiod> {
  const bin = istiodBinary();
  if (!bin) throw new Error('pilot-discovery is not built');
  const dir = join(kube.dir, 'istiod');
  await mkdir(dir, { recursive: true });
  await kube.kubectl(['create', 'namespace', 'istio-system']).catch((err: Error) => {
    if (!/AlreadyExists/.test(err.message)) throw err;
  });
  const mesh = join(dir, 'mesh.yaml');
  await writeFile(mesh, 'trustDomain: cluster.local\nrootNamespace: istio-system\n');
  await writeFile(join(dir, 'mesh-networks.yaml'), 'networks: {}\n');
  const [http, https, grpc, grpcs, monitoring] = await freePorts(5);
  const args = [
    'discovery', '--kubeconfig', kube.kubeconfig, '--meshConfig', mesh, '--networksConfig', join(dir, 'mesh-networks.yaml'),
    '--httpAddr', `127.0.0.1:${http}`, '--httpsAddr', `127.0.0.1:${https}`, '--grpcAddr', `127.0.0.1:${grpc}`,
    '--secureGRPCAddr', `127.0.0.1:${grpcs}`, '--monitoringAddr', `127.0.0.1:${monitoring}`,
    '--clusterID', 'Kubernetes', '--domain', 'cluster.local', '--shutdownDuration', '1s', '--log_output_level', 'default:info',
  ];
  const env: Record<string, string> = {
    POD_NAMESPACE: 'istio-system', POD_NAME: 'istiod-test', REVISION: 'default', CLUSTER_ID: 'Kubernetes',
    PILOT_ENABLE_AMBIENT: 'true',
    // No webhooks point at this process: the API server cannot reach it, so istiod must not patch any.
    INJECTION_WEBHOOK_CONFIG_NAME: '', VALIDATION_WEBHOOK_CONFIG_NAME: '',
    // No Deployments for istio-waypoint Gateways: ours are provisioned by Egressway, not istiod.
    PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER: 'false',
    ...o.env,
  };
  const started = performance.now();
  const child: ChildProcess = spawn('nice', ['-n', '10', bin, ...args], {
    cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (c: Buffer) => {
    lines.push(c.toString());
    if (lines.length > 400) lines.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const log = () => lines.join('');
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + (o.startTimeoutMs ?? 120_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`istiod exited with ${child.exitCode}: ${log().slice(-3000)}`);
    const ok = await fetch(`http://127.0.0.1:${http}/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`istiod not ready after ${o.startTimeoutMs ?? 120_000} ms: ${log().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const startMs = performance.now() - started;
  return {
    caAddress: `127.0.0.1:${grpcs}`, serverName: 'istiod.istio-system.svc', grpcAddress: `127.0.0.1:${grpc}`,
    httpAddress: `127.0.0.1:${http}`, monitoringAddress: `127.0.0.1:${monitoring}`, startMs, env, args,
    async debug<T>(path: string) {
      const r = await fetch(`http://127.0.0.1:${http}${path}`);
      if (!r.ok) throw new Error(`istiod ${path}: HTTP ${r.status}`);
      return (await r.json()) as T;
    },
    async rootCert(namespace) {
      const deadlineCm = Date.now() + 30_000;
      for (;;) {
        const pem = await kube.kubectl(['get', 'configmap', 'istio-ca-root-cert', '-n', namespace, '-o', 'jsonpath={.data.root-cert\\.pem}']).catch(() => '');
        if (pem.includes('BEGIN CERTIFICATE')) return pem;
        if (Date.now() > deadlineCm) throw new Error(`istiod did not write istio-ca-root-cert into ${namespace}: ${log().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    log,
    async close() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}
