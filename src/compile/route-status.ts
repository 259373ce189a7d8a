// HTTPRoute status as istiod writes it (pilot/pkg/config/kube/gateway conditions.go
// createRouteStatus, conversion.go referenceAllowed and buildDestination), computed from the
// resources alone: per parentRef, Accepted (Accepted | NoMatchingParent | NotAllowedByListeners),
// ResolvedRefs (ResolvedRefs | BackendNotFound | InvalidKind | InvalidDestination | InvalidFilter)
// (RefNotPermitted when a Gateway-parented route crosses namespaces without a ReferenceGrant)
// and, in ambient, ResolvedWaypoints (always True; istiod only changes its message when the parent
// lacks istio.io/use-waypoint). PURE.
import type { Resource } from '../config/resource.ts';
import type { BackendRef, HTTPRouteSpec, ParentReference } from '../config/kinds/http-route.ts';
import type { GatewaySpec, Listener } from '../config/kinds/gateway.ts';
import type { RouteCondition, RouteParentStatus } from '../model/route.ts';
import { matchSelector } from './label-selector.ts';
import { backendAllowed, grantIndex, refNotPermitted, type GrantIndex } from './reference-grants.ts';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
export const ISTIO_GROUP = 'networking.istio.io';

const MISSING_LABEL = 'istio.io/use-waypoint label missing from parent and parent namespace; in ambient mode, route will not be respected';
const NO_PARENT = 'parent not found';
/** Filters the route compiler implements; anything else makes the rule answer 500. */
export const SUPPORTED_FILTERS = new Set(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'RequestMirror', 'URLRewrite', 'CORS']);

/** What the status needs to know about the world, indexed once per compile. */
export interface StatusWorld {
  readonly serviceEntries: ReadonlyMap<string, Resource>; // ns/name
  readonly gateways: ReadonlyMap<string, Resource<GatewaySpec>>; // ns/name
  readonly namespaces: ReadonlyMap<string, Readonly<Record<string, string>>>; // name -> labels
  /** Lower-cased ServiceEntry hosts (exact and wildcard) across all ServiceEntries. */
  readonly hosts: ReadonlySet<string>;
  readonly grants: GrantIndex;
}

export function statusWorld(resources: readonly Resource[]): StatusWorld {
  const serviceEntries = new Map<string, Resource>();
  const gateways = new Map<string, Resource<GatewaySpec>>();
  const namespaces = new Map<string, Readonly<Record<string, string>>>();
  const hosts = new Set<string>();
  for (const r of resources) {
    const key = `${r.metadata.namespace}/${r.metadata.name}`;
    if (r.kind === 'ServiceEntry' && r.group === ISTIO_GROUP) {
      serviceEntries.set(key, r);
      for (const h of (r.spec as { hosts?: string[] }).hosts ?? []) hosts.add(h.toLowerCase());
    } else if (r.kind === 'Gateway' && r.group === GATEWAY_GROUP) gateways.set(key, r as Resource<GatewaySpec>);
    else if (r.kind === 'Namespace' && r.group === '') namespaces.set(r.metadata.name, r.metadata.labels);
  }
  return { serviceEntries, gateways, namespaces, hosts, grants: grantIndex(resources) };
}

export interface ParentVerdict {
  readonly ref: RouteParentStatus['parentRef'];
  /** Accepted condition when false; undefined means accepted. */
  readonly denied?: { readonly reason: string; readonly message: string };
  readonly waypointMessage?: string;
}

/** One verdict per parentRef istiod handles (Gateway, Service, ServiceEntry); others are another controller's. */
export function parentVerdicts(hr: Resource<HTTPRouteSpec>, world: StatusWorld): ParentVerdict[] {
  const out: ParentVerdict[] = [];
  for (const p of hr.spec.parentRefs ?? []) {
    const ref = normalizeParent(p, hr.metadata.namespace);
    const key = `${ref.namespace}/${ref.name}`;
    if (ref.kind === 'ServiceEntry' && ref.group === ISTIO_GROUP) {
      const se = world.serviceEntries.get(key);
      if (!se) out.push({ ref, denied: { reason: 'NoMatchingParent', message: `parent service entry: "${ref.name}" not found` }, waypointMessage: NO_PARENT });
      else out.push({ ref, waypointMessage: waypointConfigured(se.metadata.labels) || !nsMissingLabel(world, ref.namespace) ? undefined : MISSING_LABEL });
    } else if (ref.kind === 'Service' && ref.group === '') {
      // File mode has no Kubernetes Services to attach to.
      out.push({ ref, denied: { reason: 'NoMatchingParent', message: `parent service: "${ref.name}" not found` }, waypointMessage: NO_PARENT });
    } else if (ref.kind === 'Gateway' && ref.group === GATEWAY_GROUP) {
      out.push({ ref, denied: gatewayDenied(world.gateways.get(key), ref, hr.metadata.namespace, world) });
    }
  }
  return out;
}

function normalizeParent(p: ParentReference, ns: string): RouteParentStatus['parentRef'] {
  return {
    group: p.group ?? GATEWAY_GROUP, kind: p.kind ?? 'Gateway', namespace: p.namespace ?? ns, name: p.name,
    ...(p.sectionName !== undefined ? { sectionName: p.sectionName } : {}), ...(p.port !== undefined ? { port: p.port } : {}),
  };
}

function waypointConfigured(labels: Readonly<Record<string, string>>): boolean {
  const v = labels['istio.io/use-waypoint'];
  return v !== undefined && v !== '' && v.toLowerCase() !== 'none';
}

