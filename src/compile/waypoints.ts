// Waypoint Gateways in the config, and which one this process serves.
import type { Resource } from '../config/resource.ts';
import type { GatewaySpec } from '../config/kinds/gateway.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import { CODES } from '../model/codes.ts';
import { WAYPOINT_FOR, type TrafficType, type WaypointGateway } from './binding.ts';

export const WAYPOINT_CLASS = 'istio-waypoint';
const TRAFFIC_TYPES: ReadonlySet<string> = new Set(['service', 'workload', 'all', 'none']);

/**
 * A waypoint: a Gateway of class istio-waypoint, or of any class with an HBONE listener (istiod has
 * no requirement on the class, istio/istio#48362; `egressway controller` provisions Gateways of its
 * own class, and their pods run `run --kubernetes --waypoint <ns>/<name>`).
 */
export function isWaypoint(r: Resource): r is Resource<GatewaySpec> {
  if (r.kind !== 'Gateway' || r.group !== 'gateway.networking.k8s.io') return false;
  const spec = r.spec as GatewaySpec | undefined;
  return spec?.gatewayClassName === WAYPOINT_CLASS || (spec?.listeners ?? []).some((l) => l.protocol === 'HBONE');
}

export function compileWaypoints(
  gateways: readonly Resource<GatewaySpec>[],
  /** Labels of a GatewayClass by name (its istio.io/waypoint-for is the default for its Gateways). */
  classLabels: (className: string) => Readonly<Record<string, string>>,
  self: string | undefined,
): Map<string, WaypointGateway> {
  const out = new Map<string, WaypointGateway>();
  for (const g of gateways) {
    const key = `${g.metadata.namespace}/${g.metadata.name}`;
    // Only the HBONE listener's allowedRoutes govern attachment to a waypoint.
    const hbone = (g.spec.listeners ?? []).find((l) => l.protocol === 'HBONE');
    const ns = hbone?.allowedRoutes?.namespaces;
    const from = ns?.from === 'All' || ns?.from === 'Selector' ? ns.from : 'Same';
    const label = g.metadata.labels[WAYPOINT_FOR] ?? classLabels(g.spec.gatewayClassName)[WAYPOINT_FOR] ?? 'service';
    const status = g.status as { addresses?: unknown[] } | undefined;
    out.set(key, {
      namespace: g.metadata.namespace, name: g.metadata.name,
      trafficType: (TRAFFIC_TYPES.has(label) ? label : 'service') as TrafficType,
      ready: key === self || (status?.addresses?.length ?? 0) > 0,
      allowedFrom: from, allowedSelector: from === 'Selector' ? ns?.selector : undefined,
    });
  }
  return out;
}

/** `--waypoint ns/name`, else the only istio-waypoint Gateway. */
export function selectWaypoint(
  gateways: readonly Resource<GatewaySpec>[], requested: string | undefined,
): { key?: string; diagnostic?: Diagnostic } {
  const keys = gateways.map((g) => `${g.metadata.namespace}/${g.metadata.name}`);
  const fail = (message: string, hint: string) => ({
    diagnostic: { code: CODES.WaypointSelection.code, level: 'error' as const, message, hint },
  });
  if (requested) {
    if (keys.includes(requested)) return { key: requested };
    return fail(
      `waypoint ${requested} is not in the config (waypoint Gateways found: ${keys.join(', ') || 'none'}; a waypoint is a Gateway of class istio-waypoint or with an HBONE listener)`,
      `add a Gateway ${requested} with gatewayClassName: ${WAYPOINT_CLASS}, or pass --waypoint with one of the names above`,
    );
  }
  if (keys.length === 1) return { key: keys[0] };
  if (keys.length === 0) {
    return fail(
      `no Gateway with gatewayClassName: ${WAYPOINT_CLASS} in the config, so this process has no waypoint to be`,
      `add a Gateway with gatewayClassName: ${WAYPOINT_CLASS} and a listener {name: mesh, port: 15008, protocol: HBONE} (see examples/quickstart/waypoint.yaml)`,
    );
  }
  return fail(
    `${keys.length} istio-waypoint Gateways in the config (${keys.join(', ')}) and no --waypoint to choose one`,
    `pass --waypoint <namespace/name>, e.g. --waypoint ${keys[0]}`,
  );
}
