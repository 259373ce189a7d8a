// The request path of one event loop, wired: listeners (proxy, HBONE, PROXY protocol), upstream
// pools, DNS, access log, spans and metrics, on a SnapshotStore someone else fills. server.ts adds
// the config source and the admin ports for a one-loop `run`; each worker of `run --concurrency N`
// (workers/worker.ts) runs one of these. Nothing here loads the config or compile code.
import type { SnapshotStore } from './controlplane/store.ts';
import type { SummaryBody } from './dashboard/admin-server.ts';
import { DEFAULT_LIMITS, type LimitKind } from './dataplane/downstream-guard.ts';
import { OverloadMonitor } from './dataplane/overload.ts';
import { ProxyListener } from './dataplane/proxy-listener.ts';
import { startProxyProtocol } from './dataplane/proxy-protocol-listener.ts';
import { DnsCache } from './dataplane/resolver.ts';
import { DialPolicy } from './dataplane/ssrf.ts';
import { Upstreams } from './dataplane/upstream.ts';
import type { RunningHbone } from './hbone/wire.ts';
import type { IdentitySource } from './identity/source.ts';
import type { CredentialProvider } from './model/credentials.ts';
import type { PodIdentities } from './model/identity.ts';
import type { Snapshot } from './model/snapshot.ts';
import type { WaypointOptions } from './server.ts';
import { createAccessLog, type LogTarget } from './telemetry/access-log.ts';
import type { Logger } from './telemetry/logger.ts';
import { VERSION, type Metrics } from './telemetry/metrics.ts';
import type { SpanExport } from './telemetry/otlp.ts';
import type { RequestRecord } from './telemetry/record.ts';
import { ServiceSummaries } from './telemetry/summary.ts';
import { warmUpFor } from './policy/warm-up.ts';
import { authority, bindError, StartupError } from './startup-error.ts';

export { authority, bindError, StartupError } from './startup-error.ts';

/** How a data plane writes: the operational log, and where access-log batches go. */
export interface DataPlaneIo {
  readonly log: Logger;
  readonly accessLog: LogTarget;
  /** `run --concurrency N`: every listener binds with SO_REUSEPORT, beside the other workers'. */
  readonly reusePort?: boolean;
  /** Ports to bind instead of o.ports / o.hbone.port / o.proxyProtocol.port (workers after the first). */
  readonly ports?: { readonly proxy: number; readonly hbone?: number; readonly proxyProtocol?: number };
  /** credentialName Secrets from the Kubernetes source (files: o.secretsDir). */
  readonly credentials?: CredentialProvider;
  /** --identify-pods-by-ip: plaintext clients looked up among the Pods. */
  readonly pods?: PodIdentities;
  /** The HBONE certificate from istiod's CA (else o.hbone's files). */
  readonly identity?: IdentitySource;
}

export interface DataPlane {
  readonly listeners: { readonly proxy: string; readonly hbone?: string; readonly proxyProtocol?: string };
  readonly summaries: ServiceSummaries;
  summary(): SummaryBody;
  /** Stops accepting and lets what is in flight finish for up to graceMs (the listeners only). */
  drain(graceMs: number): Promise<void>;
  /** drain(graceMs), then closes pools, timers, the access log and the span exporter. */
  stop(graceMs: number): Promise<void>;
}

/**
 * The request path of one event loop: the proxy, HBONE and PROXY-protocol listeners on `store`'s
 * snapshot, upstream pools, DNS, the access log and spans, counted in `metrics`. `run` runs one;
 * `run --concurrency N` runs one per worker thread (src/workers/). Over 60 lines: it is the wiring
 * list, one part per statement, with each listener's unwinding on a bind failure next to it.
 */
