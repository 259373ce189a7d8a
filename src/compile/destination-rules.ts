// DestinationRule -> ClusterPolicy per (host, port) cluster, plus subset clusters. PURE: file paths
// (caCertificates, client certs) are carried as paths and read by the data plane, which caches them.
//
// Which DestinationRule applies (Istio PushContext.destinationRule, seen from the waypoint):
//   1. a DR in the waypoint's own namespace;
//   2. else a DR in the ServiceEntry's namespace exported to the waypoint's namespace;
//   3. else a DR in the root namespace exported to it.
// Within a namespace the most specific host wins: exact, then the longest wildcard.
// DRs for the same host in one namespace merge: the first (creation, name) keeps its trafficPolicy,
// subsets are appended, a repeated subset name is dropped.
// Policy per port (Istio MergeTrafficPolicy): a portLevelSettings entry for the SERVICE port
// replaces tls, connectionPool, outlierDetection and loadBalancer wholesale (no inheritance); a
// subset's fields then override, and the subset's own port-level entry replaces them again.
import { createHash } from 'node:crypto';
import type { DestinationRuleSpec, PortTrafficPolicy, TrafficPolicy } from '../config/kinds/destination-rule.ts';
import type { Resource } from '../config/resource.ts';
import { parseDurationMs } from '../config/kinds/virtual-service-rules.ts';
import { CODES } from '../model/codes.ts';
import type { ClusterPolicy, ConnectionLimits, LoadBalancerPolicy, OutlierPolicy, TcpProxySettings, TlsOrigination } from '../model/cluster-policy.ts';
import { formatPath, type Diagnostic } from '../model/diagnostic.ts';
import type { Cluster, Destination, HostTable } from '../model/snapshot.ts';
import { clusterName } from './services.ts';

type DR = Resource<DestinationRuleSpec>;
type Fields = Omit<PortTrafficPolicy, 'port'>;

export interface DestinationRuleContext {
  readonly waypointNamespace: string;
  readonly rootNamespace: string;
  /** meshConfig defaultDestinationRuleExportTo, for a DestinationRule without exportTo. */
  readonly defaultExportTo?: readonly string[];
}

interface Merged {
  readonly dr: DR;
  readonly host: string;
  readonly trafficPolicy?: TrafficPolicy;
  readonly subsets: NonNullable<DestinationRuleSpec['subsets']>;
}

export interface AppliedRules {
  readonly clusters: Map<string, Cluster>;
  readonly hosts: HostTable;
  readonly diagnostics: Diagnostic[];
}

export function isDestinationRule(r: Resource): r is DR {
  return r.kind === 'DestinationRule' && r.group === 'networking.istio.io';
}

/** `resources` sorted (creation, namespace, name); `clusters`/`hosts` from compileServices. */
export function compileDestinationRules(
  resources: readonly Resource[], clusters: ReadonlyMap<string, Cluster>, hosts: HostTable, ctx: DestinationRuleContext,
): AppliedRules {
  const drs = resources.filter(isDestinationRule).filter((d) => !d.spec.workloadSelector);
  // Nothing to apply: the clusters and host table stay the very objects compileServices built, so
  // route tables keyed on them are reused by an incremental compile (memo.ts).
  if (drs.length === 0) return { clusters: new Map(clusters), hosts, diagnostics: [] };
  const diagnostics = drs.flatMap(istioMutualWarnings);
  const byNs = mergeByNamespace(drs);
  const out = new Map<string, Cluster>();
  for (const c of clusters.values()) {
    const m = lookup(byNs, c, ctx);
    if (!m) {
      out.set(c.name, c);
      continue;
    }
    const tcpProxy = c.kind === 'tcp' ? compileTcpProxy(m.trafficPolicy) : undefined;
    const withTcp = tcpProxy ? { ...c, tcpProxy } : c;
    for (const sub of subsetClusters(withTcp, m, ctx)) out.set(sub.name, sub);
    const subsets = Object.fromEntries(m.subsets.map((s) => [s.name, clusterName(c.port, c.kind, c.host, s.name)]));
    const policy = compilePolicy(merge(undefined, m.trafficPolicy, c.port), m.dr, ctx);
    out.set(c.name, { ...withTcp, ...(policy ? { policy } : {}), ...(m.subsets.length ? { subsets } : {}) });
  }
  return { clusters: out, hosts: relink(hosts, out), diagnostics };
}

