// The istio.io/WaypointBound condition on ServiceEntries bound to one of our waypoints, with
// istiod's exact reasons and messages (pilot/pkg/model/service.go GetConditions;
// serviceregistry/kube/controller/ambient/status.go Report*). Written only when no istiod runs:
// istiod writes it otherwise, for every ServiceEntry, and we never fight it. PURE.
import type { Binding } from '../../model/snapshot.ts';
import type { Condition, Wanted } from './conditions.ts';

export const WAYPOINT_BOUND = 'istio.io/WaypointBound';
const INGRESS_LABEL = 'istio.io/ingress-use-waypoint';

/** Go's strconv.ParseBool, as istiod parses istio.io/ingress-use-waypoint (invalid: false). */
function parseBool(v: string): boolean {
  return ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v);
}

/**
 * The condition istiod would write for this binding, or undefined (no waypoint named, opted out:
 * istiod prunes the condition). `labels`: the ServiceEntry's, then its namespace's.
 */
export function waypointBoundCondition(b: Binding, seLabels: Readonly<Record<string, string>>, nsLabels: Readonly<Record<string, string>>, generation: number): Wanted | undefined {
  const wp = b.waypoint ?? '';
  const cond = (status: 'True' | 'False', reason: string, message: string): Wanted => ({ type: WAYPOINT_BOUND, status, reason, message, observedGeneration: generation });
  switch (b.reason) {
    case 'WaypointAccepted': {
      const label = seLabels[INGRESS_LABEL] ?? nsLabels[INGRESS_LABEL];
      let message = `Successfully attached to waypoint ${wp}`;
      if (label !== undefined && parseBool(label)) message += '. Ingress traffic will traverse the waypoint';
      else if (label !== undefined) message += `. Ingress traffic is not using the waypoint, set the ${INGRESS_LABEL} label to true if desired.`;
      return cond('True', 'WaypointAccepted', message);
    }
    case 'WaypointIsNotReady': return cond('False', 'WaypointIsNotReady', `waypoint "${wp}" is not ready`);
    case 'AttachmentDenied': return cond('False', 'AttachmentDenied', `we are not permitted to attach to waypoint "${wp}" (missing allowedRoutes?)`);
    case 'UnsupportedTrafficType': return cond('False', 'UnsupportedTrafficType', `attempting to bind to traffic type "service" which the waypoint "${wp}" does not support`);
    case 'CrossNamespaceWaypointForbidden':
      return cond('False', 'CrossNamespaceWaypointForbidden', `cannot bind to waypoint "${wp}" in another namespace: cross-namespace waypoint binding is not permitted for a ServiceEntry with NAMESPACE visibility`);
    default: return undefined;
  }
}

/**
 * The whole status.conditions list to write (it is an atomic list in Istio's CRDs: others'
 * conditions are carried along), or undefined when nothing changes. `wanted` undefined removes
 * our condition, but only when `ownedByUs` (our field manager wrote this status before).
 */
export function nextConditions(existing: readonly Condition[] | undefined, wanted: Wanted | undefined, ownedByUs: boolean, now: string): Condition[] | undefined {
  const list = existing ?? [];
  const old = list.find((c) => c.type === WAYPOINT_BOUND);
  const others = list.filter((c) => c.type !== WAYPOINT_BOUND);
  if (!wanted) return old && ownedByUs ? others : undefined;
  if (old && old.status === wanted.status && old.reason === wanted.reason && old.message === wanted.message && old.observedGeneration === wanted.observedGeneration) return undefined;
  const lastTransitionTime = old && old.status === wanted.status && old.lastTransitionTime ? old.lastTransitionTime : now;
  return [...others, { ...wanted, lastTransitionTime }];
}