export async function startDataPlane(o: WaypointOptions, store: SnapshotStore, metrics: Metrics, io: DataPlaneIo): Promise<DataPlane> {
  const log = io.log;
  const accessLog = createAccessLog(o.accessLog, io.accessLog, (err) => {
    log.error({ err: err.message }, `access log: writing to stdout failed (${err.message}); access-log lines are now dropped and counted in egressway_access_log_dropped_total — check what reads this process's stdout, or run with --access-log off`);
  });
  const dns = new DnsCache({ servers: o.dnsServers, refreshMs: o.dnsRefreshMs, maxHosts: o.dnsMaxHosts });
  const upstreams = new Upstreams(dns, { connectTimeoutMs: o.connectTimeoutMs, dialPolicy: new DialPolicy(o.dialPolicy), secretsDir: o.secretsDir, credentials: io.credentials, maxPoolsPerCluster: o.dnsMaxHosts });
  const limits = { ...DEFAULT_LIMITS, ...o.limits };
  const onLimit = (kind: LimitKind) => metrics.limitTripped(kind);
  const overload = new OverloadMonitor({ heapFraction: o.overloadHeapFraction, onShed: () => onLimit('overload') });
  warmUpFor(store.current().authz);
  store.onSwap((next, prev) => {
    if (next.authz !== prev?.authz) warmUpFor(next.authz);
    // A change that left the clusters alone (the same Map: compile and worker deltas keep it) retains them all.
    if (next.clusters !== prev?.clusters) upstreams.retain(new Set(next.clusters.keys()));
  });
  const summary = new ServiceSummaries();
  const spans = o.otlpEndpoint ? await startSpans(o.otlpEndpoint, store.current(), log) : undefined;
  // `onTunnelOpen` takes effect once ProxyListener calls `deps.onTunnelOpen?.(record)` when a tunnel
  // is established (a pending hook, issue 3); until then tunnels are counted at close only. Passed as
  // a non-literal object so this wiring compiles both before and after ProxyDeps declares it.
  const proxyDeps = {
    snapshots: store, upstreams, pods: io.pods, connectTimeoutMs: o.connectTimeoutMs, sniTimeoutMs: o.sniTimeoutMs, tls: o.proxyTls,
    sink: (r: RequestRecord) => { metrics.record(r); summary.record(r); accessLog.write(r); spans?.record(r); o.onRecord?.(r); },
    onTunnelOpen: (r: RequestRecord) => { metrics.tunnelOpened(r); summary.tunnelOpened(r); },
    ownSpans: !!spans, limits, overload, onLimit,
  };
  const proxy = new ProxyListener(proxyDeps);
  let hbone: RunningHbone | undefined;
  metrics.bindHealth({
    activeRequests: () => proxy.activeRequests, activeTunnels: () => proxy.activeTunnels, snapshotSwappedAt: () => store.swappedAt,
    poolStats: () => upstreams.poolStats(), accessLogDropped: () => accessLog.dropped,
    downstreamConnections: () => ({ proxy: proxy.activeConnections, hbone: hbone?.listener.activeSessions ?? 0 }),
    overloaded: () => overload.overloaded, dnsRequestHosts: () => dns.requestHosts,
  });
  const closeAll = async () => {
    await Promise.allSettled([upstreams.close()]);
    metrics.close();
    overload.close();
    await accessLog.close();
    await spans?.shutdown(2000);
  };
  const reusePort = io.reusePort ?? false;
  let proxyAt: string;
  try {
    proxyAt = authority(await proxy.listen(io.ports?.proxy ?? o.ports.proxy, o.listenAddress, reusePort));
  } catch (err) {
    await closeAll();
    throw bindError('proxy', '--proxy-port', io.ports?.proxy ?? o.ports.proxy, err);
  }
  const hboneOpts = o.hbone && {
    maxConnections: limits.maxConnections, idleTimeoutMs: limits.idleTimeoutMs, maxConcurrentStreams: o.hboneMaxConcurrentStreams, onLimit, ...o.hbone,
    identity: io.identity, reusePort, port: io.ports?.hbone ?? o.hbone.port,
  };
  // Imported only when on: node:http2 and the listener are ~10 MiB of RSS (issue 16).
  hbone = hboneOpts ? await import('./hbone/wire.ts').then((m) => m.startHbone(hboneOpts, o.listenAddress, (t) => proxy.acceptTunnel(t), log)).catch(async (err: Error) => {
    await proxy.drain(0);
    await closeAll();
    throw new StartupError(err.message);
  }) : undefined;
  const ppOpts = o.proxyProtocol && { ...o.proxyProtocol, reusePort, port: io.ports?.proxyProtocol ?? o.proxyProtocol.port };
  const pp = ppOpts ? await startProxyProtocol(ppOpts, o.listenAddress, { accept: (t) => proxy.acceptTunnel(t), log, refused: metrics.proxyProtocolRefused }).catch(async (err: Error) => {
    await Promise.allSettled([proxy.drain(0), hbone?.close(0)]);
    await closeAll();
    throw new StartupError(err.message);
  }) : undefined;
  if (pp) metrics.bindProxyProtocol(() => pp.listener.activeConnections);
  let drained: Promise<void> | undefined;
  const drain = (graceMs: number) => (drained ??= Promise.all([proxy.drain(graceMs), hbone?.close(graceMs), pp?.listener.close(graceMs)]).then(() => undefined));
  return {
    listeners: { proxy: proxyAt, ...(hbone ? { hbone: hbone.address } : {}), ...(pp ? { proxyProtocol: pp.address } : {}) },
    summaries: summary,
    summary: () => ({ ...summary.snapshot(Date.now()), totals: { activeRequests: proxy.activeRequests, activeTunnels: proxy.activeTunnels } }),
    drain,
    async stop(graceMs) {
      await drain(graceMs);
      await closeAll();
    },
  };
}

/** The SDK is imported only here, so a waypoint without --otlp-endpoint never loads it. */
async function startSpans(endpoint: string, snap: Snapshot, log: Logger): Promise<SpanExport> {
  const { startOtlpExport } = await import('./telemetry/otlp.ts');
  const wp = snap.waypoint;
  const spans = startOtlpExport({ endpoint, serviceName: `${wp.name}.${wp.namespace}`, serviceNamespace: wp.namespace, serviceVersion: VERSION, log });
  log.info({ url: spans.url }, `exporting one span per request to ${spans.url} (OTLP/HTTP JSON)`);
  return spans;
}

