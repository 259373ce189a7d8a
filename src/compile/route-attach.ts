// Which HTTPRoutes route a destination at this waypoint: parentRefs that attach (ServiceEntry or the
// waypoint Gateway), minus what istiod's waypoint would not read (consumer routes, and routes of a
// second namespace). It writes only the parents' attachedClusters (for route status) and warnings.
import type { Resource } from '../config/resource.ts';
import type { HTTPRouteSpec } from '../config/kinds/http-route.ts';
import type { Destination, Snapshot } from '../model/snapshot.ts';
import type { ParentVerdict } from './route-status.ts';
import { routeDiagnostic, type RouteContext } from './routes.ts';
import { vsCovers } from './vs-scope.ts';

type HR = Resource<HTTPRouteSpec>;

export interface RouteParents {
  readonly route: HR;
  readonly verdicts: readonly ParentVerdict[];
  /** Per verdict: clusters served here through that parent. */
  readonly attached: string[][];
  /** Whether the "consumer route, ignored here" warning was given (once per route). */
  consumerNoted?: boolean;
  /** Whether the "another namespace's routes come first" warning was given (once per route). */
  shadowNoted?: boolean;
}

/** Whether an accepted parentRef attaches the route to destination `d` at this waypoint. */
function attaches(r: HR, v: ParentVerdict, d: Destination, waypoint: Snapshot['waypoint']): boolean {
  if (v.denied) return false;
  const p = v.ref;
  if (p.port !== undefined && p.port !== d.port.number) return false;
  if (p.kind === 'ServiceEntry') {
    if (p.sectionName && p.sectionName !== d.port.name) return false;
    return p.namespace === d.service.namespace && p.name === d.service.name;
  }
  const hostnames = r.spec.hostnames ?? [];
  return p.kind === 'Gateway' && p.namespace === waypoint.namespace && p.name === waypoint.name
    && (hostnames.length === 0 || hostnames.some((h) => vsCovers(h, d.host)));
}

/**
 * A route in neither the ServiceEntry's namespace nor the waypoint's is a consumer route (GEP-1426):
 * it applies to clients in its own namespace, which sidecars honour and a waypoint cannot; istiod's
 * waypoint reads only the other two namespaces (listener_waypoint.go getVirtualServiceForWaypoint).
 */
function consumerRoute(h: RouteParents, v: ParentVerdict, waypoint: Snapshot['waypoint'], ctx: RouteContext): boolean {
  const ns = h.route.metadata.namespace;
  if (v.ref.kind !== 'ServiceEntry' || ns === v.ref.namespace || ns === waypoint.namespace) return false;
  if (!h.consumerNoted) {
    h.consumerNoted = true;
    const i = (h.route.spec.parentRefs ?? []).findIndex((p) => p.name === v.ref.name && (p.namespace ?? ns) === v.ref.namespace);
    ctx.diagnostics.push(routeDiagnostic(h.route, ['spec', 'parentRefs', Math.max(i, 0)], `ignored by waypoint ${waypoint.namespace}/${waypoint.name}: a route for ServiceEntry ${v.ref.namespace}/${v.ref.name} from namespace ${ns} is a consumer route, and a waypoint applies only routes in the service's namespace (${v.ref.namespace}) or its own (${waypoint.namespace}), as istiod's does`, `move the HTTPRoute to namespace ${v.ref.namespace} or ${waypoint.namespace}`));
  }
  return true;
}

/**
 * An HTTPRoute that applies to a destination. `enforceGrants`: it attaches through a Gateway parent,
 * where istiod requires a ReferenceGrant for cross-namespace backends (not through a ServiceEntry).
 */
export interface AttachedRoute {
  readonly route: HR;
  readonly enforceGrants: boolean;
}


/**
 * The HTTPRoutes that route destination `d`, recorded in their parents' attachedClusters. istiod
 * turns the mesh routes (ServiceEntry parents) of one namespace into one VirtualService per host,
 * and a waypoint uses only the first VirtualService (getVirtualServiceForWaypoint, then vs[0]) of
 * its SidecarScope, where Gateway API routes of the waypoint's own namespace come before all others
 * ("consumer override": SelectVirtualServices / VirtualServicesForGateway). So when the ServiceEntry's
 * namespace and the waypoint's both have routes for it, the waypoint's namespace applies, whatever
 * the routes' ages.
 */
export function attachRoutes(d: Destination, hrs: readonly RouteParents[], waypoint: Snapshot['waypoint'], ctx: RouteContext): AttachedRoute[] {
  const hits: { h: RouteParents; at: number[]; viaGateway: boolean }[] = [];
  for (const h of hrs) {
    const at: number[] = [];
    h.verdicts.forEach((v, i) => {
      if (attaches(h.route, v, d, waypoint) && !consumerRoute(h, v, waypoint, ctx)) at.push(i);
    });
    if (at.length) hits.push({ h, at, viaGateway: at.some((i) => h.verdicts[i]!.ref.kind === 'Gateway') });
  }
  const mesh = hits.filter((x) => !x.viaGateway);
  const first = (mesh.find((x) => x.h.route.metadata.namespace === waypoint.namespace) ?? mesh[0])?.h.route;
  const out: AttachedRoute[] = [];
  for (const { h, at, viaGateway } of hits) {
    const ns = h.route.metadata.namespace;
    if (!viaGateway && ns !== first!.metadata.namespace) {
      if (!h.shadowNoted) {
        h.shadowNoted = true;
        ctx.diagnostics.push(routeDiagnostic(h.route, ['spec', 'parentRefs'], `ignored for ${d.host}:${d.port.number}: HTTPRoute ${first!.metadata.namespace}/${first!.metadata.name} routes it from namespace ${first!.metadata.namespace}; istiod makes one VirtualService per namespace from these routes and a waypoint uses only one, its own namespace's first`, `keep the HTTPRoutes for ${d.host} in one namespace (${d.service.namespace} or ${waypoint.namespace})`));
      }
      continue;
    }
    for (const i of at) h.attached[i]!.push(d.cluster.name);
    out.push({ route: h.route, enforceGrants: viaGateway });
  }
  return out;
}
