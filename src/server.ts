// Wires the pipeline for one waypoint process:
// file source -> compile -> SnapshotStore -> proxy listener -> metrics + access log, plus the
// admin, status and stats endpoints.
import type { CompileOptions } from './compile/compile.ts';
import type { CredentialFeed } from './model/credentials.ts';
import { FileSource, type ReloadResult } from './controlplane/file-source.ts';
import { SnapshotStore } from './controlplane/store.ts';
import { configDumpHandler, HttpEndpoint, readyHandler, statsHandler, summaryHandler, type AdminDeps, type SummaryBody } from './dashboard/admin-server.ts';
import { dashboardRoutes } from './dashboard/dashboard.ts';
import type { DialPolicyOptions } from './dataplane/ssrf.ts';
import { formatDiagnostic, type Diagnostic } from './model/diagnostic.ts';
import type { Binding, Snapshot } from './model/snapshot.ts';
import type { AccessLogFormat } from './telemetry/access-log.ts';
import type { Logger } from './telemetry/logger.ts';
import { Metrics } from './telemetry/metrics.ts';
import { MemoryReleaser } from './controlplane/release-memory.ts';
import type { RequestRecord } from './telemetry/record.ts';
import type { HboneOptions } from './hbone/wire.ts';
import type { DownstreamLimits } from './dataplane/downstream-guard.ts';
import type { ProxyProtocolOptions } from './dataplane/proxy-protocol-listener.ts';
import type { IstiodIdentity, IstiodIdentityOptions } from './identity/istiod-identity.ts';
import type { PodIndex } from './controlplane/kube-pods.ts';
import { authority, bindError, StartupError } from './startup-error.ts';

export { StartupError } from './startup-error.ts';
export type { DataPlane, DataPlaneIo } from './data-plane.ts';

export interface WaypointOptions {
  readonly configPaths: readonly string[];
  /** Kubernetes mode: list+watch the API server instead of reading configPaths. */
  readonly kubernetes?: {
    readonly kubeconfig?: string;
    /** Identify plaintext clients by pod IP: for telemetry, or also for `namespaces` in policy. */
    readonly identifyPodsByIp?: 'telemetry' | 'namespaces';
  };
  readonly compile: CompileOptions;
  readonly listenAddress: string;
  readonly adminAddress: string;
  readonly ports: { readonly proxy: number; readonly admin: number; readonly status: number; readonly stats: number };
  readonly dnsServers?: readonly string[];
  readonly dnsRefreshMs?: number;
  readonly connectTimeoutMs?: number;
  /** How long a tunnel under a connection.sni policy waits for the ClientHello (default 5 s). */
  readonly sniTimeoutMs?: number;
  /** SSRF guard exceptions (--allow-cidr) and additions (--deny-cidr). */
  readonly dialPolicy?: DialPolicyOptions;
  /** DestinationRule credentialName Secrets: `<dir>/<namespace>/<name>/{tls.crt,tls.key,ca.crt}`. */
  readonly secretsDir?: string;
  /** TLS (and, with `ca`, required client certificates) on the proxy listener. PEM contents. */
  readonly proxyTls?: { readonly cert: string; readonly key: string; readonly ca?: string };
  /** The HBONE listener (15008): mTLS HTTP/2 CONNECT. File paths, reloaded when they change. */
  readonly hbone?: HboneOptions;
  /** HBONE certificates from istiod's CA instead of files (needs `hbone` with a port only). */
  readonly istiodCa?: Omit<IstiodIdentityOptions, 'log'>;
  /** The sandwich listener: plain TCP from the node's ztunnel, each connection led by a PROXY v2 header. */
  readonly proxyProtocol?: ProxyProtocolOptions;
  readonly accessLog: AccessLogFormat;
  /** OTLP/HTTP collector (`http://127.0.0.1:4318`): one span per request or tunnel. */
  readonly otlpEndpoint?: string;
  readonly watch: boolean;
  /** A full GC a few seconds after each config load gives its garbage back to the OS (default on). */
  readonly releaseMemory?: boolean;
  readonly logger: Logger;
  /** Downstream timeouts and the connection cap (each listener); Envoy's defaults when absent. */
  readonly limits?: Partial<DownstreamLimits>;
  /** Overload guard: fraction of V8's heap limit above which new requests get 503 OM (0 disables). */
  readonly overloadHeapFraction?: number;
  /** Request-chosen host names kept in the DNS cache (and connection pools per cluster). */
  readonly dnsMaxHosts?: number;
  /** Concurrent streams per HBONE connection (Istio: 100). */
  readonly hboneMaxConcurrentStreams?: number;
  /** Extra consumer of request records (tests, embedders). */
  readonly onRecord?: (r: RequestRecord) => void;
}

