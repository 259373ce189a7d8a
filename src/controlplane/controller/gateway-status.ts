// GatewayClass and Gateway status as istiod writes them (pilot/pkg/config/kube/gateway:
// gatewayclass.go GetClassStatus; conversion.go reportGatewayStatus, setProgrammedCondition,
// buildListener; context.go ResolveGatewayInstances). PURE.
// - Programmed turns True once the Service exists with the listener's port, without waiting for a
//   ready pod (istiod: "considers *all* instances of the service"); the message names
//   <svc>.<ns>.svc.cluster.local:<port>.
// - status.addresses: the ClusterIP(s) then the Service hostname, both, as istiod reports for its
//   waypoint class ("consumers of the gateways can choose"); never removed once reported.
import type { Condition, Wanted } from './conditions.ts';

export interface ServiceView {
  readonly clusterIPs: readonly string[];
  readonly ports: readonly number[];
}

export interface GatewayView {
  readonly name: string;
  readonly namespace: string;
  readonly generation: number;
  readonly listeners: readonly { readonly name: string; readonly port: number; readonly protocol: string }[];
  readonly status?: { readonly addresses?: readonly { type?: string; value: string }[] };
}

export interface GatewayStatusResult {
  readonly conditions: readonly Wanted[];
  readonly addresses?: readonly { type: string; value: string }[];
  readonly listeners: readonly { name: string; supportedKinds: unknown[]; attachedRoutes: number; conditions: readonly Wanted[] }[];
}

export const DOMAIN_SUFFIX = 'cluster.local';

export function classConditions(generation: number, error: { reason: string; message: string } | undefined, bundleVersion: string | undefined): Wanted[] {
  const out: Wanted[] = [error
    ? { type: 'Accepted', status: 'False', reason: error.reason, message: error.message, observedGeneration: generation }
    : { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Handled by Egressway controller', observedGeneration: generation }];
  if (bundleVersion !== undefined) {
    const ok = /^v1\./.test(bundleVersion);
    out.push(ok
      ? { type: 'SupportedVersion', status: 'True', reason: 'SupportedVersion', message: `Gateway API CRD bundle version ${bundleVersion} is supported`, observedGeneration: generation }
      : { type: 'SupportedVersion', status: 'False', reason: 'UnsupportedVersion', message: `Gateway API CRD bundle version ${bundleVersion} is not supported (v1.x is)`, observedGeneration: generation });
  }
  return out;
}

/** Why a Gateway of our class cannot be a waypoint, before any parameter is looked at. */
export function gatewayShapeError(g: GatewayView): { reason: string; message: string } | undefined {
  if (!g.listeners.some((l) => l.protocol === 'HBONE')) {
    return { reason: 'ListenersNotValid', message: 'no HBONE listener: an Egressway waypoint needs one, e.g. {name: mesh, port: 15008, protocol: HBONE}' };
  }
  return undefined;
}

export function gatewayStatus(
  g: GatewayView, svc: ServiceView | undefined, error: { reason: string; message: string } | undefined,
  attached: ReadonlyMap<string, number>,
): GatewayStatusResult {
  const gen = g.generation;
  const host = `${g.name}.${g.namespace}.svc.${DOMAIN_SUFFIX}`;
  const hbone = g.listeners.filter((l) => l.protocol === 'HBONE');
  const internal = svc ? [...new Set(hbone.map((l) => l.port))].filter((p) => svc.ports.includes(p)).sort((a, b) => a - b).map((p) => `${host}:${p}`) : [];
  const accepted: Wanted = error
    ? { type: 'Accepted', status: 'False', reason: error.reason, message: error.message, observedGeneration: gen }
    : { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Resource accepted', observedGeneration: gen };
  let programmed: Wanted;
  if (error) programmed = { type: 'Programmed', status: 'False', reason: 'Invalid', message: `Not programmed: ${error.message}`, observedGeneration: gen };
  else if (!svc) programmed = { type: 'Programmed', status: 'False', reason: 'AddressNotAssigned', message: `Failed to assign to any requested addresses: hostname "${host}" not found`, observedGeneration: gen };
  else if (internal.length === 0) programmed = { type: 'Programmed', status: 'False', reason: 'AddressNotUsable', message: `Failed to assign to any requested addresses: port ${hbone[0]?.port} not found for hostname "${host}"`, observedGeneration: gen };
  else programmed = { type: 'Programmed', status: 'True', reason: 'Programmed', message: `Resource programmed, assigned to service(s) ${humanReadableJoin(internal)}`, observedGeneration: gen };
  const found = svc && internal.length ? [...svc.clusterIPs.filter((ip) => ip && ip !== 'None').map((value) => ({ type: 'IPAddress', value })), { type: 'Hostname', value: host }] : [];
  // "Do not report an address until we are ready. But once we are ready, never remove the address."
  const kept = (g.status?.addresses ?? []).map((a) => ({ type: a.type ?? 'IPAddress', value: a.value }));
  const addresses = found.length ? found : kept.length ? kept : undefined;
  return { conditions: [accepted, programmed], ...(addresses ? { addresses } : {}), listeners: g.listeners.map((l) => listenerStatus(l, gen, attached.get(l.name) ?? 0)) };
}

function listenerStatus(l: GatewayView['listeners'][number], gen: number, attachedRoutes: number): GatewayStatusResult['listeners'][number] {
  const ok = (type: string, reason: string, status: Condition['status'] = 'True'): Wanted => ({ type, status, reason, message: 'No errors found', observedGeneration: gen });
  if (l.protocol !== 'HBONE') {
    const message = `protocol "${l.protocol}" is not supported: Egressway waypoints serve HBONE listeners (port 15008)`;
    return {
      name: l.name, supportedKinds: [], attachedRoutes: 0,
      conditions: [
        { type: 'Accepted', status: 'False', reason: 'UnsupportedProtocol', message, observedGeneration: gen },
        ok('Conflicted', 'NoConflicts', 'False'),
        { type: 'Programmed', status: 'False', reason: 'Invalid', message, observedGeneration: gen },
        ok('ResolvedRefs', 'ResolvedRefs'),
      ],
    };
  }
  // istiod's generateSupportedKinds has no route kind for HBONE: an empty list.
  return { name: l.name, supportedKinds: [], attachedRoutes, conditions: [ok('Accepted', 'Accepted'), ok('Conflicted', 'NoConflicts', 'False'), ok('Programmed', 'Programmed'), ok('ResolvedRefs', 'ResolvedRefs')] };
}

/** istiod's humanReadableJoin: "a", "a and b", "a, b, and c". */
export function humanReadableJoin(ss: readonly string[]): string {
  if (ss.length <= 1) return ss.join('');
  if (ss.length === 2) return `${ss[0]} and ${ss[1]}`;
  return `${ss.slice(0, -1).join(', ')}, and ${ss[ss.length - 1]}`;
}
