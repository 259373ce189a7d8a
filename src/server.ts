// Wires the pipeline for one waypoint process:
// file source -> compile -> SnapshotStore -> proxy listener -> metrics + access log, plus the
// admin, status and stats endpoints.
import type { AddressInfo } from 'node:net';
import type { CompileOptions } from './compile/compile.ts';
import type { CredentialProvider } from './model/credentials.ts';
import { FileSource, type ReloadResult } from './controlplane/file-source.ts';
import { SnapshotStore } from './controlplane/store.ts';
import { configDumpHandler, HttpEndpoint, readyHandler, statsHandler, summaryHandler, type AdminDeps } from './dashboard/admin-server.ts';
import { dashboardRoutes } from './dashboard/dashboard.ts';
import { ProxyListener } from './dataplane/proxy-listener.ts';
import { DnsCache } from './dataplane/resolver.ts';
import { Upstreams } from './dataplane/upstream.ts';
import { DialPolicy, type DialPolicyOptions } from './dataplane/ssrf.ts';
import { formatDiagnostic, type Diagnostic } from './model/diagnostic.ts';
import type { Binding, Snapshot } from './model/snapshot.ts';
import { createAccessLog, type AccessLogFormat } from './telemetry/access-log.ts';
import type { Logger } from './telemetry/logger.ts';
import { Metrics, VERSION } from './telemetry/metrics.ts';
import type { SpanExport } from './telemetry/otlp.ts';
import type { RequestRecord } from './telemetry/record.ts';
import { ServiceSummaries } from './telemetry/summary.ts';
import { startHbone, type HboneOptions } from './hbone/wire.ts';
import { DEFAULT_LIMITS, type DownstreamLimits, type LimitKind } from './dataplane/downstream-guard.ts';
import { OverloadMonitor } from './dataplane/overload.ts';
import { warmUpFor } from './policy/warm-up.ts';
import { startProxyProtocol, type ProxyProtocolOptions } from './dataplane/proxy-protocol-listener.ts';
import type { IstiodIdentity, IstiodIdentityOptions } from './identity/istiod-identity.ts';

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
  readonly credentials?: CredentialProvider;
}

export class StartupError extends Error {
  readonly diagnostics: readonly Diagnostic[];
  constructor(message: string, diagnostics: readonly Diagnostic[] = []) {
    super(message);
    this.diagnostics = diagnostics;
  }
}