export interface RunningWaypoint {
  readonly listeners: Readonly<Record<'proxy' | 'admin' | 'status' | 'stats', string>> & { readonly hbone?: string; readonly proxyProtocol?: string };
  readonly store: SnapshotStore;
  readonly source: ConfigSource;
  stop(graceMs: number): Promise<void>;
}

/** Where snapshots come from: files (FileSource) or the API server (KubeSource). */
export interface ConfigSource {
  reload(): Promise<ReloadResult>;
  /** Compile options for the next reload (SIGHUP re-reads --mesh-config); file mode only. */
  setOptions?(options: CompileOptions): void;
  watch(): Promise<void>;
  close(): void;
  /** credentialName Secrets from the source (Kubernetes mode); files use --secrets-dir. */
  readonly credentials?: CredentialFeed;
}


export async function startWaypoint(o: WaypointOptions): Promise<RunningWaypoint> {
  const log = o.logger;
  const store = new SnapshotStore();
  const metrics = new Metrics();
  const pods = o.kubernetes?.identifyPodsByIp ? await podIndex(o, metrics) : undefined;
  const source = await loadFirst(o, store, metrics, pods);
  logBindings(log, undefined, store.current());
  store.onSwap((next, prev) => logBindings(log, prev, next));
  const identity = o.istiodCa ? await startIdentity(o.istiodCa, log).catch((err: unknown) => {
    source.close();
    throw err;
  }) : undefined;
  if (identity) metrics.bindIdentity(() => identity.stats);
  // Imported here, not at the top: the primary of `run --concurrency N` imports this module too and
  // serves no traffic itself (workers/primary.ts).
  const { startDataPlane } = await import('./data-plane.ts');
  const dp = await startDataPlane(o, store, metrics, { log, accessLog: 1, credentials: source.credentials, pods, identity }).catch((err: unknown) => {
    source.close();
    identity?.close();
    throw err;
  });
  let draining = false;
  const deps: AdminDeps = { store, metrics, isDraining: () => draining };
  const endpoints = await bindEndpoints(o, deps, dp.summary).catch(async (err: unknown) => {
    await dp.stop(0);
    source.close();
    identity?.close();
    throw err;
  });
  if (o.watch) await source.watch();
  const releaser = releaseAfterLoads(o, store, metrics);
  return {
    listeners: { ...dp.listeners, ...endpoints.listeners }, store, source,
    async stop(graceMs) {
      draining = true;
      releaser?.close();
      source.close();
      await dp.drain(graceMs);
      identity?.close();
      await endpoints.close();
      await dp.stop(0);
    },
  };
}

/** The config source, and its first snapshot (StartupError when a file config has errors). */
export async function loadFirst(o: WaypointOptions, store: SnapshotStore, metrics: Metrics, pods?: PodIndex): Promise<ConfigSource> {
  const source = await configSource(o, store, reloadReporter(o.logger, metrics, !!o.kubernetes), pods);
  const first = await source.reload().catch((err: Error) => {
    throw new StartupError(err.message);
  });
  if (!first.ok && !o.kubernetes) throw new StartupError('the config has errors; nothing was started', first.diagnostics);
  // In a cluster, a bad object must not crash-loop the pod: stay unready until a config compiles.
  if (!first.ok) await new Promise<void>((r) => store.onSwap(() => r()));
  return source;
}

