// Which waypoint a ServiceEntry is bound to. This transcribes istiod's resolution
// (pilot/pkg/serviceregistry/ambient/waypoints.go, reference §1.2) step by step; each step names
// the rule it implements. It is pure: inputs are the labels and gateways of one config set.
import type { Binding } from '../model/snapshot.ts';
import type { ResourceRef } from '../model/diagnostic.ts';
import { matchSelector, type LabelSelector } from './label-selector.ts';

export const USE_WAYPOINT = 'istio.io/use-waypoint';
export const USE_WAYPOINT_NAMESPACE = 'istio.io/use-waypoint-namespace';
export const WAYPOINT_FOR = 'istio.io/waypoint-for';
const MANAGED = 'gateway.istio.io/managed';
const MANAGED_WAYPOINT_VALUES = new Set(['istio.io-mesh-controller', 'istio.io-eastwest-controller']);

export type TrafficType = 'service' | 'workload' | 'all' | 'none';
export type Visibility = 'PUBLIC' | 'NAMESPACE' | 'NONE';

export interface WaypointGateway {
  readonly namespace: string;
  readonly name: string;
  readonly trafficType: TrafficType;
  /** istiod requires `status.addresses`; the waypoint this process serves is ready by being up. */
  readonly ready: boolean;
  readonly allowedFrom: 'Same' | 'All' | 'Selector';
  readonly allowedSelector?: LabelSelector;
}

export interface BindingContext {
  /** `namespace/name` of the waypoint this process serves. */
  readonly self: string;
  readonly waypoints: ReadonlyMap<string, WaypointGateway>;
  namespaceLabels(namespace: string): Readonly<Record<string, string>>;
  visibility(namespace: string): Visibility;
}

export interface Bindable extends ResourceRef {
  readonly labels: Readonly<Record<string, string>>;
}

type Named = { name: string; namespace: string } | 'none' | undefined;

// use-waypoint and use-waypoint-namespace are read from the same object.
function parseLabels(labels: Readonly<Record<string, string>>, defaultNs: string): Named {
  const name = labels[USE_WAYPOINT];
  if (name === undefined || name === '') return undefined;
  if (name === 'none') return 'none';
  return { name, namespace: labels[USE_WAYPOINT_NAMESPACE] || defaultNs };
}

export function resolveWaypoint(obj: Bindable, kind: 'service' | 'workload', ctx: BindingContext): Binding {
  const resource: ResourceRef = { kind: obj.kind, namespace: obj.namespace, name: obj.name };
  const result = (bound: boolean, reason: Binding['reason'], message: string, waypoint?: string): Binding =>
    ({ resource, bound, reason, message, waypoint, servedHere: bound && waypoint === ctx.self });

  // Waypoints never get waypoints.
  if (MANAGED_WAYPOINT_VALUES.has(obj.labels[MANAGED] ?? '')) {
    return result(false, 'ManagedWaypoint', 'waypoint and gateway proxies are never bound to a waypoint');
  }
  // The object's own label wins; "none" on the object disables an inherited namespace label.
  const nsLabels = ctx.namespaceLabels(obj.namespace);
  let named = parseLabels(obj.labels, obj.namespace);
  const fromObject = named !== undefined;
  if (named === undefined) named = parseLabels(nsLabels, obj.namespace);
  if (named === 'none') {
    return result(false, 'OptedOut', `${USE_WAYPOINT}: none on the ${fromObject ? kindLower(obj.kind) : 'namespace'} opts out of waypoints`);
  }
  if (named === undefined) {
    return result(false, 'NoWaypoint', `no ${USE_WAYPOINT} label on the ${kindLower(obj.kind)} or its namespace ${obj.namespace}`);
  }
  const key = `${named.namespace}/${named.name}`;
  // A missing or not-ready waypoint does not fall back to the namespace's waypoint.
  const wp = ctx.waypoints.get(key);
  if (!wp || !wp.ready) {
    const why = wp ? 'has no status.addresses yet' : 'does not exist (no Gateway with gatewayClassName istio-waypoint by that name)';
    return result(false, 'WaypointIsNotReady', `waypoint ${key} ${why}`, key);
  }
  // allowedRoutes on the HBONE listener governs attachment (not reachability).
  if (!allowsNamespace(wp, obj.namespace, nsLabels)) {
    return result(false, 'AttachmentDenied', `waypoint ${key} does not allow attachment from namespace ${obj.namespace} (allowedRoutes.namespaces.from: ${wp.allowedFrom})`, key);
  }
  if (kind === 'service' && wp.trafficType !== 'service' && wp.trafficType !== 'all') {
    return result(false, 'UnsupportedTrafficType', `waypoint ${key} is for ${wp.trafficType} traffic, not service traffic (label ${WAYPOINT_FOR})`, key);
  }
  if (kind === 'workload' && wp.trafficType !== 'workload' && wp.trafficType !== 'all') {
    return result(false, 'UnsupportedTrafficType', `waypoint ${key} is for ${wp.trafficType} traffic, not workload traffic (label ${WAYPOINT_FOR})`, key);
  }
  // A ServiceEntry visible only in its namespace cannot use a waypoint elsewhere.
  if (obj.kind === 'ServiceEntry' && ctx.visibility(obj.namespace) === 'NAMESPACE' && named.namespace !== obj.namespace) {
    return result(false, 'CrossNamespaceWaypointForbidden', `ServiceEntry visibility is NAMESPACE, so it cannot use waypoint ${key} in another namespace`, key);
  }
  return result(true, 'WaypointAccepted', `Successfully attached to waypoint ${key}`, key);
}

function allowsNamespace(wp: WaypointGateway, ns: string, nsLabels: Readonly<Record<string, string>>): boolean {
  if (wp.allowedFrom === 'All') return true;
  if (wp.allowedFrom === 'Selector') return matchSelector(wp.allowedSelector, nsLabels);
  return ns === wp.namespace;
}

function kindLower(kind: string): string {
  return kind === 'ServiceEntry' ? 'ServiceEntry' : kind.toLowerCase();
}
