// `run --concurrency N` compiles once and sends the Snapshot to each worker by structured clone
// (postMessage). That is only sound while a snapshot is plain data: objects, arrays, Maps, Sets,
// RegExps and primitives. A class instance would arrive without its methods, and a function would
// not arrive at all (DataCloneError). This walks the snapshots of every fixture config.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildSnapshot } from '../../src/controlplane/file-source.ts';
import { snapshotToJson } from '../../src/model/snapshot-json.ts';
import { REPO_ROOT } from '../helpers/waypoint.ts';

const PLAIN = new Set<unknown>([Object.prototype, Array.prototype, Map.prototype, Set.prototype, RegExp.prototype, null]);

/** Paths inside `v` that hold something structured clone would not carry faithfully. */
function notPlain(v: unknown, path = 'snapshot', seen = new Set<unknown>()): string[] {
  if (typeof v === 'function' || typeof v === 'symbol') return [`${path}: ${typeof v}`];
  if (v === null || typeof v !== 'object' || seen.has(v)) return [];
  seen.add(v);
  const proto = Object.getPrototypeOf(v);
  if (!PLAIN.has(proto)) return [`${path}: ${proto?.constructor?.name ?? 'unknown'} instance`];
  if (v instanceof Map) return [...v].flatMap(([k, x]) => [...notPlain(k, `${path}.key`, seen), ...notPlain(x, `${path}[${String(k)}]`, seen)]);
  if (v instanceof Set) return [...v].flatMap((x) => notPlain(x, `${path}{}`, seen));
  return Reflect.ownKeys(v).flatMap((k) => notPlain((v as Record<PropertyKey, unknown>)[k], `${path}.${String(k)}`, seen));
}

const files = (d: string) => readdirSync(join(REPO_ROOT, d)).map((f) => join(d, f));
// Policy and route fixtures are fragments: each goes with the policy base (waypoint and ServiceEntries).
const BASE = 'test/fixtures/policy/base.yaml';
const inputs: string[][] = [
  ['examples/quickstart'], ['examples/migrate/waypoint.yaml'],
  ...['test/fixtures/config', 'test/fixtures/analyze'].flatMap(files).map((f) => [f]),
  ...[...files('test/fixtures/policy'), ...files('test/fixtures/routes')].map((f) => [BASE, f]),
];

test('every fixture snapshot is plain data and survives structured clone unchanged', async () => {
  let compiled = 0;
  for (const paths of inputs) {
    const rel = paths.join(' + ');
    const built = await buildSnapshot(paths.map((p) => join(REPO_ROOT, p)), { outboundTrafficPolicy: 'REGISTRY_ONLY' });
    if (!built.snapshot) continue;
    compiled++;
    assert.deepEqual(notPlain(built.snapshot), [], rel);
    const clone = structuredClone(built.snapshot);
    assert.deepEqual(clone, built.snapshot, rel);
    assert.deepEqual(snapshotToJson(clone), snapshotToJson(built.snapshot), rel);
  }
  assert.ok(compiled >= 20, `only ${compiled} fixtures compiled`);
});

test('the walk finds what structured clone would lose', () => {
  class Matcher { match(): boolean { return true; } }
  assert.deepEqual(notPlain({ a: new Map([['k', { m: new Matcher() }]]) }), ['snapshot.a[k].m: Matcher instance']);
  assert.deepEqual(notPlain({ f: () => 1 }), ['snapshot.f: function']);
});
