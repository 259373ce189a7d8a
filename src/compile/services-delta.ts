// The services, clusters and host tables after a few ServiceEntries changed in place, from the last
// ones (issue 16). "In place": the same namespace/name at the same sorted position, served here
// before and after, with the same hosts, ports, cluster names and addresses, so every table key it
// claims is the one it claimed. Then no other entry's claim or VIP can move, and the tables are
// copies with that entry's values replaced (Map.set on a key keeps its place: the order is a full
// pass's). Anything else, or a last pass with a host conflict (first-wins order), takes the full
// pass in services.ts; test/compile/incremental.test.ts compares both.
import type { Resource } from '../config/resource.ts';
import type { ServiceEntrySpec } from '../config/kinds/service-entry.ts';
import type { Binding, Destination, HostTable } from '../model/snapshot.ts';
import { sameItems, type ServiceMemo } from './memo.ts';
import type { CompiledServices } from './services.ts';
import { tableAddresses, wantsAutoVip } from './services.ts';
import { listChanges } from './sorted-input.ts';

type SE = Resource<ServiceEntrySpec>;

export interface ServicesMemo {
  readonly entries: readonly SE[];
  readonly out: CompiledServices;
}

const MAX_CHANGED = 16;

/**
 * `lastOf` recalls an entry's last Service, clusters and destinations and `bindingOf` its binding;
 * `entryOf` compiles (or recalls) an entry's with the given VIPs.
 */
export function patchServices(
  last: ServicesMemo, entries: readonly SE[], bindings: ReadonlyMap<string, Binding>,
  lastOf: (se: SE) => { entry?: ServiceMemo; binding?: Binding }, entryOf: (se: SE, vips: ReadonlyMap<string, string>) => ServiceMemo,
): CompiledServices | undefined {
  if (last.out.diagnostics.length > 0 || entries.length !== last.entries.length) return undefined;
  const { removed, added } = listChanges(last.entries, entries);
  if (removed.length !== added.length || removed.length > MAX_CHANGED) return undefined;
  if (removed.length === 0) return last.out;
  const pairs: [ServiceMemo, ServiceMemo][] = [];
  for (let i = 0; i < added.length; i++) {
    const [was, now] = [removed[i]!, added[i]!];
    if (keyOf(was) !== keyOf(now) || entries.indexOf(now) !== last.entries.indexOf(was)) return undefined;
    const { entry: before, binding } = lastOf(was);
    if (!before || !binding?.servedHere || !bindings.get(keyOf(now))?.servedHere || wantsAutoVip(was) !== wantsAutoVip(now)) return undefined;
    // Its VIPs are the ones it had: the same hosts of the same entry request the same VIPs.
    const vips = new Map(before.service.autoAllocated ? before.service.hosts.map((h, j) => [`${keyOf(was)}/${h}`, before.service.addresses[j]!]) : []);
    const after = entryOf(now, vips);
    if (!sameKeys(before, after)) return undefined;
    pairs.push([before, after]);
  }
  const services = [...last.out.services];
  const clusters = new Map(last.out.clusters);
  const hosts = { exact: new Map(last.out.hosts.exact), wildcard: new Map(last.out.hosts.wildcard), addresses: new Map(last.out.hosts.addresses) };
  for (const [before, after] of pairs) {
    services[services.indexOf(before.service)] = after.service;
    for (const c of after.clusters) clusters.set(c.name, c);
    // Address slots are first-wins without a diagnostic (a VIP two entries declare): an entry that
    // did not hold a slot must not take it over; the full pass decides who does.
    if (!placeDestinations(before, after, hosts)) return undefined;
  }
  return { ...last.out, services, clusters, hosts };
}

function keyOf(se: SE): string {
  return `${se.metadata.namespace}/${se.metadata.name}`;
}

/** Same hosts, ports, cluster names and addresses: the same table keys, claimed in the same order. */
function sameKeys(a: ServiceMemo, b: ServiceMemo): boolean {
  const same = sameItems<unknown>;
  return same(a.service.hosts, b.service.hosts) && same(a.service.addresses, b.service.addresses)
    && a.service.autoAllocated === b.service.autoAllocated
    && same(a.service.ports.map((p) => p.number), b.service.ports.map((p) => p.number))
    && same(a.clusters.map((c) => c.name), b.clusters.map((c) => c.name));
}

/**
 * The entry's destinations where addToTables (services.ts) put its predecessor's; false when a slot
 * it claims is held by another entry's destination (first wins there, so it is not this entry's).
 */
function placeDestinations(before: ServiceMemo, entry: ServiceMemo, hosts: { -readonly [K in keyof HostTable]: Map<string, ReadonlyMap<number, Destination>> }): boolean {
  const { service, destinations } = entry;
  let next = 0;
  for (const [i, host] of service.hosts.entries()) {
    for (const port of service.ports) {
      const was = before.destinations[next]!;
      const dest = destinations[next++]!;
      const wildcard = host.startsWith('*.');
      if (!put(wildcard ? hosts.wildcard : hosts.exact, wildcard ? host.slice(1) : host, was, dest)) return false;
      for (const a of tableAddresses(service, i)) if (!put(hosts.addresses, a, was, dest)) return false;
    }
  }
  return true;
}

function put(table: Map<string, ReadonlyMap<number, Destination>>, key: string, was: Destination, dest: Destination): boolean {
  const held = table.get(key);
  const holder = held?.get(dest.port.number);
  if (holder !== was && holder !== dest) return false;
  const ports = new Map(held);
  ports.set(dest.port.number, dest);
  table.set(key, ports);
  return true;
}

