// A plain-JSON view of a snapshot: for /config_dump and golden files. Deterministic key order.
import type { Destination, Snapshot } from './snapshot.ts';

function ports(m: ReadonlyMap<number, Destination>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, d] of [...m].sort((a, b) => a[0] - b[0])) out[p] = d.cluster.name;
  return out;
}

function table(t: ReadonlyMap<string, ReadonlyMap<number, Destination>>): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const k of [...t.keys()].sort()) out[k] = ports(t.get(k)!);
  return out;
}

export function snapshotToJson(s: Snapshot): Record<string, unknown> {
  return {
    version: s.version,
    waypoint: s.waypoint,
    outboundTrafficPolicy: s.outboundTrafficPolicy,
    bindings: s.bindings.map((b) => ({
      resource: `${b.resource.kind}/${b.resource.namespace}/${b.resource.name}`,
      conditions: [{ type: 'istio.io/WaypointBound', status: b.bound ? 'True' : 'False', reason: b.reason, message: b.message }],
      waypoint: b.waypoint ?? null,
      servedHere: b.servedHere,
    })),
    services: s.services,
    clusters: [...s.clusters.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
    hosts: {
      exact: table(s.hosts.exact),
      wildcard: table(s.hosts.wildcard),
      addresses: table(s.hosts.addresses),
    },
    ...(s.tcpRoutes.size === 0 ? {} : { tcpRoutes: Object.fromEntries([...s.tcpRoutes].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([cluster, r]) => [cluster, {
      source: r.source, rule: r.rule,
      clusters: r.clusters.map((c, i) => ({ cluster: c.cluster ?? null, host: c.host, port: c.port, ...(c.subset ? { subset: c.subset } : {}), weight: c.upTo - (i > 0 ? r.clusters[i - 1]!.upTo : 0) })),
    }])) }),
    routeStatus: {
      httpRoutes: s.routeStatus.httpRoutes.map((r) => ({
        resource: `HTTPRoute/${r.namespace}/${r.name}`,
        parents: r.parents.map((p) => ({ parentRef: p.parentRef, conditions: p.conditions, attachedClusters: [...p.attachedClusters].sort() })),
      })),
      virtualServices: s.routeStatus.virtualServices.map((v) => ({
        resource: `VirtualService/${v.namespace}/${v.name}`, attached: [...v.attached].sort(),
        ignored: [...v.ignored].sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0)),
        ...(v.tcp ? { tcp: [...v.tcp].sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0)) } : {}),
      })),
    },
  };
}
