// VirtualService and HTTPRoute -> one RouteTable per HTTP cluster this waypoint serves.
// Selection follows Istio at waypoints (reference §2.4, §2.5; listener_waypoint.go): a VirtualService
// applies when one of its hosts matches the service host (host.Name.Matches, short names resolved in
// its namespace: vs-scope.ts; delegates merged into their roots: vs-delegate.ts), it is bound to `mesh` and visible in the
// waypoint's namespace (vs-scope.ts; not "gateways is ignored" as §2.5 says), and it lives in the
// service's or the waypoint's namespace; only the first such VirtualService is used (not merged,
// unlike §2.5 says); an
// HTTPRoute applies through accepted parentRefs to the ServiceEntry or to the waypoint Gateway.
// Without either, the route is the waypoint default: mesh default retries, no timeout. Route status
// (for /config_dump) is computed alongside, in route-status.ts. The tls/tcp rules of the same
// selection route TCP chains in tcp-routes.ts (§2.5 "TLS before TCP" holds, across all of the
// selected VirtualServices; its cluster naming too; sniHosts is compared with the service host,
// not the client's SNI, which §2.5 does not say).
import type { Resource } from '../config/resource.ts';
import type { VirtualServiceSpec } from '../config/kinds/virtual-service.ts';
import type { HTTPRouteSpec } from '../config/kinds/http-route.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import { CODES } from '../model/codes.ts';
import type { RetryPolicy, RouteRule, RouteStatus, RouteTable, VirtualServiceStatus } from '../model/route.ts';

export { DEFAULT_RETRY };
import type { Cluster, Destination, HostTable, Snapshot } from '../model/snapshot.ts';
import { DEFAULT_RETRY } from './routes-common.ts';
import { compileVirtualServiceRules } from './routes-virtual-service.ts';
import { compileHttpRouteRules } from './routes-http-route.ts';
import type { GrantIndex } from './reference-grants.ts';
import { GATEWAY_GROUP, ISTIO_GROUP, parentConditions, parentVerdicts, refsError, statusWorld } from './route-status.ts';
import { CompileMemo, sameItems, type RouteMemo } from './memo.ts';
import { patchRoutes } from './routes-delta.ts';
import { attachRoutes, type RouteParents } from './route-attach.ts';
import { vsHosts, vsMatchesHost, waypointVirtualServices } from './vs-scope.ts';
import { isMergedRoot, mergeDelegates } from './vs-delegate.ts';

/** The waypoint's route without a route object: BuildDefaultHTTPOutboundRoute, with the mesh's retry policy. */
export function defaultRule(retry: RetryPolicy = DEFAULT_RETRY): RouteRule {
  return { name: 'default', matches: [], action: { kind: 'forward', clusters: [], total: 0 }, retry, mirrors: [] };
}

/** What route compilers need to resolve a destination host to a cluster. */
export interface RouteContext {
  readonly hosts: HostTable;
  readonly clusters: ReadonlyMap<string, Cluster>;
  readonly diagnostics: Diagnostic[];
  readonly grants: GrantIndex;
  /** The waypoint's namespace: a match's sourceNamespace is compared with it (vs-scope.ts). */
  readonly waypointNamespace: string;
  /** meshConfig defaultVirtualServiceExportTo, for a VirtualService without exportTo. */
  readonly defaultExportTo: readonly string[];
  /** meshConfig defaultHttpRetryPolicy as Envoy gets it (DefaultPolicy() when unset): routes without retries. */
  readonly meshRetry: RetryPolicy;
}

export function clusterFor(ctx: Pick<RouteContext, 'hosts' | 'clusters'>, host: string, port: number, subset?: string): string | undefined {
  const dest = ctx.hosts.exact.get(host.toLowerCase())?.get(port);
  if (!dest) return undefined;
  if (!subset) return dest.cluster.name;
  const name = dest.cluster.subsets?.[subset];
  return name && ctx.clusters.has(name) ? name : undefined;
}

export function routeDiagnostic(r: Resource, path: (string | number)[], message: string, hint: string, level: 'error' | 'warning' = 'warning'): Diagnostic {
  const loc = r.locate(path);
  return {
    code: level === 'error' ? CODES.SchemaValidationError.code : CODES.SchemaWarning.code, level, message, hint,
    resource: { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name },
    file: loc.file, line: loc.line, column: loc.column,
    path: path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').slice(1),
  };
}

type HR = Resource<HTTPRouteSpec>;
type VS = Resource<VirtualServiceSpec>;

