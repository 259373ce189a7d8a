// ServiceEntry -> Service, Cluster and host-table entries for the ServiceEntries bound to this
// waypoint. One cluster per (host, port), named as Istio names waypoint clusters.
import type { Resource } from '../config/resource.ts';
import type { ServiceEntrySpec } from '../config/kinds/service-entry.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import { CODES } from '../model/codes.ts';
import type {
  Binding, Cluster, Destination, Endpoint, HostTable, Protocol, Resolution, Service, ServicePort,
} from '../model/snapshot.ts';
import { allocateVips } from './vip.ts';
import { CompileMemo, type ServiceMemo } from './memo.ts';
import { isHttpProtocol, parseProtocol } from '../model/protocol.ts';
import { patchServices } from './services-delta.ts';

const AUTOALLOCATE_LABEL = 'networking.istio.io/enable-autoallocate-ip';

export { isHttpProtocol };

/** Validation already refused unsupported protocols; anything left unknown is sniffed (UNSET). */
export function normalizeProtocol(p: string | undefined): Protocol {
  const parsed = parseProtocol(p);
  return parsed === 'UNSUPPORTED' ? 'UNSET' : parsed;
}

export function clusterName(port: number, kind: 'http' | 'tcp', host: string, subset?: string): string {
  return `inbound-vip|${port}|${subset ? `${kind}/${subset}` : kind}|${host}`;
}

type SE = Resource<ServiceEntrySpec>;

export interface CompiledServices {
  readonly services: Service[];
  readonly clusters: Map<string, Cluster>;
  readonly hosts: HostTable;
  readonly unserved: Map<string, Binding>;
  readonly diagnostics: Diagnostic[];
}

/** `entries` must be sorted (creation time, namespace, name); earlier entries win host conflicts. */
export function compileServices(entries: readonly SE[], bindings: ReadonlyMap<string, Binding>, memo = new CompileMemo()): CompiledServices {
  // A few entries changed in place (same name, hosts and ports): patch the last tables (services-delta.ts).
  const patched = memo.servicesLast && patchServices(memo.servicesLast, entries, bindings,
    (se) => ({ entry: memo.services.get(se), binding: memo.bindings.get(se) }), (se, vips) => compiledEntry(se, vips, memo));
  if (patched) {
    if (patched !== memo.servicesLast!.out) memo.counts.servicesPatched++;
    memo.hosts = patched.hosts;
    memo.servicesLast = { entries, out: patched };
    return patched;
  }
  const vips = allocateVips(vipRequests(entries), memo.vipHashes);
  const out: CompiledServices = {
    services: [], clusters: new Map(), unserved: new Map(), diagnostics: [],
    hosts: { exact: new Map(), wildcard: new Map(), addresses: new Map() },
  };
  for (const se of entries) {
    const key = `${se.metadata.namespace}/${se.metadata.name}`;
    const binding = bindings.get(key)!;
    if (!binding.servedHere) {
      for (const h of se.spec.hosts ?? []) if (!out.unserved.has(h.toLowerCase())) out.unserved.set(h.toLowerCase(), binding);
      continue;
    }
    const compiled = compiledEntry(se, vips, memo);
    out.services.push(compiled.service);
    addToTables(se, compiled, out);
  }
  if (memo.hosts) keepSamePorts(out.hosts, memo.hosts);
  memo.hosts = out.hosts;
  memo.servicesLast = { entries, out };
  return out;
}

/**
 * A host whose ports map to the same destinations as last time keeps last time's map: a snapshot
 * change then shows as the few hosts that changed (workers/snapshot-delta.ts sends only those).
 */
function keepSamePorts(next: HostTable, prev: HostTable): void {
  for (const t of ['exact', 'wildcard', 'addresses'] as const) {
    const table = next[t] as Map<string, ReadonlyMap<number, Destination>>;
    for (const [key, ports] of table) {
      const before = prev[t].get(key);
      if (before && before !== ports && samePorts(before, ports)) table.set(key, before);
    }
  }
}

function samePorts(a: ReadonlyMap<number, Destination>, b: ReadonlyMap<number, Destination>): boolean {
  if (a.size !== b.size) return false;
  const ai = a.entries();
  for (const [port, dest] of b) {
    const [p, d] = ai.next().value!;
    if (p !== port || d !== dest) return false;
  }
  return true;
}

// A Service and its clusters depend on the entry and its VIPs only (memo.ts).
export function compiledEntry(se: SE, vips: ReadonlyMap<string, string>, memo: CompileMemo): ServiceMemo {
  const mine = wantsAutoVip(se) ? (se.spec.hosts ?? []).map((h) => vips.get(`${se.metadata.namespace}/${se.metadata.name}/${h.toLowerCase()}`)).join(',') : '';
  const before = memo.services.get(se);
  if (before && before.vips === mine) return before;
  const service = compileService(se, vips);
  const clusters: Cluster[] = [];
  const destinations: Destination[] = [];
  for (const host of service.hosts) {
    for (const port of service.ports) {
      const cluster = compileCluster(se, service, host, port);
      clusters.push(cluster);
      destinations.push({ service, host, port, cluster });
    }
  }
  const entry = { vips: mine, service, clusters, destinations };
  memo.services.set(se, entry);
  return entry;
}

function vipRequests(entries: readonly SE[]): { key: string }[] {
  const reqs: { key: string }[] = [];
  for (const se of entries) {
    if (!wantsAutoVip(se)) continue;
    for (const h of se.spec.hosts ?? []) reqs.push({ key: `${se.metadata.namespace}/${se.metadata.name}/${h.toLowerCase()}` });
  }
  return reqs;
}

