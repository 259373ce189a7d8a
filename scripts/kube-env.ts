// The entry point of scripts/kube-env.sh: a Kubernetes control plane on loopback for a person to try
// `egressway run --kubernetes` by hand. It reuses the test harness (test/helpers/kube.ts): etcd and
// kube-apiserver from .peers/bin (and kube-controller-manager when it was built), the Istio and Gateway
// API CRDs, and the bundled ambient example (examples/quickstart) applied with kubectl. It prints the
// lines to use it, and stops everything on Ctrl-C (SIGINT) or SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { installCrds, kubePeersMissing, PEERS_DIR, startKube, type KubeControlPlane } from '../test/helpers/kube.ts';
import { REPO_ROOT } from '../test/helpers/waypoint.ts';

const BIN = join(PEERS_DIR, 'bin');
const EXAMPLE = join(REPO_ROOT, 'examples', 'quickstart');

/** kube-controller-manager (garbage collection, Deployments -> ReplicaSets -> Pods) when it is built. */
function startControllerManager(kube: KubeControlPlane): ChildProcess | undefined {
  const bin = join(BIN, 'kube-controller-manager');
  if (!existsSync(bin)) return undefined;
  const child = spawn(bin, [
    '--kubeconfig', kube.kubeconfig, '--authentication-kubeconfig', kube.kubeconfig, '--authorization-kubeconfig', kube.kubeconfig,
    '--leader-elect=false', '--bind-address', '127.0.0.1', '--secure-port', '0',
    '--service-account-private-key-file', join(kube.dir, 'sa.key'), '--root-ca-file', join(kube.dir, 'certs', 'apiserver.crt'),
    '--use-service-account-credentials=false', '--controllers', '*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr!.on('data', (c: Buffer) => void (tail = (tail + c.toString()).slice(-2000)));
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`kube-controller-manager exited (${code ?? signal}); the API server keeps running without it:\n${tail}`);
  });
  return child;
}

let stopping = false;

async function main(): Promise<void> {
  const missing = kubePeersMissing();
  if (missing) {
    console.error(`kube-env: ${missing.replace(/^skipped: /, '')}`);
    process.exit(1);
  }
  console.log('starting etcd and kube-apiserver on loopback...');
  const kube = await startKube();
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping...');
    if (kcm && kcm.exitCode === null) kcm.kill('SIGTERM');
    await kube.close();
    console.log('stopped: etcd, kube-apiserver and the data directory are gone');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  const kcm = startControllerManager(kube);
  try {
    await installCrds(kube);
    await kube.kubectl(['create', 'namespace', 'istio-egress']);
    await kube.kubectl(['apply', '-f', EXAMPLE]);
  } catch (err) {
    console.error(`kube-env: ${(err as Error).message}`);
    await stop(1);
  }
  const kubectl = join(BIN, 'kubectl');
  console.log([
    '',
    `API server ${kube.server} is up${kcm ? ', with kube-controller-manager' : ' (kube-controller-manager not built: no garbage collection or Deployments)'}; the CRDs and ${EXAMPLE} are applied.`,
    '',
    'In another shell:',
    `export KUBECONFIG=${kube.kubeconfig}`,
    `${kubectl} get gateways,serviceentries -A`,
    `npm run -s egressway -- run --kubernetes --kubeconfig ${kube.kubeconfig}`,
    '',
    'Then: curl -x http://127.0.0.1:15001 http://httpbin.org/get, and kubectl apply/delete to change what it serves.',
    'Ctrl-C here stops everything.',
  ].join('\n'));
}

await main();
