// VirtualService tls/tcp rules -> where each TCP chain's tunnels go (listener_waypoint.go
// buildWaypointNetworkFilters, getWaypointTCPRoutes). Per service port that is not HTTP, of the
// VirtualServices getVirtualServiceForWaypoint selects (vs-scope.ts, the HTTP path's selection, but
// every one of them, not the first with http rules):
//   - tls rules of every VirtualService first, then tcp rules (GEP-1294 route-type precedence); the
//     first rule that applies ends the search, in the first VirtualService that has one;
//   - a rule without match applies; a match applies when its gateways are empty or hold `mesh`, its
//     port is unset or the service port, it has no sourceLabels and no sourceNamespace (the waypoint
//     passes no labels and an empty namespace to matchTLS/matchTCP), and for tls, when sniHosts is
//     exactly [<service host>]: a waypoint does not look at the SNI a client sends. destinationSubnets
//     and sourceSubnet are not read;
//   - one destination: its cluster (weight ignored); several: weighted clusters over those with
//     weight > 0. getWaypointDestinationCluster names the cluster (destination port, else the
//     service's only port, else the listener's; subset).
// Plain data, keyed by the service's own TCP cluster; the tunnel path does one Map lookup.
import type { Resource } from '../config/resource.ts';
import type { L4MatchAttributes, RouteDestination, VirtualServiceSpec } from '../config/kinds/virtual-service.ts';
import { isHttpProtocol } from '../model/protocol.ts';
import type { RouteStatus, TcpRoute, VirtualServiceStatus, WeightedCluster } from '../model/route.ts';
import type { Cluster, Destination, HostTable } from '../model/snapshot.ts';
import { clusterFor, type RouteContext } from './routes.ts';
import { defaultPort } from './routes-virtual-service.ts';
import { resolveShortname, vsHosts, vsMatchesHost, waypointVirtualServices } from './vs-scope.ts';

type VS = Resource<VirtualServiceSpec>;

export type TcpStatus = NonNullable<VirtualServiceStatus['tcp']>[number];

export interface CompiledTcpRoutes {
  readonly tcpRoutes: ReadonlyMap<string, TcpRoute>;
  /** Per VirtualService with tls/tcp rules: the chains it routes and those where it does not apply. */
  readonly status: ReadonlyMap<VS, { readonly tcp: TcpStatus[]; readonly ignored: { cluster: string; reason: string }[] }>;
}

const NONE: CompiledTcpRoutes = { tcpRoutes: new Map(), status: new Map() };

export function compileTcpRoutes(
  vss: readonly VS[], hosts: HostTable, clusters: ReadonlyMap<string, Cluster>, waypointNamespace: string, defaultExportTo: readonly string[],
): CompiledTcpRoutes {
  const l4 = vss.filter((v) => (v.spec.tls?.length ?? 0) + (v.spec.tcp?.length ?? 0) > 0);
  if (l4.length === 0) return NONE;
  const ctx = { hosts, clusters };
  const tcpRoutes = new Map<string, TcpRoute>();
  const status = new Map(l4.map((v) => [v, { tcp: [] as TcpStatus[], ignored: [] as { cluster: string; reason: string }[] }]));
  const seen = new Set<string>();
  // Exact VirtualService hosts are looked up, wildcard ones scanned (as routes.ts's index does).
  const byHost = new Map<string, VS[]>();
  const wildcard: VS[] = [];
  for (const v of l4) {
    for (const h of vsHosts(v)) {
      if (h.startsWith('*')) {
        if (wildcard.at(-1) !== v) wildcard.push(v);
        continue;
      }
      const list = byHost.get(h);
      if (!list) byHost.set(h, [v]);
      else if (list.at(-1) !== v) list.push(v);
    }
  }
  for (const table of [hosts.exact, hosts.wildcard]) {
    for (const ports of table.values()) {
      for (const d of ports.values()) {
        if (isHttpProtocol(d.port.protocol) || seen.has(d.cluster.name)) continue;
        seen.add(d.cluster.name);
        // waypointVirtualServices sorts them in istiod's (total) order, so the input order does not matter.
        // A wildcard service host matches exact VirtualService hosts under it too (host.Name.Matches).
        const candidates = d.host.startsWith('*') ? l4 : [...new Set([...(byHost.get(d.host) ?? []), ...wildcard])];
        const covering = candidates.filter((v) => vsMatchesHost(v, d.host));
        if (covering.length === 0) continue;
        const ignore = (vs: VS, reason: string) => status.get(vs)!.ignored.push({ cluster: d.cluster.name, reason });
        const selected = waypointVirtualServices(covering, d.service.namespace, waypointNamespace, defaultExportTo, ignore);
        const found = pickRule(selected, d);
        for (const vs of selected) if (vs !== found?.vs) ignore(vs, found ? `VirtualService ${ref(found.vs)} ${found.rule} applies first` : noRuleReason(d));
        if (!found) continue;
        const route = tcpRoute(found.vs, found.rule, found.routes, d, ctx);
        tcpRoutes.set(d.cluster.name, route);
        status.get(found.vs)!.tcp.push({ cluster: d.cluster.name, rule: found.rule, to: route.clusters.map((c) => c.cluster ?? `${c.host}:${c.port} (not served here)`) });
      }
    }
  }
  return { tcpRoutes, status };
}