function mergeByNamespace(drs: readonly DR[]): Map<string, Map<string, Merged>> {
  const byNs = new Map<string, Map<string, Merged>>();
  for (const dr of drs) {
    const ns = dr.metadata.namespace;
    let hosts = byNs.get(ns);
    if (!hosts) byNs.set(ns, (hosts = new Map()));
    const host = dr.spec.host.toLowerCase();
    const prev = hosts.get(host);
    if (!prev) {
      hosts.set(host, { dr, host, trafficPolicy: dr.spec.trafficPolicy, subsets: [...(dr.spec.subsets ?? [])] });
      continue;
    }
    const names = new Set(prev.subsets.map((s) => s.name));
    hosts.set(host, {
      ...prev,
      trafficPolicy: prev.trafficPolicy ?? dr.spec.trafficPolicy,
      subsets: [...prev.subsets, ...(dr.spec.subsets ?? []).filter((s) => !names.has(s.name))],
    });
  }
  return byNs;
}

function lookup(byNs: Map<string, Map<string, Merged>>, c: Cluster, ctx: DestinationRuleContext): Merged | undefined {
  const seNs = c.service.split('/')[0]!;
  const order = [ctx.waypointNamespace, seNs, ctx.rootNamespace].filter((ns, i, a) => a.indexOf(ns) === i);
  for (const ns of order) {
    const visible = [...(byNs.get(ns)?.values() ?? [])].filter((m) => exportedTo(m.dr, ctx.waypointNamespace, ctx.defaultExportTo ?? ['*']));
    const hit = mostSpecific(c.host, visible);
    if (hit) return hit;
  }
  return undefined;
}

// DR exportTo: '*', '.', '~' or namespace names, relative to the waypoint's namespace. Without one,
// istiod's setDestinationRules keeps the DR visible in its own namespace, and exports it unless the
// mesh default (defaultDestinationRuleExportTo) has '.'.
function exportedTo(dr: DR, ns: string, defaultExportTo: readonly string[]): boolean {
  const to = dr.spec.exportTo ?? [];
  if (to.length === 0) return dr.metadata.namespace === ns || !defaultExportTo.includes('.');
  return to.some((e) => e === '*' || e === ns || (e === '.' && dr.metadata.namespace === ns));
}

/** Istio MostSpecificHostMatch: the exact host, else the longest wildcard that covers `host`. */
export function mostSpecific<T extends { readonly host: string }>(host: string, rules: readonly T[]): T | undefined {
  const exact = rules.find((r) => r.host === host);
  if (exact) return exact;
  let best: T | undefined;
  for (const r of rules) {
    if (!r.host.startsWith('*')) continue;
    const suffix = r.host.slice(1); // '.example.com', or '' for '*'
    const covers = host.startsWith('*') ? host.slice(1).endsWith(suffix) : host.endsWith(suffix);
    if (covers && (!best || r.host.length > best.host.length)) best = r;
  }
  return best;
}

function portLevel(tp: TrafficPolicy | undefined, port: number): PortTrafficPolicy | undefined {
  return tp?.portLevelSettings?.find((p) => p.port?.number === port);
}

/** Istio MergeTrafficPolicy(original, policy, port). */
function merge(original: Fields | undefined, policy: TrafficPolicy | undefined, port: number): Fields | undefined {
  if (!policy) return original;
  const out: { -readonly [K in keyof Fields]?: Fields[K] } = { ...original };
  for (const f of ['connectionPool', 'loadBalancer', 'outlierDetection', 'tls'] as const) {
    if (policy[f]) (out as Record<string, unknown>)[f] = policy[f];
  }
  const pl = portLevel(policy, port);
  if (pl) {
    // Port-level policies do not inherit: unset fields fall back to the defaults.
    out.connectionPool = pl.connectionPool;
    out.outlierDetection = pl.outlierDetection;
    out.loadBalancer = pl.loadBalancer;
    out.tls = pl.tls;
  }
  return out;
}

function subsetClusters(c: Cluster, m: Merged, ctx: DestinationRuleContext): Cluster[] {
  const base = merge(undefined, m.trafficPolicy, c.port);
  return m.subsets.map((s) => {
    const labels = Object.entries(s.labels ?? {});
    const policy = compilePolicy(merge(base, s.trafficPolicy, c.port), m.dr, ctx);
    return {
      ...c,
      name: clusterName(c.port, c.kind, c.host, s.name),
      endpoints: c.endpoints.filter((e) => labels.every(([k, v]) => e.labels[k] === v)),
      ...(policy ? { policy } : {}),
    };
  });
}

