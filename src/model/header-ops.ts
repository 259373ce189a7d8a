// Combining header edits: routes, destinations, CORS and authorization each contribute some.
import type { HeaderOps } from './route.ts';

export function mergeOps(a: HeaderOps | undefined, b: HeaderOps | undefined): HeaderOps | undefined {
  if (!a) return b;
  if (!b) return a;
  return { set: [...a.set, ...b.set], add: [...a.add, ...b.add], remove: [...a.remove, ...b.remove] };
}

/** Edits that only set headers. */
export function setOps(set: readonly (readonly [string, string])[] | undefined): HeaderOps | undefined {
  return set?.length ? { set, add: [], remove: [] } : undefined;
}