/** istiod checks the namespace only when the Namespace object exists. */
function nsMissingLabel(world: StatusWorld, ns: string): boolean {
  const labels = world.namespaces.get(ns);
  return labels !== undefined && !waypointConfigured(labels);
}

// referenceAllowed for a Gateway parent: section and port first, then the listener's allowedRoutes.
function gatewayDenied(gw: Resource<GatewaySpec> | undefined, ref: RouteParentStatus['parentRef'], routeNs: string, world: StatusWorld): ParentVerdict['denied'] {
  if (!gw) return { reason: 'NoMatchingParent', message: `parent gateway "${ref.namespace}/${ref.name}" not found` };
  let listeners = gw.spec.listeners ?? [];
  if (ref.port !== undefined) listeners = listeners.filter((l) => l.port === ref.port);
  if (listeners.length === 0) return { reason: 'NoMatchingParent', message: `port ${ref.port} not found` };
  if (ref.sectionName !== undefined) listeners = listeners.filter((l) => l.name === ref.sectionName);
  if (listeners.length === 0) return { reason: 'NoMatchingParent', message: `sectionName "${ref.sectionName}" not found` };
  if (!listeners.some((l) => namespaceAllowed(l, gw.metadata.namespace, routeNs, world))) {
    return { reason: 'NotAllowedByListeners', message: `hostnames matched parent hostname "*", but namespace "${routeNs}" is not allowed by the parent` };
  }
  return undefined;
}

function namespaceAllowed(l: Listener, gwNs: string, routeNs: string, world: StatusWorld): boolean {
  const from = l.allowedRoutes?.namespaces?.from ?? 'Same';
  if (from === 'All') return true;
  if (from === 'Same') return routeNs === gwNs;
  const labels = { ...(world.namespaces.get(routeNs) ?? {}), 'kubernetes.io/metadata.name': routeNs };
  return matchSelector(l.allowedRoutes?.namespaces?.selector, labels);
}

/**
 * The ResolvedRefs error istiod would report for the route through one parent (the first one
 * found), or undefined. `enforceGrants`: istiod checks ReferenceGrants for Gateway parents only;
 * for mesh parents (Service, ServiceEntry) it does not (convertHTTPRoute's enforceRefGrant = !mesh).
 */
export function refsError(hr: Resource<HTTPRouteSpec>, world: StatusWorld, enforceGrants: boolean): { reason: string; message: string } | undefined {
  for (const rule of hr.spec.rules ?? []) {
    for (const f of rule.filters ?? []) {
      if (!SUPPORTED_FILTERS.has(f.type)) return { reason: 'InvalidFilter', message: `unsupported filter type "${f.type}"` };
      if (f.type === 'RequestMirror' && f.requestMirror) {
        const e = backendError(f.requestMirror.backendRef, hr.metadata.namespace, world, enforceGrants);
        if (e) return e;
      }
    }
    for (const b of rule.backendRefs ?? []) {
      if (b.weight === 0) continue; // buildHTTPDestination skips zero-weight backends
      const e = backendError(b, hr.metadata.namespace, world, enforceGrants);
      if (e) return e;
      for (const f of b.filters ?? []) {
        if (f.type !== 'RequestHeaderModifier' && f.type !== 'ResponseHeaderModifier') return { reason: 'InvalidFilter', message: `unsupported filter type "${f.type}"` };
      }
    }
  }
  return undefined;
}

// conversion.go buildDestination: the ReferenceGrant first, then the kind.
function backendError(b: BackendRef, ns: string, world: StatusWorld, enforceGrants: boolean): { reason: string; message: string } | undefined {
  if (enforceGrants && !backendAllowed(world.grants, ns, b)) return { reason: 'RefNotPermitted', message: refNotPermitted(ns, b) };
  const group = b.group ?? '';
  const kind = b.kind ?? 'Service';
  const namespace = b.namespace ?? ns;
  let found: boolean;
  let host: string;
  if (group === ISTIO_GROUP && kind === 'Hostname') {
    if (b.namespace !== undefined) return { reason: 'InvalidDestination', message: 'namespace may not be set with Hostname type' };
    host = b.name;
    found = world.hosts.has(b.name.toLowerCase());
  } else if (group === ISTIO_GROUP && kind === 'ServiceEntry') {
    host = `${namespace}/${b.name}`;
    found = world.serviceEntries.has(host);
  } else if (group === '' && kind === 'Service') {
    if (b.name.includes('.')) return { reason: 'InvalidDestination', message: 'service name invalid; the name of the Service must be used, not the hostname.' };
    host = `${b.name}.${namespace}.svc.cluster.local`;
    found = world.hosts.has(host);
  } else return { reason: 'InvalidKind', message: `referencing unsupported backendRef: group "${group}" kind "${kind}"` };
  // A missing port is a hard error, reported before a backend that is not found.
  if (b.port === undefined) return { reason: 'InvalidDestination', message: 'port is required in backendRef' };
  return found ? undefined : { reason: 'BackendNotFound', message: `backend(${host}) not found` };
}

/** Conditions for one parent, sorted by type as setConditions sorts them. */
export function parentConditions(v: ParentVerdict, refs: { reason: string; message: string } | undefined): RouteCondition[] {
  const accepted: RouteCondition = v.denied
    ? { type: 'Accepted', status: 'False', ...v.denied }
    : { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Route was valid' };
  const resolved: RouteCondition = refs
    ? { type: 'ResolvedRefs', status: 'False', ...refs }
    : { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'All references resolved' };
  const waypoints: RouteCondition = { type: 'ResolvedWaypoints', status: 'True', reason: 'ResolvedWaypoints', message: v.waypointMessage ?? 'All waypoints resolved' };
  return [accepted, resolved, waypoints];
}
