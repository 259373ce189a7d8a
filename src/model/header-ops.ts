// Combining header edits: routes, destinations, CORS and authorization each contribute some.
import type { HeaderOps } from './route.ts';

export function mergeOps(a: HeaderOps | undefined, b: HeaderOps | undefined): HeaderOps | undefined {
  if (!a) return b;
  if (!b) return a;
  return { set: [...a.set, ...b.set], add: [...a.add, ...b.add], remove: [...a.remove, ...b.remove], ...dynamic(a, b) };
}

const dynamic = (a: HeaderOps, b: HeaderOps) => (a.dynamic || b.dynamic ? { dynamic: true } : {});

/**
 * The Envoy header variables filled in per request (dataplane/header-format.ts); `%REQ(name)%`
 * takes arguments. Others Envoy knows are sent as written, with a warning.
 */
export const HEADER_VARIABLES = [
  'REQ', 'DOWNSTREAM_REMOTE_ADDRESS', 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT', 'DOWNSTREAM_REMOTE_PORT',
  'DOWNSTREAM_LOCAL_ADDRESS', 'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT', 'DOWNSTREAM_LOCAL_PORT', 'PROTOCOL', 'HOSTNAME',
  'START_TIME', 'UPSTREAM_REMOTE_ADDRESS', 'UPSTREAM_HOST',
];

/** Edits that only set headers. */
export function setOps(set: readonly (readonly [string, string])[] | undefined): HeaderOps | undefined {
  return set?.length ? { set, add: [], remove: [] } : undefined;
}

/**
 * Two edit blocks in one Envoy header list (a route's, then its only destination's, as Istio's
 * processDestination appends them): every remove runs first, then the sets and adds in order, so a
 * later set wipes an earlier add of the same name.
 */
export function oneListOps(a: HeaderOps | undefined, b: HeaderOps | undefined): HeaderOps | undefined {
  if (!a || !b) return a ?? b;
  const laterSet = new Set(b.set.map(([k]) => k));
  return { set: [...a.set, ...b.set], add: [...a.add.filter(([k]) => !laterSet.has(k)), ...b.add], remove: [...a.remove, ...b.remove], ...dynamic(a, b) };
}

/**
 * `first` evaluated, then `second` (a weighted destination's edits, then its route's: Envoy's
 * WeightedClusterEntry::finalize*Headers runs its own parser before the route's), as one HeaderOps.
 */
export function thenOps(first: HeaderOps | undefined, second: HeaderOps | undefined): HeaderOps | undefined {
  if (!first || !second) return first ?? second;
  const wiped = new Set([...second.remove, ...second.set.map(([k]) => k)]);
  const keep = ([k]: readonly [string, string]) => !wiped.has(k);
  return { set: [...first.set.filter(keep), ...second.set], add: [...first.add.filter(keep), ...second.add], remove: [...first.remove, ...second.remove], ...dynamic(first, second) };
}
