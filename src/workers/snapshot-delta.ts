// What changed between two snapshots, as plain data for postMessage (`run --concurrency N`, issue
// 16). Structured clone of a whole snapshot of 10,000 resources was 6.8 MB and 150-200 ms of the
// primary's loop per worker per change, and as long again in each worker, which serves no request
// meanwhile. A compile reuses the objects of what did not change (compile/memo.ts), so the change
// is found by identity: a map's entries whose value is another object, a list's run of other
// objects (sorted lists change in one place), any other field that is another object. A worker
// applies it to the snapshot it serves and gets one equal to the primary's (same version, same
// content, map order included); test/workers/snapshot-delta.test.ts holds that on random sequences
// of compiles. Unchanged entries stay the worker's own objects; changed ones are fresh copies.
import { changedRun } from '../model/changed-run.ts';
import type { Snapshot } from '../model/snapshot.ts';

/** How each field is compared: entries of a map, a run of a list, fields of an object; else whole. */
type Shape = 'map' | 'list' | { readonly [field: string]: Shape };

const SHAPE: Shape = {
  services: 'list',
  clusters: 'map',
  hosts: { exact: 'map', wildcard: 'map', addresses: 'map' },
  bindings: 'list',
  unserved: 'map',
  authz: { services: 'map', policies: 'list' },
  routes: 'map',
  tcpRoutes: 'map',
  routeStatus: { httpRoutes: 'list', virtualServices: 'list' },
};

export type FieldDelta =
  /** The new value, whole. */
  | { readonly v: unknown }
  /** Map: entries set, keys deleted; `order` (every key, in order) when set/delete would not give the order. */
  | { readonly set: readonly (readonly [unknown, unknown])[]; readonly del: readonly unknown[]; readonly order?: readonly unknown[] }
  /** List: `remove` items from `at` replaced by `insert`. */
  | { readonly at: number; readonly remove: number; readonly insert: readonly unknown[] }
  /** Object: its changed fields. */
  | { readonly fields: { readonly [field: string]: FieldDelta } };

export interface SnapshotDelta {
  /** The version the delta applies to. */
  readonly base: string;
  readonly fields: { readonly [field: string]: FieldDelta };
}

export function snapshotDelta(prev: Snapshot, next: Snapshot): SnapshotDelta {
  return { base: prev.version, fields: objectDelta(prev as unknown as Obj, next as unknown as Obj, SHAPE as Record<string, Shape>) };
}

/** `prev` with `delta` applied: a new snapshot object; `prev` is not modified. */
export function applyDelta(prev: Snapshot, delta: SnapshotDelta): Snapshot {
  if (prev.version !== delta.base) throw new Error(`invariant: a delta for snapshot ${delta.base} applied to ${prev.version}`);
  return applyObject(prev as unknown as Obj, delta.fields) as unknown as Snapshot;
}

type Obj = Readonly<Record<string, unknown>>;

function objectDelta(prev: Obj, next: Obj, shape: Readonly<Record<string, Shape>>): Record<string, FieldDelta> {
  const out: Record<string, FieldDelta> = {};
  for (const k of new Set([...Object.keys(prev), ...Object.keys(next)])) {
    const a = prev[k];
    const b = next[k];
    if (a === b) continue;
    const s = shape[k];
    if (s === 'map' && a instanceof Map && b instanceof Map) out[k] = mapDelta(a, b);
    else if (s === 'list' && Array.isArray(a) && Array.isArray(b)) out[k] = listDelta(a, b);
    else if (typeof s === 'object' && isPlain(a) && isPlain(b)) out[k] = { fields: objectDelta(a, b, s as Record<string, Shape>) };
    else out[k] = { v: b };
  }
  return out;
}

function isPlain(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map);
}

function mapDelta(a: ReadonlyMap<unknown, unknown>, b: ReadonlyMap<unknown, unknown>): FieldDelta {
  const set: [unknown, unknown][] = [];
  const del: unknown[] = [];
  for (const [k, v] of b) if (a.get(k) !== v || !a.has(k)) set.push([k, v]);
  for (const k of a.keys()) if (!b.has(k)) del.push(k);
  return keepsOrder(a, b, del.length) ? { set, del } : { set, del, order: [...b.keys()] };
}

/**
 * Whether deleting from `a` and setting `b`'s entries gives `b`'s order: the keys `a` keeps come
 * first in `b`, in `a`'s order, and new keys after them (Map.set keeps a key's place, appends a new one).
 */
function keepsOrder(a: ReadonlyMap<unknown, unknown>, b: ReadonlyMap<unknown, unknown>, deleted: number): boolean {
  const kept = a.size - deleted;
  const ai = a.keys();
  let i = 0;
  for (const k of b.keys()) {
    if (i === kept) return true;
    let ak = ai.next();
    while (!ak.done && !b.has(ak.value)) ak = ai.next();
    if (ak.done || ak.value !== k) return false;
    i++;
  }
  return true;
}

function listDelta(a: readonly unknown[], b: readonly unknown[]): FieldDelta {
  const { start, endA, endB } = changedRun(a, b);
  return { at: start, remove: endA - start, insert: b.slice(start, endB) };
}

function applyObject(prev: Obj, fields: { readonly [field: string]: FieldDelta }): Obj {
  const out: Record<string, unknown> = { ...prev };
  for (const [k, d] of Object.entries(fields)) {
    if ('v' in d) {
      if (d.v === undefined) delete out[k];
      else out[k] = d.v;
    } else if ('set' in d) out[k] = applyMap(prev[k] as ReadonlyMap<unknown, unknown>, d);
    else if ('at' in d) {
      const list = [...(prev[k] as readonly unknown[])];
      list.splice(d.at, d.remove, ...d.insert);
      out[k] = list;
    } else out[k] = applyObject(prev[k] as Obj, d.fields);
  }
  return out;
}

function applyMap(prev: ReadonlyMap<unknown, unknown>, d: Extract<FieldDelta, { set: unknown }>): Map<unknown, unknown> {
  if (d.order) {
    const set = new Map(d.set);
    return new Map(d.order.map((k) => [k, set.has(k) ? set.get(k) : prev.get(k)]));
  }
  const out = new Map(prev);
  for (const k of d.del) out.delete(k);
  for (const [k, v] of d.set) out.set(k, v);
  return out;
}