interface Found {
  readonly vs: VS;
  readonly rule: string;
  readonly routes: readonly RouteDestination[];
}

/** getWaypointTCPRoutes: tls rules of every VirtualService, then tcp rules; a rule without routes moves on to the next VirtualService. */
function pickRule(selected: readonly VS[], d: Destination): Found | undefined {
  for (const vs of selected) {
    const tls = vs.spec.tls ?? [];
    for (let i = 0; i < tls.length; i++) {
      const r = tls[i]!;
      if (r.match.length === 0 || r.match.some((m) => m.sniHosts.length === 1 && m.sniHosts[0] === d.host && l4Applies(m, d))) {
        if (r.route?.length) return { vs, rule: `tls[${i}]`, routes: r.route };
        break;
      }
    }
  }
  for (const vs of selected) {
    const tcp = vs.spec.tcp ?? [];
    for (let i = 0; i < tcp.length; i++) {
      const r = tcp[i]!;
      if (!r.match?.length || r.match.some((m) => l4Applies(m, d))) {
        if (r.route?.length) return { vs, rule: `tcp[${i}]`, routes: r.route };
        break;
      }
    }
  }
  return undefined;
}

/** matchTLS / matchTCP as the waypoint calls them: no proxy labels, gateways {mesh}, the service port, namespace "". */
function l4Applies(m: L4MatchAttributes, d: Destination): boolean {
  if (m.gateways?.length && !m.gateways.includes('mesh')) return false;
  if (m.sourceLabels && Object.keys(m.sourceLabels).length > 0) return false;
  if (m.port !== undefined && m.port !== 0 && m.port !== d.port.number) return false;
  return !m.sourceNamespace;
}

function tcpRoute(vs: VS, rule: string, routes: readonly RouteDestination[], d: Destination, ctx: Pick<RouteContext, 'hosts' | 'clusters'>): TcpRoute {
  const one = routes.length === 1;
  const clusters: WeightedCluster[] = [];
  let total = 0;
  for (const rd of routes) {
    // Several destinations: Envoy weighted_clusters, and istiod leaves out those without a weight.
    const w = one ? 1 : rd.weight ?? 0;
    if (w <= 0) continue;
    const host = resolveShortname(rd.destination.host, vs.metadata.namespace);
    const port = rd.destination.port?.number ?? defaultPort(ctx, host, d.port.number);
    const subset = rd.destination.subset;
    total += w;
    clusters.push({ cluster: clusterFor(ctx, host, port, subset), host, port, ...(subset ? { subset } : {}), upTo: total });
  }
  if (clusters.length === 0) {
    // Every destination has weight 0: istiod writes an empty weighted_clusters, which Envoy refuses;
    // the nearest honest outcome is a tunnel that finds no cluster.
    const rd = routes[0]!;
    const host = resolveShortname(rd.destination.host, vs.metadata.namespace);
    clusters.push({ host, port: rd.destination.port?.number ?? d.port.number, upTo: 1 });
    total = 1;
  }
  const source = `VirtualService ${ref(vs)}`;
  // istiod takes the tcp_proxy settings from the DestinationRule of routes[0]'s host, whatever its weight.
  const first = routes[0]!.destination;
  const firstHost = first.host.toLowerCase();
  const firstCluster = clusterFor(ctx, firstHost, first.port?.number ?? defaultPort(ctx, firstHost, d.port.number), undefined);
  const tcpProxy = firstCluster === undefined ? undefined : ctx.clusters.get(firstCluster)?.tcpProxy;
  return { source, rule, name: `${source} ${rule}`, clusters, total, ...(tcpProxy ? { tcpProxy } : {}) };
}

function noRuleReason(d: Destination): string {
  return `no tls/tcp rule applies to port ${d.port.number} of ${d.host} at a waypoint (tls sniHosts must be exactly [${d.host}]; a match with another port, gateways without mesh, sourceLabels or sourceNamespace never applies); tunnels keep the service's own endpoints`;
}

function ref(vs: VS): string {
  return `${vs.metadata.namespace}/${vs.metadata.name}`;
}

/** The HTTP route status with each VirtualService's TCP-chain outcome added (the same object when there is none). */
export function withTcpStatus(routeStatus: RouteStatus, tcp: CompiledTcpRoutes): RouteStatus {
  if (tcp.status.size === 0) return routeStatus;
  const byName = new Map([...tcp.status].map(([vs, st]) => [`${vs.metadata.namespace}/${vs.metadata.name}`, st]));
  return {
    ...routeStatus,
    virtualServices: routeStatus.virtualServices.map((v) => {
      const st = byName.get(`${v.namespace}/${v.name}`);
      return st ? { ...v, ignored: [...v.ignored, ...st.ignored], tcp: st.tcp } : v;
    }),
  };
}