function compilePolicy(f: Fields | undefined, dr: DR, ctx: DestinationRuleContext): ClusterPolicy | undefined {
  if (!f) return undefined;
  const body = {
    source: { kind: 'DestinationRule', namespace: dr.metadata.namespace, name: dr.metadata.name },
    ...opt('tls', compileTls(f.tls, ctx)),
    ...opt('connectionPool', compileLimits(f.connectionPool)),
    ...opt('outlierDetection', compileOutlier(f.outlierDetection)),
    ...opt('loadBalancer', compileLb(f.loadBalancer)),
    h2Upgrade: f.connectionPool?.http?.h2UpgradePolicy === 'UPGRADE',
    ...(f.connectionPool?.http?.useClientProtocol ? { useClientProtocol: true as const } : {}),
  };
  const key = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 12);
  return { key, ...body };
}

function opt<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}

function ms(v: string | undefined): number | undefined {
  return v === undefined ? undefined : parseDurationMs(v);
}

function compileTls(t: Fields['tls'], ctx: DestinationRuleContext): TlsOrigination | undefined {
  if (!t || (t.mode !== 'SIMPLE' && t.mode !== 'MUTUAL')) return undefined; // DISABLE; ISTIO_MUTUAL is warned about
  return {
    mode: t.mode,
    ...opt('sni', t.sni),
    subjectAltNames: [...(t.subjectAltNames ?? [])],
    insecureSkipVerify: t.insecureSkipVerify ?? false,
    ...opt('caCertificates', t.caCertificates),
    ...opt('caCrl', t.caCrl),
    ...opt('clientCertificate', t.clientCertificate),
    ...opt('privateKey', t.privateKey),
    // A waypoint reads credentialName Secrets from its own namespace (reference §2.6).
    ...opt('credential', t.credentialName ? { namespace: ctx.waypointNamespace, name: t.credentialName } : undefined),
  };
}

/**
 * The TCP chain's tcp_proxy timeouts (buildWaypointNetworkFilters): the DestinationRule's top-level
 * trafficPolicy only; istiod reads neither portLevelSettings nor the subset here ("to align with
 * sidecars, subsets are ignored"). An explicit idleTimeout `0s` turns the idle timeout off.
 */
function compileTcpProxy(tp: TrafficPolicy | undefined): TcpProxySettings | undefined {
  const tcp = tp?.connectionPool?.tcp;
  const idle = ms(tcp?.idleTimeout);
  const max = ms(tcp?.maxConnectionDuration);
  if (idle === undefined && !max) return undefined;
  return { ...opt('idleTimeoutMs', idle), ...opt('maxConnectionDurationMs', max || undefined) };
}

function compileLimits(cp: Fields['connectionPool']): ConnectionLimits | undefined {
  if (!cp) return undefined;
  const { tcp, http } = cp;
  const out: Record<string, number | undefined> = {
    maxConnections: tcp?.maxConnections, connectTimeoutMs: ms(tcp?.connectTimeout), tcpKeepaliveMs: ms(tcp?.tcpKeepalive?.time),
    tcpIdleTimeoutMs: ms(tcp?.idleTimeout), maxConnectionDurationMs: ms(tcp?.maxConnectionDuration),
    http1MaxPendingRequests: http?.http1MaxPendingRequests, http2MaxRequests: http?.http2MaxRequests,
    maxRequestsPerConnection: http?.maxRequestsPerConnection, maxRetries: http?.maxRetries,
    httpIdleTimeoutMs: ms(http?.idleTimeout), maxConcurrentStreams: http?.maxConcurrentStreams,
  };
  // 0 means "Envoy default" for these in Istio (its proto uses 0 as unset).
  for (const [k, v] of Object.entries(out)) if (v === undefined || (v === 0 && k !== 'maxRetries')) delete out[k];
  return out as ConnectionLimits;
}

// Istio applyOutlierDetection over Envoy defaults (interval 10s, base ejection 30s, 10%, 5xx x5).
function compileOutlier(od: Fields['outlierDetection']): OutlierPolicy | undefined {
  if (!od) return undefined;
  // Deprecated consecutiveErrors means gateway errors only (istio/api#617).
  const legacy = od.consecutiveErrors && od.consecutiveErrors > 0 ? od.consecutiveErrors : undefined;
  return {
    consecutive5xxErrors: legacy ? 0 : od.consecutive5xxErrors ?? 5,
    consecutiveGatewayErrors: legacy ?? od.consecutiveGatewayErrors ?? 0,
    intervalMs: ms(od.interval) ?? 10_000,
    baseEjectionTimeMs: ms(od.baseEjectionTime) ?? 30_000,
    maxEjectionPercent: od.maxEjectionPercent && od.maxEjectionPercent > 0 ? od.maxEjectionPercent : 10,
    // Istio disables Envoy's panic threshold unless minHealthPercent is set.
    minHealthPercent: od.minHealthPercent ?? 0,
  };
}

