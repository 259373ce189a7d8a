// `egressway controller`: turns Gateways of its GatewayClass into waypoint Deployments and writes
// their status (one leader through a Lease). Thin: parse flags, start, stop on SIGTERM.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { VERSION } from '../version.ts';
import { durationOption, oneOf, parsePort } from './args.ts';

interface ControllerFlags {
  kubeconfig?: string;
  controllerName: string;
  image: string;
  leaseNamespace: string;
  leaseName: string;
  leaseDuration: number;
  identity?: string;
  metricsAddress: string;
  metricsPort: number;
  istiod: 'auto' | 'present' | 'absent';
  istioNamespace: string;
  resyncPeriod: number;
  logLevel: string;
}

export const DEFAULT_CONTROLLER_NAME = 'egressway.io/gateway-controller';

function controllerName(v: string): string {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/.test(v)) {
    throw new InvalidArgumentError(`"${v}" is not a domain-prefixed path (example: ${DEFAULT_CONTROLLER_NAME})`);
  }
  return v;
}

export function registerController(program: Command): void {
  program
    .command('controller')
    .description('provision waypoint Deployments for Gateways of our GatewayClass and write their status (leader-elected)')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: in-cluster, else $KUBECONFIG or ~/.kube/config)')
    .option('--controller-name <name>', 'GatewayClass spec.controllerName this controller handles', controllerName, DEFAULT_CONTROLLER_NAME)
    .option('--image <image>', 'image of the provisioned waypoint pods (a parametersRef ConfigMap key "image" overrides it)', `ghcr.io/egressway/egressway:${VERSION}`)
    .option('--lease-namespace <ns>', 'namespace of the leader Lease (default: $POD_NAMESPACE, else egressway-system)', process.env.POD_NAMESPACE || 'egressway-system')
    .option('--lease-name <name>', 'name of the leader Lease', 'egressway-controller')
    .addOption(durationOption('--lease-duration <duration>', 'a follower takes over after the leader failed to renew for this long', 15_000))
    .option('--identity <id>', 'this replica in the Lease (default: hostname-pid)')
    .option('--metrics-address <ip>', 'address for /healthz/ready and /metrics', '0.0.0.0')
    .option('--metrics-port <port>', 'port for /healthz/ready and /metrics', parsePort, 15014)
    .option('--istiod <mode>', 'auto: write istio.io/WaypointBound only while no istiod Deployment (label app=istiod) is in --istio-namespace; present: never; absent: always', oneOf(['auto', 'present', 'absent'] as const), 'auto')
    .option('--istio-namespace <ns>', "istiod's namespace", 'istio-system')
    .addOption(durationOption('--resync-period <duration>', 'apply every provisioned object again this often, even unchanged (a deleted or edited child is restored)', 300_000))
    .option('--log-level <level>', 'debug | info | warn | error', 'info')
    .action(async (f: ControllerFlags) => runController(f));
}

async function runController(f: ControllerFlags): Promise<void> {
  if (f.leaseDuration < 1_000) {
    process.stderr.write('egressway controller: --lease-duration must be at least 1s (client-go uses 15s)\n');
    process.exit(2);
  }
  const { createLogger } = await import('../telemetry/logger.ts');
  const { startController } = await import('../controlplane/controller/controller.ts');
  const logger = createLogger(f.logLevel);
  let running: Awaited<ReturnType<typeof startController>> | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${signal}: releasing the lease and exiting`);
    if (!running) process.exit(0);
    running.stop().then(() => process.exit(0), () => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  try {
    running = await startController({
      kubeconfig: f.kubeconfig, controllerName: f.controllerName, image: f.image, leaseNamespace: f.leaseNamespace, leaseName: f.leaseName,
      leaseDurationMs: f.leaseDuration, identity: f.identity, metricsAddress: f.metricsAddress, metricsPort: f.metricsPort,
      istiod: f.istiod, istioNamespace: f.istioNamespace, resyncMs: f.resyncPeriod, logger,
      waypointRoles: { cluster: process.env.EGRESSWAY_WAYPOINT_CLUSTER_ROLE || undefined, secrets: process.env.EGRESSWAY_WAYPOINT_SECRETS_CLUSTER_ROLE || undefined },
    });
  } catch (err) {
    process.stderr.write(`egressway controller: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (stopping) return;
  logger.info({ identity: running.identity, controllerName: f.controllerName, metrics: `http://${f.metricsAddress}:${running.port}/metrics` }, 'controller started');
}