export function compileRoutes(
  resources: readonly Resource[], snap: Pick<Snapshot, 'hosts' | 'clusters' | 'waypoint'>, memo = new CompileMemo(),
  defaultExportTo: readonly string[] = ['*'], meshRetry: RetryPolicy = DEFAULT_RETRY,
): { routes: Map<string, RouteTable>; routeStatus: RouteStatus; diagnostics: Diagnostic[] } {
  // istiod merges delegate VirtualServices into their roots before anything reads them (vs-delegate.ts).
  const vss = mergeDelegates(resources.filter((r): r is VS => r.kind === 'VirtualService' && r.group === ISTIO_GROUP), defaultExportTo);
  const httpRoutes = resources.filter((r): r is HR => r.kind === 'HTTPRoute' && r.group === GATEWAY_GROUP);
  // The Gateway API world (parents, grants) only matters to HTTPRoutes; most configs have none.
  const world = httpRoutes.length > 0 ? statusWorld(resources) : undefined;
  const ctx: RouteContext = { hosts: snap.hosts, clusters: snap.clusters, diagnostics: [], grants: world?.grants ?? new Map(), waypointNamespace: snap.waypoint.namespace, defaultExportTo, meshRetry };
  const hrs: RouteParents[] = httpRoutes.map((route) => {
    const verdicts = parentVerdicts(route, world!);
    return { route, verdicts, attached: verdicts.map(() => []) };
  });
  const vsStatus = new Map(vss.map((v) => [v, { attached: [] as string[], ignored: [] as { cluster: string; reason: string }[] }]));
  const sink: StatusSink = {
    ignore: (vs, cluster, reason) => vsStatus.get(vs)!.ignored.push({ cluster, reason }),
    attach: (vs, cluster) => vsStatus.get(vs)!.attached.push(cluster),
  };
  // Without HTTPRoutes the index depends on the VirtualServices only: kept while they are the same.
  const kept = hrs.length === 0 && memo.routeIndex && sameItems(memo.routeIndex.vss, vss) ? memo.routeIndex.index : undefined;
  const index = kept ?? routeIndex(vss, hrs);
  memo.routeIndex = hrs.length === 0 ? { vss, index } : undefined;
  const signatures = new Map<string, string>();
  const signature = (host: string) => {
    let sig = signatures.get(host);
    if (sig === undefined) signatures.set(host, (sig = hostSignature(snap, host)));
    return sig;
  };
  // A few hosts or VirtualServices changed: rebuild their tables and what reads them (routes-delta.ts).
  const patched = hrs.length === 0 && memo.routesLast && patchRoutes(memo.routesLast, vss, snap.hosts, snap.clusters.size, memo.routes, {
    recompute: (d, before) => {
      const scratch = new Map<string, RouteMemo>();
      const quiet: StatusSink = { ignore: () => {}, attach: () => {} };
      memoTable(d, vsCandidates(index, vss, d.host), snap.waypoint, { ...ctx, diagnostics: [] }, quiet, before, signature, scratch);
      return scratch.get(d.cluster.name)!;
    },
    status: (v, st) => vsStatusEntry(v, st, memo),
    lastStatus: (v) => memo.vsStatus.get(v),
  });
  if (patched) {
    memo.counts.routesPatched++;
    memo.routes = patched.entries;
    memo.routesLast = { vss, hosts: snap.hosts, clusterCount: snap.clusters.size, routes: patched.routes, routeStatus: patched.routeStatus, diagnostics: 0 };
    return { routes: patched.routes, routeStatus: patched.routeStatus, diagnostics: patched.diagnostics };
  }
  const routes = new Map<string, RouteTable>();
  const seen = new Set<string>();
  const reused = new Map<string, RouteMemo>();
  for (const table of [snap.hosts.exact, snap.hosts.wildcard]) {
    for (const ports of table.values()) {
      for (const d of ports.values()) {
        if (d.cluster.kind !== 'http' || seen.has(d.cluster.name)) continue;
        seen.add(d.cluster.name);
        const hrFor = candidates(index, index.hrByEntry.get(d.service.key), index.hrViaGateway);
        const vsFor = vsCandidates(index, vss, d.host);
        const t = hrFor.length > 0
          ? tableFor(d, vsFor, hrFor, snap.waypoint, ctx, sink)
          : memoTable(d, vsFor, snap.waypoint, ctx, sink, memo.routes.get(d.cluster.name), signature, reused);
        if (t) routes.set(d.cluster.name, t);
      }
    }
  }
  memo.routes = reused;
  const routeStatus: RouteStatus = {
    httpRoutes: hrs.map(({ route, verdicts, attached }) => {
      return {
        namespace: route.metadata.namespace, name: route.metadata.name,
        parents: verdicts.map((v, i) => ({
          parentRef: v.ref, conditions: parentConditions(v, refsError(route, world!, v.ref.kind === 'Gateway')), attachedClusters: attached[i]!,
        })),
      };
    }),
    virtualServices: vss.map((v) => vsStatusEntry(v, vsStatus.get(v)!, memo)),
  };
  memo.routesLast = { vss, hosts: snap.hosts, clusterCount: snap.clusters.size, routes, routeStatus, diagnostics: ctx.diagnostics.length };
  return { routes, routeStatus, diagnostics: ctx.diagnostics };
}