function compileLb(lb: Fields['loadBalancer']): LoadBalancerPolicy | undefined {
  if (!lb) return undefined;
  const ch = lb.consistentHash;
  if (ch) {
    return {
      kind: 'CONSISTENT_HASH',
      ...opt('httpHeaderName', ch.httpHeaderName?.toLowerCase()),
      ...opt('httpCookie', ch.httpCookie?.name),
      ...opt('cookie', ch.httpCookie?.ttl !== undefined ? {
        maxAgeS: Math.floor((parseDurationMs(ch.httpCookie.ttl) ?? 0) / 1000),
        ...opt('path', ch.httpCookie.path || undefined),
        ...opt('attributes', ch.httpCookie.attributes?.length ? ch.httpCookie.attributes.map((a) => [a.name ?? '', a.value ?? ''] as const) : undefined),
      } : undefined),
      ...opt('httpQueryParameterName', ch.httpQueryParameterName),
      ...opt('useSourceIp', ch.useSourceIp || undefined),
      minimumRingSize: ch.ringHash?.minimumRingSize ?? ch.minimumRingSize ?? 1024,
    };
  }
  switch (lb.simple) {
    case 'ROUND_ROBIN': case 'RANDOM': case 'LEAST_REQUEST': return { kind: lb.simple };
    case 'LEAST_CONN': return { kind: 'LEAST_REQUEST' }; // deprecated alias
    default: return undefined; // UNSPECIFIED, PASSTHROUGH: the default
  }
}

/**
 * Host-table destinations point at the clusters that now carry policies. A destination whose cluster
 * no rule changed, and a host whose destinations all stay, keep their objects: a change elsewhere
 * then leaves them as they were (a worker's delta and the route patch see only what changed; with
 * one DestinationRule anywhere, every host was new on every compile).
 */
function relink(hosts: HostTable, clusters: ReadonlyMap<string, Cluster>): HostTable {
  const cache = new Map<Destination, Destination>();
  const swap = (d: Destination): Destination => {
    let n = cache.get(d);
    if (!n) {
      const c = clusters.get(d.cluster.name) ?? d.cluster;
      cache.set(d, (n = c === d.cluster ? d : { ...d, cluster: c }));
    }
    return n;
  };
  const portsOf = (ports: ReadonlyMap<number, Destination>): ReadonlyMap<number, Destination> => {
    let same = true;
    const out = new Map<number, Destination>();
    for (const [p, d] of ports) {
      const n = swap(d);
      same &&= n === d;
      out.set(p, n);
    }
    return same ? ports : out;
  };
  const table = (t: HostTable['exact']) => new Map([...t].map(([k, ports]) => [k, portsOf(ports)]));
  return { exact: table(hosts.exact), wildcard: table(hosts.wildcard), addresses: table(hosts.addresses) };
}

function istioMutualWarnings(dr: DR): Diagnostic[] {
  const out: Diagnostic[] = [];
  const check = (f: Fields | undefined, path: (string | number)[]) => {
    if (f?.tls?.mode !== 'ISTIO_MUTUAL') return;
    const loc = dr.locate([...path, 'tls', 'mode']);
    out.push({
      code: CODES.SchemaWarning.code, level: 'warning',
      message: 'tls.mode ISTIO_MUTUAL is ignored at a waypoint: the hop to an external service is not mesh mTLS, so no TLS is originated',
      hint: 'use SIMPLE or MUTUAL to originate TLS to the external service, or DISABLE',
      resource: { kind: 'DestinationRule', namespace: dr.metadata.namespace, name: dr.metadata.name },
      file: loc.file, line: loc.line, column: loc.column, path: formatPath([...path, 'tls', 'mode']),
    });
  };
  const policy = (tp: TrafficPolicy | undefined, path: (string | number)[]) => {
    check(tp, path);
    (tp?.portLevelSettings ?? []).forEach((p, i) => check(p, [...path, 'portLevelSettings', i]));
  };
  policy(dr.spec.trafficPolicy, ['spec', 'trafficPolicy']);
  (dr.spec.subsets ?? []).forEach((s, i) => policy(s.trafficPolicy, ['spec', 'subsets', i, 'trafficPolicy']));
  return out;
}
