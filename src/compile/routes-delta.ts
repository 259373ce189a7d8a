// The route tables after a few hosts or VirtualServices changed, from the last ones (issue 16).
// Affected: the clusters of a host whose port map is another object (services-delta.ts keeps the
// others), of a host a changed VirtualService names, and of every table whose rules read such a
// host (RouteMemo.reads). Only those are rebuilt (or recalled, when their inputs turn out equal);
// the routes map is a copy with their entries replaced, and the status of the VirtualServices they
// involve is gathered again in table order. It applies when there are no HTTPRoutes, no route
// diagnostics before or after, the host tables have the same keys in the same order, no changed
// VirtualService has a wildcard host and no table appears or disappears (the map's order is then a
// full pass's); otherwise routes.ts runs the full pass. test/compile/incremental.test.ts compares.
import type { Resource } from '../config/resource.ts';
import type { VirtualServiceSpec } from '../config/kinds/virtual-service.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { RouteStatus, RouteTable, VirtualServiceStatus } from '../model/route.ts';
import type { Destination, HostTable } from '../model/snapshot.ts';
import type { RouteMemo } from './memo.ts';
import { listChanges } from './sorted-input.ts';
import { vsHosts } from './vs-scope.ts';

type VS = Resource<VirtualServiceSpec>;

export interface RoutesMemo {
  readonly vss: readonly VS[];
  readonly hosts: HostTable;
  readonly clusterCount: number;
  readonly routes: ReadonlyMap<string, RouteTable>;
  readonly routeStatus: RouteStatus;
  readonly diagnostics: number;
}

export interface RoutesPatch {
  readonly routes: Map<string, RouteTable>;
  readonly routeStatus: RouteStatus;
  readonly diagnostics: Diagnostic[];
  /** The route memo entries after the patch (CompileMemo.routes). */
  readonly entries: Map<string, RouteMemo>;
}

const MAX_CHANGED = 16;

export interface PatchDeps {
  /** Builds (or recalls) one destination's table with its memo entry; diagnostics and status are in the entry. */
  readonly recompute: (d: Destination, before: RouteMemo | undefined) => RouteMemo;
  /** A VirtualService's status object (the last one when equal). */
  readonly status: (vs: VS, st: { attached: string[]; ignored: { cluster: string; reason: string }[] }) => VirtualServiceStatus;
  /** The status object of an unchanged VirtualService, from the last pass. */
  readonly lastStatus: (vs: VS) => VirtualServiceStatus | undefined;
}

export function patchRoutes(
  last: RoutesMemo, vss: readonly VS[], hosts: HostTable, clusterCount: number, entries: ReadonlyMap<string, RouteMemo>, deps: PatchDeps,
): RoutesPatch | undefined {
  if (clusterCount !== last.clusterCount || last.routeStatus.httpRoutes.length > 0 || last.diagnostics > 0) return undefined;
  const changedPorts = [...changedHosts(last.hosts.exact, hosts.exact) ?? [undefined], ...changedHosts(last.hosts.wildcard, hosts.wildcard) ?? [undefined]];
  if (changedPorts.includes(undefined) || changedPorts.length > MAX_CHANGED) return undefined;
  const vsChange = listChanges(last.vss, vss);
  const changedVss = [...vsChange.removed, ...vsChange.added];
  if (changedVss.length > MAX_CHANGED || changedVss.some((v) => vsHosts(v).some((h) => h.startsWith('*')))) return undefined;
  // The destinations to rebuild, by cluster name.
  const affected = new Map<string, Destination>();
  let lost = false;
  const add = (d: Destination | undefined) => {
    if (!d) lost = true;
    else if (d.cluster.kind === 'http') affected.set(d.cluster.name, d);
  };
  const readHosts = new Set<string>();
  for (const ports of changedPorts) for (const d of ports!.values()) {
    add(d);
    readHosts.add(d.host);
  }
  for (const v of changedVss) {
    for (const h of vsHosts(v)) {
      for (const d of hosts.exact.get(h)?.values() ?? []) add(d);
      // An exact VirtualService host also matches a wildcard ServiceEntry over it (host.Name.Matches).
      for (const [suffix, ports] of hosts.wildcard) if (h.endsWith(suffix)) for (const d of ports.values()) add(d);
    }
  }
  for (const e of entries.values()) {
    for (const h of e.reads.keys()) if (readHosts.has(h)) add(destinationOf(hosts, e));
  }
  if (lost) return undefined;
  const next = new Map(entries);
  const routes = new Map(last.routes);
  const touched = new Set<Resource>(changedVss);
  for (const [name, d] of affected) {
    const before = entries.get(name);
    const entry = deps.recompute(d, before);
    if (entry.diagnostics.length > 0 || before?.diagnostics.length || !before || last.routes.has(name) !== (entry.table !== undefined)) return undefined;
    next.set(name, entry);
    if (entry.table) routes.set(name, entry.table);
    for (const s of [...before.status, ...entry.status]) touched.add(s.vs);
  }
  const gathered = new Map<Resource, { attached: string[]; ignored: { cluster: string; reason: string }[] }>();
  for (const e of next.values()) {
    for (const s of e.status) {
      if (!touched.has(s.vs)) continue;
      let st = gathered.get(s.vs);
      if (!st) gathered.set(s.vs, (st = { attached: [], ignored: [] }));
      if (s.ignored) st.ignored.push(s.ignored);
      else st.attached.push(s.attached!);
    }
  }
  const virtualServices: VirtualServiceStatus[] = [];
  for (const v of vss) {
    const st = touched.has(v) ? deps.status(v, gathered.get(v) ?? { attached: [], ignored: [] }) : deps.lastStatus(v);
    if (!st) return undefined;
    virtualServices.push(st);
  }
  return { routes, routeStatus: { httpRoutes: [], virtualServices }, diagnostics: [], entries: next };
}

/**
 * The port maps of `b` that are other objects than `a`'s; undefined when the keys or their order
 * differ, or a changed map has other ports or cluster names (a table would appear or go).
 */
function changedHosts(a: HostTable['exact'], b: HostTable['exact']): ReadonlyMap<number, Destination>[] | undefined {
  if (a.size !== b.size) return undefined;
  const out: ReadonlyMap<number, Destination>[] = [];
  const keys = a.keys();
  for (const [k, ports] of b) {
    if (keys.next().value !== k) return undefined;
    const before = a.get(k)!;
    if (before === ports) continue;
    if (before.size !== ports.size) return undefined;
    const was = before.values();
    for (const d of ports.values()) if (was.next().value!.cluster.name !== d.cluster.name) return undefined;
    out.push(ports);
  }
  return out;
}

function destinationOf(hosts: HostTable, e: RouteMemo): Destination | undefined {
  const ports = e.host.startsWith('*.') ? hosts.wildcard.get(e.host.slice(1)) : hosts.exact.get(e.host);
  const d = ports?.get(e.cluster.port);
  return d?.cluster.name === e.cluster.name ? d : undefined;
}