/** A VirtualService's status, last compile's object when equal (a snapshot change stays small). */
function vsStatusEntry(v: VS, st: { attached: string[]; ignored: { cluster: string; reason: string }[] }, memo: CompileMemo): VirtualServiceStatus {
  const before = memo.vsStatus.get(v);
  if (before && sameItems(before.attached, st.attached) && before.ignored.length === st.ignored.length
    && before.ignored.every((x, i) => x.cluster === st.ignored[i]!.cluster && x.reason === st.ignored[i]!.reason)) return before;
  const entry = { namespace: v.metadata.namespace, name: v.metadata.name, ...st };
  memo.vsStatus.set(v, entry);
  return entry;
}

/** Where tableFor reports what happened to each VirtualService (for route status). */
interface StatusSink {
  ignore(vs: VS, cluster: string, reason: string): void;
  attach(vs: VS, cluster: string): void;
}

/** What a destination host resolves to, as route rules read it: its ports, clusters and subsets. */
function hostSignature(snap: Pick<Snapshot, 'hosts' | 'clusters'>, host: string): string {
  const ports = snap.hosts.exact.get(host);
  if (!ports) return '';
  let sig = '';
  for (const [p, d] of ports) {
    sig += `${p}=${d.cluster.name}`;
    for (const [sub, name] of Object.entries(d.cluster.subsets ?? {})) sig += `,${sub}:${name}:${snap.clusters.has(name)}`;
    sig += ';';
  }
  return sig;
}

/**
 * A route table without HTTPRoutes, reused when its inputs are the ones it was built from (memo.ts);
 * else built while recording the hosts its rules read, its diagnostics and its status.
 */
function memoTable(
  d: Destination, vss: readonly VS[], waypoint: Snapshot['waypoint'], ctx: RouteContext, sink: StatusSink,
  before: RouteMemo | undefined, signature: (host: string) => string, reused: Map<string, RouteMemo>,
): RouteTable | undefined {
  const fresh = before && before.service === d.service && before.cluster === d.cluster && before.host === d.host
    && sameItems(before.virtualServices, vss) && readsSame(before.reads, signature);
  if (fresh) return replay(before, ctx, sink, reused);
  const reads = new Map<string, string>();
  const exact = ctx.hosts.exact;
  const recording: typeof exact = {
    get: (host: string) => {
      reads.set(host, signature(host));
      return exact.get(host);
    },
  } as typeof exact;
  const diagnostics: Diagnostic[] = [];
  const status: RouteMemo['status'][number][] = [];
  const recorder: StatusSink = {
    ignore: (vs, cluster, reason) => status.push({ vs, ignored: { cluster, reason } }),
    attach: (vs, cluster) => status.push({ vs, attached: cluster }),
  };
  const table = tableFor(d, vss, [], waypoint, { ...ctx, hosts: { ...ctx.hosts, exact: recording }, diagnostics }, recorder);
  return replay({ service: d.service, cluster: d.cluster, host: d.host, virtualServices: vss, reads, table, diagnostics, status }, ctx, sink, reused);
}

function readsSame(reads: ReadonlyMap<string, string>, signature: (host: string) => string): boolean {
  for (const [h, sig] of reads) if (signature(h) !== sig) return false;
  return true;
}

function replay(entry: RouteMemo, ctx: RouteContext, sink: StatusSink, reused: Map<string, RouteMemo>): RouteTable | undefined {
  ctx.diagnostics.push(...entry.diagnostics);
  for (const e of entry.status) {
    if (e.ignored) sink.ignore(e.vs as VS, e.ignored.cluster, e.ignored.reason);
    else sink.attach(e.vs as VS, e.attached!);
  }
  reused.set(entry.cluster.name, entry);
  return entry.table;
}

/**
 * Candidates per destination, so that finding a host's routes does not scan every route (it did:
 * 1,000 VirtualServices x 1,000 clusters took 0.8 s of a 1.3 s compile). Exact hosts and
 * ServiceEntry parents are looked up; wildcard VirtualService hosts and Gateway parents (which
 * match by hostname) are scanned. `order` keeps the callers' (creation, name) order.
 */
export interface RouteIndex {
  readonly vsByHost: Map<string, VS[]>;
  readonly vsWildcard: VS[];
  readonly hrByEntry: Map<string, RouteParents[]>;
  readonly hrViaGateway: RouteParents[];
  readonly order: Map<VS | RouteParents, number>;
}