/**
 * The memory the first load used, and each reload after it, is given back once things are quiet
 * (release-memory.ts): the first release a few seconds after start, then after each swap.
 */
export function releaseAfterLoads(o: WaypointOptions, store: SnapshotStore, metrics: Metrics): MemoryReleaser | undefined {
  if (o.releaseMemory === false) return undefined;
  const releaser = new MemoryReleaser();
  metrics.bindMemoryRelease(() => releaser.stats);
  store.onSwap(() => releaser.schedule());
  releaser.schedule();
  return releaser;
}

/** gRPC is loaded only when the certificates come from istiod. Waits for the first certificate. */
export async function startIdentity(o: Omit<IstiodIdentityOptions, 'log'>, log: Logger): Promise<IstiodIdentity> {
  const { IstiodIdentity } = await import('./identity/istiod-identity.ts');
  log.info({ caAddress: o.address, spiffeId: `spiffe://${o.trustDomain}/ns/${o.namespace}/sa/${o.serviceAccount}` }, `istiod CA: requesting a certificate from ${o.address}`);
  return IstiodIdentity.start({ ...o, log }).catch((err: Error) => {
    throw new StartupError(err.message);
  });
}

/** The admin, status and stats endpoints, bound in that order; all closed again if one cannot bind. */
export async function bindEndpoints(o: WaypointOptions, deps: AdminDeps, summary: () => SummaryBody | Promise<SummaryBody>) {
  const admin = new HttpEndpoint({
    ...dashboardRoutes(), '/config_dump': configDumpHandler(deps), '/healthz/ready': readyHandler(deps),
    '/stats/prometheus': statsHandler(deps), '/stats/summary': summaryHandler(summary),
  });
  const status = new HttpEndpoint({ '/healthz/ready': readyHandler(deps) });
  const stats = new HttpEndpoint({ '/stats/prometheus': statsHandler(deps) });
  const started: HttpEndpoint[] = [];
  const listeners = {} as Record<'admin' | 'status' | 'stats', string>;
  const table = [['admin', '--admin-port', admin, o.adminAddress], ['status', '--status-port', status, o.listenAddress], ['stats', '--stats-port', stats, o.listenAddress]] as const;
  for (const [name, flag, ep, host] of table) {
    try {
      listeners[name] = authority(await ep.listen(o.ports[name], host));
      started.push(ep);
    } catch (err) {
      await Promise.allSettled(started.map((s) => s.close()));
      throw bindError(name, flag, o.ports[name], err);
    }
  }
  return { listeners, close: async () => void (await Promise.allSettled(started.map((s) => s.close()))) };
}

/** The Kubernetes client is loaded only in Kubernetes mode. */
export async function podIndex(o: WaypointOptions, metrics: Metrics) {
  const { PodIndex } = await import('./controlplane/kube-pods.ts');
  const index = new PodIndex({ namespacesInPolicy: o.kubernetes?.identifyPodsByIp === 'namespaces', warn: (m) => o.logger.warn(m) });
  metrics.bindPodIndex(() => index.size);
  return index;
}

async function configSource(o: WaypointOptions, store: SnapshotStore, onResult: (r: ReloadResult) => void, pods?: import('./controlplane/kube-pods.ts').PodIndex): Promise<ConfigSource> {
  if (!o.kubernetes) return new FileSource(store, o.configPaths, o.compile, onResult);
  const { KubeSource } = await import('./controlplane/kube-source.ts');
  return new KubeSource(store, {
    kubeconfig: o.kubernetes.kubeconfig, compile: o.compile, onResult, pods,
    warn: (message, fields) => o.logger.warn(fields ?? {}, message),
    info: (message, fields) => o.logger.info(fields ?? {}, message),
  });
}