// istiod skips auto-allocation for resolution NONE, user addresses, and the opt-out label.
export function wantsAutoVip(se: SE): boolean {
  return (se.spec.addresses ?? []).length === 0
    && resolutionOf(se) !== 'NONE'
    && se.metadata.labels[AUTOALLOCATE_LABEL] !== 'false'
    && !(se.spec.hosts ?? []).some((h) => h.startsWith('*'));
}

function resolutionOf(se: SE): Resolution {
  return (se.spec.resolution ?? 'NONE') as Resolution;
}

function compileService(se: SE, vips: ReadonlyMap<string, string>): Service {
  const { namespace, name } = se.metadata;
  const hosts = (se.spec.hosts ?? []).map((h) => h.toLowerCase());
  const auto = wantsAutoVip(se);
  const addresses = auto
    ? hosts.map((h) => vips.get(`${namespace}/${name}/${h}`)!).filter(Boolean)
    : [...(se.spec.addresses ?? [])];
  const ports: ServicePort[] = (se.spec.ports ?? []).map((p) => ({
    number: p.number,
    name: p.name ?? '',
    protocol: normalizeProtocol(p.protocol),
    targetPort: p.targetPort || p.number,
  }));
  return {
    key: `${namespace}/${name}`, namespace, name, hosts, addresses, autoAllocated: auto,
    location: se.spec.location === 'MESH_INTERNAL' ? 'MESH_INTERNAL' : 'MESH_EXTERNAL',
    resolution: resolutionOf(se), ports, exportTo: se.spec.exportTo ?? ['*'],
  };
}

function compileCluster(se: SE, service: Service, host: string, port: ServicePort): Cluster {
  const kind = isHttpProtocol(port.protocol) ? 'http' : 'tcp';
  return {
    name: clusterName(port.number, kind, host), service: service.key, host, port: port.number,
    targetPort: port.targetPort, protocol: port.protocol, kind, resolution: service.resolution,
    endpoints: endpointsFor(se, service, host, port),
  };
}

function endpointsFor(se: SE, service: Service, host: string, port: ServicePort): Endpoint[] {
  const r = service.resolution;
  if (r === 'NONE' || r === 'DYNAMIC_DNS') return [];
  const declared = se.spec.endpoints ?? [];
  if (declared.length === 0) {
    // DNS without endpoints resolves the host itself; STATIC without endpoints has nothing (UH).
    return r === 'STATIC' || host.startsWith('*') ? [] : [{ address: host, port: port.targetPort, labels: {}, weight: 1 }];
  }
  return declared.filter((e) => e.address).map((e) => ({
    address: e.address!,
    port: (port.name && e.ports?.[port.name]) || port.targetPort,
    labels: { ...(e.labels ?? {}) },
    weight: e.weight ?? 1,
  }));
}

function addToTables(se: SE, { service, clusters, destinations }: ServiceMemo, out: CompiledServices): void {
  let next = 0;
  for (const [i, host] of service.hosts.entries()) {
    for (const port of service.ports) {
      const cluster = clusters[next]!;
      const dest = destinations[next++]!;
      const wildcard = host.startsWith('*.');
      const table = wildcard ? out.hosts.wildcard : out.hosts.exact;
      const claimed = claim(table as Map<string, Map<number, Destination>>, wildcard ? host.slice(1) : host, dest);
      // Ignored for this host and port, an entry neither replaces the serving entry's cluster (it
      // is named by host and port; routes resolve clusters by name) nor serves its own addresses on
      // the port: a VIP of its own would reach its endpoints on the default route while
      // VirtualService routes for the host reach the serving entry's. Istio drops the newer of two
      // entries for a host altogether (istio/istio#57782): the VIP is then not in the registry.
      if (claimed) {
        out.diagnostics.push(conflict(se, host, port.number, claimed));
        continue;
      }
      out.clusters.set(cluster.name, cluster);
      for (const a of tableAddresses(service, i)) claim(out.hosts.addresses as Map<string, Map<number, Destination>>, a, dest);
    }
  }
}

/**
 * The addresses host `i` of a service claims in the address table: its own VIP when auto-allocated;
 * user addresses map to the first host; CIDRs are matched elsewhere.
 */
export function tableAddresses(service: Service, i: number): string[] {
  const addrs = service.autoAllocated ? [service.addresses[i]] : i === 0 ? service.addresses : [];
  return addrs.filter((a): a is string => !!a && !a.includes('/'));
}

/** Adds dest unless the slot is taken; returns the holder when it is. */
function claim(table: Map<string, Map<number, Destination>>, key: string, dest: Destination): Destination | undefined {
  let ports = table.get(key);
  if (!ports) table.set(key, (ports = new Map()));
  const holder = ports.get(dest.port.number);
  if (holder) return holder;
  ports.set(dest.port.number, dest);
  return undefined;
}

function conflict(se: SE, host: string, port: number, holder: Destination): Diagnostic {
  const idx = (se.spec.hosts ?? []).findIndex((h) => h.toLowerCase() === host);
  const loc = se.locate(['spec', 'hosts', Math.max(idx, 0)]);
  return {
    code: CODES.DuplicateHostPort.code, level: 'warning',
    message: `host ${host} port ${port} is already served by ServiceEntry ${holder.service.key}; this entry is ignored for it (its addresses too, on that port)`,
    hint: 'remove the duplicate host or port from one of the ServiceEntries',
    resource: { kind: 'ServiceEntry', namespace: se.metadata.namespace, name: se.metadata.name },
    file: loc.file, line: loc.line, column: loc.column, path: `spec.hosts[${Math.max(idx, 0)}]`,
  };
}