function routeIndex(vss: readonly VS[], hrs: readonly RouteParents[]): RouteIndex {
  const index: RouteIndex = { vsByHost: new Map(), vsWildcard: [], hrByEntry: new Map(), hrViaGateway: [], order: new Map() };
  const add = <T>(map: Map<string, T[]>, key: string, v: T) => {
    const list = map.get(key);
    if (!list) map.set(key, [v]);
    else if (list.at(-1) !== v) list.push(v);
  };
  vss.forEach((vs, i) => {
    index.order.set(vs, i);
    for (const h of vsHosts(vs)) {
      if (h.startsWith('*')) {
        if (index.vsWildcard.at(-1) !== vs) index.vsWildcard.push(vs);
      } else add(index.vsByHost, h, vs);
    }
  });
  hrs.forEach((h, i) => {
    index.order.set(h, i);
    for (const v of h.verdicts) {
      if (v.ref.kind === 'ServiceEntry') add(index.hrByEntry, `${v.ref.namespace}/${v.ref.name}`, h);
      else if (index.hrViaGateway.at(-1) !== h) index.hrViaGateway.push(h);
    }
  });
  return index;
}

/** The VirtualServices that may match `host`: all of them for a wildcard ServiceEntry host (host.Name.Matches is symmetric). */
function vsCandidates(index: RouteIndex, vss: readonly VS[], host: string): VS[] {
  return host.startsWith('*') ? [...vss] : candidates(index, index.vsByHost.get(host), index.vsWildcard);
}

function candidates<T extends VS | RouteParents>(index: RouteIndex, a: readonly T[] | undefined, b: readonly T[]): T[] {
  if (!a?.length) return b.length ? [...b] : [];
  if (!b.length) return a.length === 1 ? [a[0]!] : [...a];
  const all = [...new Set([...a, ...b])];
  return all.length < 2 ? all : all.sort((x, y) => index.order.get(x)! - index.order.get(y)!);
}

function tableFor(
  d: Destination, vss: readonly VS[], hrs: readonly RouteParents[], waypoint: Snapshot['waypoint'], ctx: RouteContext, sink: StatusSink,
): RouteTable | undefined {
  const cluster = d.cluster.name;
  const attachedRoutes = attachRoutes(d, hrs, waypoint, ctx);
  const httpRoutes = attachedRoutes.map((a) => a.route);
  const covering = vss.filter((r) => vsMatchesHost(r, d.host) && ((r.spec.http ?? []).length > 0 || isMergedRoot(r)));
  const ignore = (vs: VS, reason: string) => sink.ignore(vs, cluster, reason);
  // vs-scope.ts: bound to mesh and visible in the waypoint's namespace, ranked private, exported, public;
  // listener_waypoint.go getVirtualServiceForWaypoint: only the service's and the waypoint's namespaces.
  const virtualServices = waypointVirtualServices(covering, d.service.namespace, waypoint.namespace, ctx.defaultExportTo, ignore);
  const names = (rs: readonly Resource[]) => rs.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).join(', ');
  if (httpRoutes.length > 0) {
    for (const vs of virtualServices) {
      ignore(vs, `HTTPRoute ${names(httpRoutes)} also routes it`);
      ctx.diagnostics.push(routeDiagnostic(vs, ['spec', 'hosts'], `ignored for ${d.host}:${d.port.number}: HTTPRoute ${names(httpRoutes)} also routes it, and mixing the two is undefined in Istio`, 'route this host with either HTTPRoute or VirtualService, not both'));
    }
    return { source: httpRoutes.map((r) => `HTTPRoute ${r.metadata.namespace}/${r.metadata.name}`).join(', '), rules: compileHttpRouteRules(attachedRoutes, d, ctx) };
  }
  // buildWaypointInboundHTTPRouteConfig uses the first HTTP VirtualService (private to the waypoint's
  // namespace, exported to it, public; oldest, then by name, within each); they are not merged.
  const [vs, ...shadowed] = virtualServices;
  if (!vs) return undefined;
  for (const other of shadowed) {
    ignore(other, `VirtualService ${names([vs])} comes first (exportTo "." in the waypoint's namespace, then exported to it, then public; oldest first within each) and a waypoint uses one VirtualService per service`);
    ctx.diagnostics.push(routeDiagnostic(other, ['spec', 'hosts'], `ignored for ${d.host}:${d.port.number}: VirtualService ${names([vs])} also routes it and comes first, and a waypoint uses only the first`, 'merge the http rules into one VirtualService'));
  }
  const rules = compileVirtualServiceRules(vs, d, ctx);
  // waypointInboundRoute returns "no routes matched" when every rule was for another port (or had
  // only sourceLabels matches), and the waypoint then uses its default route.
  if (rules.length === 0) {
    ignore(vs, `no http rule applies to port ${d.port.number} at a waypoint (each match names another port, gateways without mesh, sourceLabels or another sourceNamespace); the waypoint default route is used`);
    return undefined;
  }
  sink.attach(vs, cluster);
  return { source: `VirtualService ${names([vs])}`, rules };
}
