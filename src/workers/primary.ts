// `run --concurrency N` (N > 1): this thread is the primary. It owns what there is one of: the
// config source (file watcher, Kubernetes watch, SIGHUP), the snapshot store and its reload
// reports, the admin, status and stats ports, and stdout. N worker threads run the request path.
// It also owns the Kubernetes source's credentialName Secrets, the pod-IP index and the istiod CA
// client; workers hold copies (replicas.ts): the state in their init, then every change.
//
// Each snapshot is compiled once, here, and sent to every worker as it is (structured clone): the
// workers never load the config or compile code, the config is read and validated once, and every
// worker serves the very snapshot the primary's /config_dump shows (same version). A rejected
// config never leaves the primary, so every worker keeps the last good one.
import { SnapshotStore } from '../controlplane/store.ts';
import type { AdminDeps, SummaryBody } from '../dashboard/admin-server.ts';
import { DEFAULT_LIMITS } from '../dataplane/downstream-guard.ts';
import { DEFAULT_MAX_CONNECTIONS } from '../dataplane/proxy-protocol-listener.ts';
import { bindEndpoints, loadFirst, logBindings, podIndex, releaseAfterLoads, startIdentity, StartupError, type RunningWaypoint, type WaypointOptions } from '../server.ts';
import { mergeExpositions, Metrics } from '../telemetry/metrics.ts';
import { ServiceSummaries } from '../telemetry/summary.ts';
import type { PodWorkload } from '../model/identity.ts';
import type { Replicas, WorkerOptions } from './protocol.ts';
import { WorkerPool } from './pool.ts';

export interface PrimaryOptions {
  readonly concurrency: number;
  /** Each worker's largest V8 semi-space in MiB (pool.ts youngGenerationLimits); undefined: V8's. */
  readonly maxSemiSpaceMb?: number;
  readonly logLevel: string;
  /** The primary's stdout writer: workers' lines go through it. */
  readonly out: (s: string) => void;
  /** Writes the primary dropped because stdout fell 16 MiB behind or failed (each a batch of lines). */
  readonly outDropped: () => number;
  readonly testHooks?: boolean;
  /** A worker keeps dying: the process must exit non-zero. */
  readonly onFatal: (message: string) => void;
}

export interface RunningPrimary extends RunningWaypoint {
  /** Test hook: make worker `index` crash (EGRESSWAY_TEST_HOOKS=1). */
  crashWorker(index: number): void;
}

/**
 * Connection caps bound the process, as with one event loop: each worker gets an equal share
 * (rounded up), so N workers hold at most the flag's value (plus N-1).
 */
export function workerOptions(o: WaypointOptions, n: number): WorkerOptions {
  const share = (max: number) => (max === 0 ? 0 : Math.ceil(max / n));
  const { logger: _l, onRecord: _r, ...rest } = o;
  return {
    ...rest,
    limits: { ...o.limits, maxConnections: share(o.limits?.maxConnections ?? DEFAULT_LIMITS.maxConnections) },
    proxyProtocol: o.proxyProtocol && { ...o.proxyProtocol, maxConnections: share(o.proxyProtocol.maxConnections ?? DEFAULT_MAX_CONNECTIONS) },
  };
}

export async function startPrimary(o: WaypointOptions, p: PrimaryOptions): Promise<RunningPrimary> {
  const log = o.logger;
  const store = new SnapshotStore();
  const metrics = new Metrics();
  metrics.bindAccessLogDropped(p.outDropped);
  const pods = o.kubernetes?.identifyPodsByIp ? await podIndex(o, metrics) : undefined;
  const source = await loadFirst(o, store, metrics, pods);
  logBindings(log, undefined, store.current());
  const identity = o.istiodCa ? await startIdentity(o.istiodCa, log).catch((err: unknown) => {
    source.close();
    throw err;
  }) : undefined;
  if (identity) metrics.bindIdentity(() => identity.stats);
  const credentials = source.credentials;
  const replicas = (): Replicas => ({
    credentials: credentials?.entries(),
    pods: pods && { namespacesInPolicy: pods.namespacesInPolicy, entries: JSON.stringify(pods.entries()) },
    identity: identity?.current,
  });
  const pool = new WorkerPool({
    size: p.concurrency, maxSemiSpaceMb: p.maxSemiSpaceMb, options: workerOptions(o, p.concurrency), logLevel: p.logLevel, log, out: p.out,
    testHooks: p.testHooks ?? false, onFatal: p.onFatal, replicas,
  });
  // Changes are sent once per event-loop turn: a relist of thousands of pods is one message.
  let credentialsDue = false;
  credentials?.onChange(() => {
    if (credentialsDue) return;
    credentialsDue = true;
    setImmediate(() => {
      credentialsDue = false;
      pool.replicate({ t: 'credentials', entries: credentials.entries() });
    });
  });
  let touched: Set<string> | undefined;
  pods?.onChange((ip) => {
    if (touched) return void touched.add(ip);
    touched = new Set([ip]);
    setImmediate(() => {
      const ips = touched!;
      touched = undefined;
      pool.replicate({ t: 'pods', delta: [...ips].map((i): [string, PodWorkload | null] => [i, pods.lookup(i) ?? null]) });
    });
  });
  identity?.onChange((material) => pool.replicate({ t: 'identity', material }));
  store.onSwap((next, prev) => {
    logBindings(log, prev, next);
    pool.broadcast(next);
  });
  let dataListeners;
  try {
    dataListeners = await pool.start(store.current());
  } catch (err) {
    source.close();
    identity?.close();
    throw err instanceof StartupError ? err : new StartupError((err as Error).message);
  }
  let draining = false;
  const summary = async (): Promise<SummaryBody> => {
    const all = await pool.collect();
    const merged = new ServiceSummaries();
    for (const c of all) merged.absorb(c.summary);
    const sum = (f: (c: (typeof all)[number]) => number) => all.reduce((a, c) => a + f(c), 0);
    return { ...merged.snapshot(Date.now()), totals: { activeRequests: sum((c) => c.activeRequests), activeTunnels: sum((c) => c.activeTunnels) } };
  };
  const deps: AdminDeps = {
    store, metrics, isDraining: () => draining, notReady: () => pool.notReady(),
    exposition: async () => {
      const [own, workers, retired] = await Promise.all([metrics.state(), pool.collect(), pool.retiredMetrics()]);
      return mergeExpositions([own, ...workers.map((c) => c.metrics), ...(retired ? [retired] : [])]);
    },
  };
  const endpoints = await bindEndpoints(o, deps, summary).catch(async (err: unknown) => {
    source.close();
    identity?.close();
    await pool.drain(0);
    throw err;
  });
  if (o.watch) await source.watch();
  // Here, in the thread that compiles: the workers only receive each snapshot (a copy of its size).
  const releaser = releaseAfterLoads(o, store, metrics);
  return {
    listeners: { ...dataListeners, ...endpoints.listeners }, store, source,
    crashWorker: (i) => pool.crash(i),
    async stop(graceMs) {
      draining = true;
      releaser?.close();
      source.close();
      await pool.drain(graceMs);
      identity?.close();
      await endpoints.close();
      metrics.close();
    },
  };
}
