// Which VirtualServices a waypoint reads, and in which order (istiod: DefaultSidecarScopeForGateway
// takes PushContext.VirtualServicesForGateway(<waypoint namespace>, "mesh"); initVirtualServices files
// each VirtualService under its gateways and exportTo):
//   - gateways: empty means `mesh`; a list without `mesh` binds it to those Gateways only, and a
//     waypoint never sees it. Only the literal `mesh` counts (`ns/mesh` names a Gateway called mesh).
//   - exportTo: empty means MeshConfig defaultVirtualServiceExportTo (`*` when unset), of which
//     istiod honours `.` (first) and `*` only; `*` is public; `.` or the VirtualService's own
//     namespace keeps it private there; another name exports it to that namespace only (a list
//     without `.` is not visible in its own namespace).
// The list is private ones of the waypoint's namespace, then ones exported to it, then public ones,
// each in creation order (istiodOrder); listener_waypoint.go then keeps those in the service's or the waypoint's
// namespace whose hosts match the service host (vsMatchesHost) and uses the first with http routes. Per match (route.go sourceMatchHTTP, with the
// gateway set {mesh} and the waypoint's namespace as the proxy's): a match listing gateways applies
// only when one is `mesh`; otherwise a sourceNamespace must equal the waypoint's namespace.
import type { Resource } from '../config/resource.ts';
import type { HTTPMatchRequest, VirtualServiceSpec } from '../config/kinds/virtual-service.ts';

type VS = Resource<VirtualServiceSpec>;

/** 0: private to the waypoint's namespace, 1: exported to it, 2: public. */
export type MeshRank = 0 | 1 | 2;

export type MeshScope = { readonly rank: MeshRank } | { readonly reason: string };

export function meshScope(vs: VS, waypointNamespace: string, defaultExportTo: readonly string[] = ['*']): MeshScope {
  const gateways = vs.spec.gateways ?? [];
  if (gateways.length > 0 && !gateways.includes('mesh')) {
    return { reason: `bound to gateways [${gateways.join(', ')}] without mesh` };
  }
  const own = vs.spec.exportTo ?? [];
  const exportTo = own.length > 0 ? own : defaultExportTo.includes('.') ? ['.'] : defaultExportTo.includes('*') ? ['*'] : [];
  if (exportTo.includes('*')) return { rank: 2 };
  const ns = vs.metadata.namespace;
  if (!exportTo.includes('~')) {
    if (ns === waypointNamespace && exportTo.some((e) => e === '.' || e === ns)) return { rank: 0 };
    if (ns !== waypointNamespace && exportTo.includes(waypointNamespace)) return { rank: 1 };
  }
  const what = own.length > 0 ? `exportTo [${own.join(', ')}]` : `meshConfig defaultVirtualServiceExportTo [${defaultExportTo.join(', ')}]`;
  return { reason: `${what} does not make it visible in the waypoint's namespace (${waypointNamespace})` };
}

/** Whether VirtualService host `vsHost` covers ServiceEntry host `seHost` (one direction; HTTPRoute hostnames use it). */
export function vsCovers(vsHost: string, seHost: string): boolean {
  const h = vsHost.toLowerCase();
  return h === seHost || (h.startsWith('*.') && seHost.endsWith(h.slice(1)));
}

/**
 * host.Name.Matches: equal names, or a wildcard on either side (or both) whose suffix covers the
 * other (`api.example.com` and `*.example.com` match both ways; `*` matches everything).
 */
export function hostsMatch(a: string, b: string): boolean {
  const wa = a.startsWith('*');
  const wb = b.startsWith('*');
  if (wa && wb) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (wa) return b.endsWith(a.slice(1));
  if (wb) return a.endsWith(b.slice(1));
  return a === b;
}

/**
 * model.ResolveShortnameToFQDN as initVirtualServices applies it to a VirtualService's hosts and
 * destinations: a name without a dot (not `*`, not an IP) is `<name>.<namespace>.svc.cluster.local`.
 * Lower-cased, as this project keeps hosts.
 */
export function resolveShortname(host: string, namespace: string): string {
  const h = host.toLowerCase();
  return h.includes('.') || h === '*' || h.includes(':') ? h : `${h}.${namespace}.svc.cluster.local`;
}

const resolvedHosts = new WeakMap<VS, readonly string[]>();

/** A VirtualService's hosts as istiod reads them (resolveVirtualServiceShortnames), per object. */
export function vsHosts(vs: VS): readonly string[] {
  let hosts = resolvedHosts.get(vs);
  if (!hosts) resolvedHosts.set(vs, (hosts = (vs.spec.hosts ?? []).map((h) => resolveShortname(h, vs.metadata.namespace))));
  return hosts;
}

/** getVirtualServiceForWaypoint's host test: one of the VirtualService's hosts Matches the service host. */
export function vsMatchesHost(vs: VS, serviceHost: string): boolean {
  return vsHosts(vs).some((h) => hostsMatch(h, serviceHost));
}

/** istiod's sortConfigByCreationTime: creation time, then name, then namespace (not namespace first). */
export function istiodOrder(a: VS, b: VS): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a.metadata.name !== b.metadata.name) return a.metadata.name < b.metadata.name ? -1 : 1;
  return a.metadata.namespace < b.metadata.namespace ? -1 : a.metadata.namespace > b.metadata.namespace ? 1 : 0;
}

/**
 * getVirtualServiceForWaypoint over the waypoint's mesh VirtualServices: of `covering` (those whose
 * hosts cover the service host), the ones bound to mesh, visible in the waypoint's namespace and in
 * the service's or the waypoint's namespace, in istiod's order. `ignore` hears why each other one is out.
 */
export function waypointVirtualServices(
  covering: readonly VS[], serviceNamespace: string, waypointNamespace: string, defaultExportTo: readonly string[],
  ignore: (vs: VS, reason: string) => void,
): VS[] {
  const ranked: { vs: VS; rank: MeshRank }[] = [];
  for (const r of covering) {
    const scope = meshScope(r, waypointNamespace, defaultExportTo);
    if ('reason' in scope) {
      ignore(r, scope.reason);
      continue;
    }
    if (r.metadata.namespace !== serviceNamespace && r.metadata.namespace !== waypointNamespace) {
      ignore(r, `a waypoint only reads VirtualServices in the service's namespace (${serviceNamespace}) or its own (${waypointNamespace})`);
      continue;
    }
    ranked.push({ vs: r, rank: scope.rank });
  }
  return ranked.sort((x, y) => x.rank - y.rank || istiodOrder(x.vs, y.vs)).map((x) => x.vs);
}

/** Whether an HTTP match can apply at a waypoint in `waypointNamespace` (sourceLabels are handled by the caller). */
export function matchAppliesAtWaypoint(m: HTTPMatchRequest, waypointNamespace: string): boolean {
  if (m.gateways?.length) return m.gateways.includes('mesh');
  return !m.sourceNamespace || m.sourceNamespace === waypointNamespace;
}
