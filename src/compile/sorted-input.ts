// The sorted input of a compile and its per-kind lists, kept from one compile to the next (issue 16).
// A config source hands compile the same Resource objects for everything that did not change, in
// the same order (files in path order, Kubernetes objects in the order they were first seen), so a
// change is a short run of objects where the two inputs differ: those are taken out of the last
// sorted list and put back in by binary search, instead of sorting 10,000 resources again. A kind
// list that did not change stays the very same array, which is how a compile stage sees at a
// glance that its inputs are the ones it was built from (CompileMemo.stage).
import type { Resource } from '../config/resource.ts';
import { changedRun } from '../model/changed-run.ts';

export interface SortedInput {
  /** The input as given, to find the next input's changed run against. */
  readonly input: readonly Resource[];
  readonly sorted: readonly Resource[];
  /** Kind -> its resources in sorted order. */
  readonly byKind: ReadonlyMap<string, readonly Resource[]>;
  /**
   * No two resources share a sort key: the order is then a function of the set, and a change can be
   * merged in. Otherwise (a duplicate that validation would report) ties keep input order, which
   * only a full sort reproduces.
   */
  readonly unique: boolean;
  /** Built by merging a change into the last one (not sorted from scratch). */
  readonly merged: boolean;
}

/** More changed resources than this: a full sort (each merge step moves the whole list). */
const MAX_MERGED = 64;

/** `key` gives the total order (creation time, kind, namespace, name); it must be cheap (cached). */
export function sortInput(prev: SortedInput | undefined, input: readonly Resource[], key: (r: Resource) => string): SortedInput {
  if (prev?.unique) {
    const { removed, added } = listChanges(prev.input, input);
    if (removed.length === 0 && added.length === 0) return prev.input === input ? prev : { ...prev, input };
    if (removed.length + added.length <= MAX_MERGED) {
      const merged = merge(prev, removed, added, key);
      if (merged) return { ...merged, input, merged: true };
    }
  }
  return sortAll(input, key);
}

/**
 * What `b` has that `a` has not, and the reverse, by identity. Within the run where they differ: two
 * changes far apart (two files, two objects) make a long run of the same objects in between.
 */
export function listChanges<T>(a: readonly T[], b: readonly T[]): { removed: T[]; added: T[] } {
  const { start, endA, endB } = changedRun(a, b);
  const runA = a.slice(start, endA);
  const runB = b.slice(start, endB);
  if (runA.length === 0 || runB.length === 0) return { removed: runA, added: runB };
  const inA = new Set(runA);
  const inB = new Set(runB);
  return { removed: runA.filter((x) => !inB.has(x)), added: runB.filter((x) => !inA.has(x)) };
}

function sortAll(input: readonly Resource[], key: (r: Resource) => string): SortedInput {
  const keyed = input.map((r) => ({ r, k: key(r) }));
  keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  const sorted = keyed.map((x) => x.r);
  let unique = true;
  for (let i = 1; i < keyed.length && unique; i++) unique = keyed[i - 1]!.k !== keyed[i]!.k;
  const byKind = new Map<string, Resource[]>();
  for (const r of sorted) {
    const list = byKind.get(r.kind);
    if (list) list.push(r);
    else byKind.set(r.kind, [r]);
  }
  return { input, sorted, byKind, unique, merged: false };
}

/** The last sorted lists without `removed` and with `added`; undefined when a key repeats. */
function merge(prev: SortedInput, removed: readonly Resource[], added: readonly Resource[], key: (r: Resource) => string) {
  const sorted = prev.sorted.slice();
  const byKind = new Map(prev.byKind);
  const copied = new Set<string>();
  const kindList = (kind: string): Resource[] => {
    if (!copied.has(kind)) {
      copied.add(kind);
      byKind.set(kind, [...(byKind.get(kind) ?? [])]);
    }
    return byKind.get(kind) as Resource[];
  };
  for (const r of removed) {
    if (!take(sorted, r, key) || !take(kindList(r.kind), r, key)) return undefined;
  }
  for (const r of added) {
    if (!insertSorted(sorted, r, key) || !insertSorted(kindList(r.kind), r, key)) return undefined;
  }
  for (const kind of copied) if (byKind.get(kind)!.length === 0) byKind.delete(kind);
  return { sorted, byKind, unique: true };
}

/** First index whose key is >= k (`list` sorted by `key`). */
function lowerBound<T>(list: readonly T[], k: string, key: (x: T) => string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(list[mid]!) < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function take(list: Resource[], r: Resource, key: (r: Resource) => string): boolean {
  const i = lowerBound(list, key(r), key);
  if (list[i] !== r) return false;
  list.splice(i, 1);
  return true;
}

/** Puts `x` into `list` (sorted by `key`) in its place; false, and nothing put, when its key is there already. */
export function insertSorted<T>(list: T[], x: T, key: (x: T) => string): boolean {
  const k = key(x);
  const i = lowerBound(list, k, key);
  if (i < list.length && key(list[i]!) === k) return false;
  list.splice(i, 0, x);
  return true;
}