export async function startWaypoint(o: WaypointOptions): Promise<RunningWaypoint> {
  const log = o.logger;
  const store = new SnapshotStore();
  const metrics = new Metrics();
  const pods = o.kubernetes?.identifyPodsByIp ? await podIndex(o, metrics) : undefined;
  const source = await configSource(o, store, reloadReporter(log, metrics, !!o.kubernetes), pods);
  const first = await source.reload().catch((err: Error) => {
    throw new StartupError(err.message);
  });
  if (!first.ok && !o.kubernetes) throw new StartupError('the config has errors; nothing was started', first.diagnostics);
  // In a cluster, a bad object must not crash-loop the pod: stay unready until a config compiles.
  if (!first.ok) await new Promise<void>((r) => store.onSwap(() => r()));
  const identity = o.istiodCa ? await startIdentity(o.istiodCa, log) : undefined;
  if (identity) metrics.bindIdentity(() => identity.stats);
  const accessLog = createAccessLog(o.accessLog, 1, (err) => {
    log.error({ err: err.message }, `access log: writing to stdout failed (${err.message}); access-log lines are now dropped and counted in egressway_access_log_dropped_total — check what reads this process's stdout, or run with --access-log off`);
  });
  const dns = new DnsCache({ servers: o.dnsServers, refreshMs: o.dnsRefreshMs, maxHosts: o.dnsMaxHosts });
  const upstreams = new Upstreams(dns, { connectTimeoutMs: o.connectTimeoutMs, dialPolicy: new DialPolicy(o.dialPolicy), secretsDir: o.secretsDir, credentials: source.credentials, maxPoolsPerCluster: o.dnsMaxHosts });
  const limits = { ...DEFAULT_LIMITS, ...o.limits };
  const onLimit = (kind: LimitKind) => metrics.limitTripped(kind);
  const overload = new OverloadMonitor({ heapFraction: o.overloadHeapFraction, onShed: () => onLimit('overload') });
  logBindings(log, undefined, store.current());
  warmUpFor(store.current().authz);
  store.onSwap((next, prev) => {
    warmUpFor(next.authz);
    upstreams.retain(new Set(next.clusters.keys()));
    logBindings(log, prev, next);
  });
  const summary = new ServiceSummaries();
  const spans = o.otlpEndpoint ? await startSpans(o.otlpEndpoint, store.current(), log) : undefined;
  // `onTunnelOpen` takes effect once ProxyListener calls `deps.onTunnelOpen?.(record)` when a tunnel
  // is established (a pending hook, issue 3); until then tunnels are counted at close only. Passed as
  // a non-literal object so this wiring compiles both before and after ProxyDeps declares it.
  const proxyDeps = {
    snapshots: store, upstreams, pods, connectTimeoutMs: o.connectTimeoutMs, sniTimeoutMs: o.sniTimeoutMs, tls: o.proxyTls,
    sink: (r: RequestRecord) => { metrics.record(r); summary.record(r); accessLog.write(r); spans?.record(r); o.onRecord?.(r); },
    onTunnelOpen: (r: RequestRecord) => { metrics.tunnelOpened(r); summary.tunnelOpened(r); },
    ownSpans: !!spans, limits, overload, onLimit,
  };
  const proxy = new ProxyListener(proxyDeps);
  metrics.bindHealth({
    activeRequests: () => proxy.activeRequests, activeTunnels: () => proxy.activeTunnels, snapshotSwappedAt: () => store.swappedAt,
    poolStats: () => upstreams.poolStats(), accessLogDropped: () => accessLog.dropped,
    downstreamConnections: () => ({ proxy: proxy.activeConnections, hbone: hbone?.listener.activeSessions ?? 0 }),
    overloaded: () => overload.overloaded, dnsRequestHosts: () => dns.requestHosts,
  });
  let draining = false;
  let hbone: Awaited<ReturnType<typeof startHbone>> | undefined;
  const deps: AdminDeps = { store, metrics, isDraining: () => draining };
  const summaryBody = () => ({ ...summary.snapshot(Date.now()), totals: { activeRequests: proxy.activeRequests, activeTunnels: proxy.activeTunnels } });
  const admin = new HttpEndpoint({
    ...dashboardRoutes(), '/config_dump': configDumpHandler(deps), '/healthz/ready': readyHandler(deps),
    '/stats/prometheus': statsHandler(deps), '/stats/summary': summaryHandler(summaryBody),
  });
  const status = new HttpEndpoint({ '/healthz/ready': readyHandler(deps) });
  const stats = new HttpEndpoint({ '/stats/prometheus': statsHandler(deps) });
  const started: { close(): Promise<void> }[] = [];
  const listeners = {} as Record<'proxy' | 'admin' | 'status' | 'stats', string>;
  const bind = async (name: keyof typeof listeners, flag: string, fn: () => Promise<AddressInfo>) => {
    try {
      const a = await fn();
      listeners[name] = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
    } catch (err) {
      await Promise.allSettled(started.map((s) => s.close()));
      const e = err as { code?: string; message: string };
      const hint = e.code === 'EADDRINUSE' ? `port ${o.ports[name]} is already in use; stop the other process or pass ${flag} <port>` : e.message;
      throw new StartupError(`cannot listen for ${name}: ${hint}`);
    }
  };
  await bind('proxy', '--proxy-port', () => proxy.listen(o.ports.proxy, o.listenAddress));
  started.push({ close: () => proxy.drain(0) });
  await bind('admin', '--admin-port', () => admin.listen(o.ports.admin, o.adminAddress));
  started.push(admin);
  await bind('status', '--status-port', () => status.listen(o.ports.status, o.listenAddress));
  started.push(status);
  await bind('stats', '--stats-port', () => stats.listen(o.ports.stats, o.listenAddress));
  started.push(stats);
  const hboneOpts = o.hbone && {
    maxConnections: limits.maxConnections, idleTimeoutMs: limits.idleTimeoutMs, maxConcurrentStreams: o.hboneMaxConcurrentStreams, onLimit, ...o.hbone, identity,
  };
  hbone = hboneOpts ? await startHbone(hboneOpts, o.listenAddress, (t) => proxy.acceptTunnel(t), log).catch(async (err: Error) => {
    await Promise.allSettled(started.map((s) => s.close()));
    identity?.close();
    throw new StartupError(err.message);
  }) : undefined;
  if (hbone) (listeners as Record<string, string>).hbone = hbone.address;
  const pp = o.proxyProtocol ? await startProxyProtocol(o.proxyProtocol, o.listenAddress, { accept: (t) => proxy.acceptTunnel(t), log, refused: metrics.proxyProtocolRefused }).catch(async (err: Error) => {
    await Promise.allSettled([...started.map((s) => s.close()), hbone?.close(0)]);
    throw new StartupError(err.message);
  }) : undefined;
  if (pp) {
    (listeners as Record<string, string>).proxyProtocol = pp.address;
    metrics.bindProxyProtocol(() => pp.listener.activeConnections);
  }
  if (o.watch) await source.watch();
  return {
    listeners, store, source,
    async stop(graceMs) {
      draining = true;
      source.close();
      await Promise.all([proxy.drain(graceMs), hbone?.close(graceMs), pp?.listener.close(graceMs)]);
      identity?.close();
      await Promise.allSettled([admin.close(), status.close(), stats.close(), upstreams.close()]);
      metrics.close();
      overload.close();
      await accessLog.close();
      await spans?.shutdown(2000);
    },
  };
}

