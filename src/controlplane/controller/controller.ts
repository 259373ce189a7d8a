// `egressway controller`: watches Gateway API and Istio objects, and, while it holds the leader
// Lease, provisions each Gateway of its GatewayClass (ServiceAccount, Deployment, Service,
// PodDisruptionBudget) and writes GatewayClass, Gateway, HTTPRoute and ServiceEntry status.
// Followers keep warm caches and answer /healthz/ready, so a failover only waits for the Lease.
//
// RBAC it needs (the Helm chart's ClusterRole and Role; a missing verb shows as a one-line 403 in the log):
//   ClusterRole:
//     gateway.networking.k8s.io  gatewayclasses, gateways, httproutes, referencegrants   get, list, watch
//     gateway.networking.k8s.io  gatewayclasses/status, gateways/status, httproutes/status  patch
//     networking.istio.io        serviceentries                                          get, list, watch
//     networking.istio.io        serviceentries/status                                   patch
//     ""                         namespaces, services, configmaps                        get, list, watch
//     ""                         services, serviceaccounts                               create, patch
//     ""                         serviceaccounts                                         list, watch
//     apps                       deployments                                             create, patch, list, watch
//     policy                     poddisruptionbudgets                                    create, patch, list, watch
//   (list/watch of the children by the gateway-name label: a deleted one is recreated at once)
//     apiextensions.k8s.io       customresourcedefinitions (resourceNames: gateways.gateway.networking.k8s.io)  get
//                                (optional: only for the GatewayClass SupportedVersion condition)
//   Only when $EGRESSWAY_WAYPOINT_CLUSTER_ROLE / $EGRESSWAY_WAYPOINT_SECRETS_CLUSTER_ROLE name roles to
//   bind to each waypoint's ServiceAccount (a ClusterRoleBinding, and a RoleBinding in its namespace):
//     rbac.authorization.k8s.io  clusterrolebindings, rolebindings                      create, patch
//     rbac.authorization.k8s.io  clusterrolebindings                                   list, delete (those of deleted Gateways)
//     rbac.authorization.k8s.io  clusterroles (resourceNames: those two roles)          bind
//   Role in --lease-namespace:
//     coordination.k8s.io        leases                                                  get, create, update
//   Role in --istio-namespace (only with --istiod auto, the default):
//     apps                       deployments                                             list, watch
// Server-side apply is a PATCH (and creates the object when it is missing, hence create too).
import type { Server } from 'node:http';
import { createServer } from '../../node-http.ts';
import { hostname } from 'node:os';
import type { Logger } from '../../telemetry/logger.ts';
import { ControllerMetrics } from '../../telemetry/controller-metrics.ts';
import { debounce } from '../debounce.ts';
import { startInformer, type Cache } from './informer.ts';
import { KubeApi, loadKubeConfig } from './kube-api.ts';
import { LeaderElector } from './lease.ts';
import { Reconciler, type Caches } from './reconciler.ts';
import { GATEWAY_NAME } from './render.ts';
import type { Obj } from './world.ts';

export interface ControllerOptions {
  readonly kubeconfig?: string;
  readonly controllerName: string;
  readonly image: string;
  /** ClusterRoles bound to each waypoint's ServiceAccount ($EGRESSWAY_WAYPOINT_CLUSTER_ROLE, ..._SECRETS_CLUSTER_ROLE). */
  readonly waypointRoles?: { readonly cluster?: string; readonly secrets?: string };
  readonly leaseNamespace: string;
  readonly leaseName: string;
  readonly leaseDurationMs: number;
  readonly identity?: string;
  readonly metricsAddress: string;
  readonly metricsPort: number;
  readonly istiod: 'auto' | 'present' | 'absent';
  readonly istioNamespace: string;
  /** Every object is applied again this often (a deleted child comes back). Default 5 min. */
  readonly resyncMs?: number;
  readonly logger: Logger;
}

export interface RunningController {
  readonly port: number;
  readonly identity: string;
  stop(): Promise<void>;
}

const PATHS: Record<keyof Caches, string> = {
  gatewayClasses: '/apis/gateway.networking.k8s.io/v1/gatewayclasses',
  gateways: '/apis/gateway.networking.k8s.io/v1/gateways',
  httpRoutes: '/apis/gateway.networking.k8s.io/v1/httproutes',
  referenceGrants: '/apis/gateway.networking.k8s.io/v1beta1/referencegrants',
  serviceEntries: '/apis/networking.istio.io/v1/serviceentries',
  namespaces: '/api/v1/namespaces',
  services: '/api/v1/services',
  configMaps: '/api/v1/configmaps',
};
/** Child kinds watched for deletions (Services are in PATHS: routes read them too). */
const CHILD_PATHS = ['/apis/apps/v1/deployments', '/api/v1/serviceaccounts', '/apis/policy/v1/poddisruptionbudgets'];