/**
 * Files: every reload logs all its diagnostics (a save shows the warnings again). Kubernetes: a change
 * to one object recompiles everything, so only diagnostics that were not in the previous reload are
 * logged; thousands of unchanged warnings per `kubectl apply` blocked the event loop (a synchronous
 * stdout write waits on a full pipe) for up to a second, and the new config with it.
 */
function reloadReporter(log: Logger, metrics: Metrics, kube: boolean): (r: ReloadResult) => void {
  let previous = new Set<string>();
  return (r) => {
    const now = new Set<string>();
    const logged = kube ? previous : new Set<string>();
    for (const d of r.diagnostics) {
      if (d.level !== 'error' && d.level !== 'warning') continue;
      const line = formatDiagnostic(d);
      now.add(line);
      if (logged.has(line)) continue;
      if (d.level === 'error') log.error({ code: d.code }, line);
      else log.warn({ code: d.code }, line);
    }
    previous = now;
    reportReload(log, metrics, r, kube);
  };
}

function reportReload(log: Logger, metrics: Metrics, r: ReloadResult, kube = false): void {
  metrics.reloads.inc({ result: r.ok ? 'success' : 'failure' });
  if (r.ok) log.info({ version: r.version }, `config loaded (snapshot ${r.version})`);
  else log.error(`config rejected: ${r.diagnostics.filter((d) => d.level === 'error').length} error(s) above; still serving the last good config — ${kube ? 'fix the objects named above (kubectl edit)' : 'fix the file and save again'}`);
}

/** Past this many changed bindings in one swap (a first load of thousands), one summary line at info. */
export const BINDING_LINES_MAX = 20;

/** Logs each ServiceEntry's binding once, and again only when it changes. */
export function logBindings(log: Logger, prev: Snapshot | undefined, next: Snapshot): void {
  // The same list (compile keeps it while no ServiceEntry, Gateway or Namespace changed): nothing to log.
  if (next.bindings === prev?.bindings) return;
  const before = new Map<string, Binding>();
  for (const b of prev?.bindings ?? []) before.set(`${b.resource.namespace}/${b.resource.name}`, b);
  const changed: Binding[] = [];
  for (const b of next.bindings) {
    const old = before.get(`${b.resource.namespace}/${b.resource.name}`);
    if (old && old.bound === b.bound && old.reason === b.reason && old.waypoint === b.waypoint && old.servedHere === b.servedHere) continue;
    changed.push(b);
  }
  const line = (b: Binding, level: 'info' | 'debug') => log[level]({ serviceEntry: `${b.resource.namespace}/${b.resource.name}`, waypointBound: b.bound, reason: b.reason, servedHere: b.servedHere },
    `ServiceEntry ${b.resource.namespace}/${b.resource.name}: WaypointBound=${b.bound ? 'True' : 'False'} (${b.reason}) ${b.message}${b.bound && !b.servedHere ? ' — served by another waypoint' : ''}`);
  if (changed.length <= BINDING_LINES_MAX) return void changed.forEach((b) => line(b, 'info'));
  // Thousands of lines at start-up are noise at 3 a.m. (and 50-75 ms of the start at 3,334): one
  // line with the counts by outcome; each entry at debug; every binding is in /config_dump.
  const counts = new Map<string, number>();
  for (const b of changed) {
    const k = `${b.bound ? 'True' : 'False'} (${b.reason})${b.bound && !b.servedHere ? ' served by another waypoint' : ''}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const summary = [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`).join(', ');
  log.info({ serviceEntries: changed.length, waypointBound: Object.fromEntries(counts) },
    `${changed.length} ServiceEntries changed binding: WaypointBound=${summary}; each is logged at debug level, and /config_dump lists every binding`);
  if (log.isLevelEnabled('debug')) for (const b of changed) line(b, 'debug');
}