/** gRPC is loaded only when the certificates come from istiod. Waits for the first certificate. */
async function startIdentity(o: Omit<IstiodIdentityOptions, 'log'>, log: Logger): Promise<IstiodIdentity> {
  const { IstiodIdentity } = await import('./identity/istiod-identity.ts');
  log.info({ caAddress: o.address, spiffeId: `spiffe://${o.trustDomain}/ns/${o.namespace}/sa/${o.serviceAccount}` }, `istiod CA: requesting a certificate from ${o.address}`);
  return IstiodIdentity.start({ ...o, log }).catch((err: Error) => {
    throw new StartupError(err.message);
  });
}

/** The SDK is imported only here, so a waypoint without --otlp-endpoint never loads it. */
async function startSpans(endpoint: string, snap: Snapshot, log: Logger): Promise<SpanExport> {
  const { startOtlpExport } = await import('./telemetry/otlp.ts');
  const wp = snap.waypoint;
  const spans = startOtlpExport({ endpoint, serviceName: `${wp.name}.${wp.namespace}`, serviceNamespace: wp.namespace, serviceVersion: VERSION, log });
  log.info({ url: spans.url }, `exporting one span per request to ${spans.url} (OTLP/HTTP JSON)`);
  return spans;
}

/** The Kubernetes client is loaded only in Kubernetes mode. */
async function podIndex(o: WaypointOptions, metrics: Metrics) {
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

/** Logs each ServiceEntry's binding once, and again only when it changes. */
function logBindings(log: Logger, prev: Snapshot | undefined, next: Snapshot): void {
  const before = new Map<string, Binding>();
  for (const b of prev?.bindings ?? []) before.set(`${b.resource.namespace}/${b.resource.name}`, b);
  for (const b of next.bindings) {
    const key = `${b.resource.namespace}/${b.resource.name}`;
    const old = before.get(key);
    if (old && old.bound === b.bound && old.reason === b.reason && old.waypoint === b.waypoint && old.servedHere === b.servedHere) continue;
    log.info({ serviceEntry: key, waypointBound: b.bound, reason: b.reason, servedHere: b.servedHere },
      `ServiceEntry ${key}: WaypointBound=${b.bound ? 'True' : 'False'} (${b.reason}) ${b.message}${b.bound && !b.servedHere ? ' — served by another waypoint' : ''}`);
  }
}