export async function startController(o: ControllerOptions): Promise<RunningController> {
  const log = o.logger;
  const identity = o.identity ?? `${hostname()}-${process.pid}`;
  const api = new KubeApi(await loadKubeConfig(o.kubeconfig));
  const metrics = new ControllerMetrics();
  let synced = false;
  let stopped = false;
  const warn = (message: string) => log.warn(message);
  const schedule = debounce(() => void pass(), 100, 1_000);
  let reconciler: Reconciler | undefined;
  const caches = {} as Record<keyof Caches, Cache<Obj>>;
  for (const [k, path] of Object.entries(PATHS) as [keyof Caches, string][]) {
    caches[k] = await startInformer<Obj>(api, path, {
      warn,
      onChange: (obj, verb) => {
        // A deleted child of ours: apply everything again now rather than at the next resync.
        if (verb === 'delete' && k === 'services' && obj.metadata?.labels?.[GATEWAY_NAME]) reconciler?.forget();
        if (synced) schedule.trigger();
      },
    });
  }
  // The children it provisions (labelled with their Gateway's name): a deleted one is applied
  // again at once, not at the next resync. Only deletions trigger a pass: the status updates
  // Deployments get all the time must not make the leader re-apply everything.
  const children: Cache<Obj>[] = [];
  for (const path of CHILD_PATHS) {
    children.push(await startInformer<Obj>(api, path, {
      labelSelector: GATEWAY_NAME, warn,
      onChange: (_obj, verb) => {
        if (verb !== 'delete' || !synced) return;
        reconciler?.forget();
        schedule.trigger();
      },
    }));
  }
  let istiod: Cache<Obj> | undefined;
  if (o.istiod === 'auto') {
    istiod = await startInformer<Obj>(api, `/apis/apps/v1/namespaces/${o.istioNamespace}/deployments`, { labelSelector: 'app=istiod', warn, onChange: () => synced && schedule.trigger() });
  }
  let istiodWas: boolean | undefined;
  const istiodPresent = () => {
    const now = o.istiod === 'present' || (o.istiod === 'auto' && (istiod?.list().length ?? 0) > 0);
    if (now !== istiodWas) log.info(`istiod ${now ? 'manages this cluster: it writes istio.io/WaypointBound, not this controller' : 'not found: this controller writes istio.io/WaypointBound on ServiceEntries bound to its waypoints'} (--istiod ${o.istiod})`);
    istiodWas = now;
    return now;
  };
  let bundleVersion: string | undefined;
  const readBundleVersion = async () => {
    const r = await api.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gateways.gateway.networking.k8s.io').catch(() => undefined);
    const v = (r?.body.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.['gateway.networking.k8s.io/bundle-version'];
    if (r && r.status !== 200) log.info(`Gateway API CRD not readable (HTTP ${r.status}); GatewayClass status carries no SupportedVersion condition`);
    bundleVersion = v;
  };

  let elector: LeaderElector | undefined;
  reconciler = new Reconciler({
    api, caches, controllerName: o.controllerName, defaultImage: o.image, waypointRoles: o.waypointRoles ?? {}, istiodPresent, bundleVersion: () => bundleVersion,
    isLeader: () => !stopped && !!elector?.isLeader, metrics, log: { info: (m) => log.info(m), warn },
  });
  let running = false;
  let again = false;
  let retryMs = 1_000;
  let retry: NodeJS.Timeout | undefined;
  async function pass(): Promise<void> {
    if (running) {
      again = true;
      return;
    }
    if (stopped || !elector?.isLeader) return;
    running = true;
    let ok = false;
    try {
      ok = await reconciler!.reconcile();
    } catch (err) {
      log.error({ err }, `reconcile failed: ${(err as Error).message}`);
    }
    running = false;
    metrics.reconciles.inc({ result: ok ? 'ok' : 'error' });
    clearTimeout(retry);
    if (!ok) {
      retry = setTimeout(() => schedule.trigger(), retryMs);
      retryMs = Math.min(retryMs * 2, 30_000);
    } else retryMs = 1_000;
    if (again) {
      again = false;
      schedule.trigger();
    }
  }

  const server = await listen(o.metricsAddress, o.metricsPort, async (path) => {
    if (path === '/healthz/ready') return synced ? { status: 200, body: 'ready\n' } : { status: 503, body: 'caches not synced yet\n' };
    if (path === '/metrics') return { status: 200, body: await metrics.registry.metrics(), type: metrics.registry.contentType };
    return { status: 404, body: 'not found: /healthz/ready, /metrics\n' };
  });
  await Promise.all([...Object.values(caches), ...children, ...(istiod ? [istiod] : [])].map((c) => c.synced));
  await readBundleVersion();
  synced = true;
  log.info({ identity, lease: `${o.leaseNamespace}/${o.leaseName}` }, 'caches synced; campaigning for the leader lease');
  elector = new LeaderElector(api, {
    namespace: o.leaseNamespace, name: o.leaseName, identity, leaseDurationMs: o.leaseDurationMs, warn,
    onStartedLeading: () => {
      log.info({ identity }, 'leading: this replica writes now');
      metrics.isLeader.set(1);
      metrics.leaderTransitions.inc({ to: 'leader' });
      reconciler!.forget();
      schedule.trigger();
    },
    onStoppedLeading: () => {
      log.warn({ identity }, 'stopped leading (the lease could not be renewed): no more writes from this replica');
      metrics.isLeader.set(0);
      metrics.leaderTransitions.inc({ to: 'follower' });
    },
  });
  elector.start();
  const resync = setInterval(() => {
    reconciler!.forget();
    schedule.trigger();
  }, o.resyncMs ?? 300_000).unref();

  return {
    port: (server.address() as { port: number }).port,
    identity,
    async stop() {
      stopped = true;
      schedule.cancel();
      clearTimeout(retry);
      clearInterval(resync);
      await elector?.release();
      for (const c of [...Object.values(caches), ...children, ...(istiod ? [istiod] : [])]) c.stop();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

type Handler = (path: string) => Promise<{ status: number; body: string; type?: string }>;

function listen(address: string, port: number, handle: Handler): Promise<Server> {
  const server = createServer((req, res) => {
    void handle(new URL(req.url ?? '/', 'http://x').pathname).then((r) => {
      res.writeHead(r.status, { 'content-type': r.type ?? 'text/plain; charset=utf-8' });
      res.end(r.body);
    }, () => {
      res.writeHead(500).end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve(server));
  });
}
