// `run --concurrency N` sends workers what changed between two snapshots (snapshot-delta.ts), not the
// snapshot. Property: over random sequences of config changes compiled incrementally, a worker that
// applies every delta (each through structured clone, as postMessage does) to its own copy serves
// a snapshot equal to the primary's, map order included. And a delta is the size of the change.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serialize } from 'node:v8';
import fc from 'fast-check';
import { compile, CompileMemo } from '../../src/compile/compile.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { applyDelta, snapshotDelta } from '../../src/workers/snapshot-delta.ts';
import { canonical } from '../helpers/canonical.ts';
import { configAfterEachStep, resourceOf, steps, WAYPOINT } from '../helpers/config-steps.ts';

test('a worker applying each delta holds the snapshot the primary compiled, after every change', () => {
  let applied = 0;
  fc.assert(fc.property(steps, (ops) => {
    const memo = new CompileMemo();
    let primary: Snapshot | undefined;
    let worker: Snapshot | undefined;
    let i = 0;
    for (const resources of configAfterEachStep(ops)) {
      const next = compile(resources, {}, memo).snapshot;
      i++;
      if (!next || next.version === primary?.version) continue;
      if (!primary || !worker) worker = structuredClone(next);
      else {
        worker = applyDelta(worker, structuredClone(snapshotDelta(primary, next)));
        applied++;
      }
      primary = next;
      assert.equal(worker.version, next.version, `step ${i}`);
      assert.equal(canonical(worker), canonical(next), `step ${i}: the worker's snapshot differs from the primary's`);
    }
  }), { seed: 0x16, numRuns: 300 });
  assert.ok(applied > 500, `only ${applied} deltas applied`);
});

// What the pool does around deltas (pool.ts broadcast): a burst of compiles within one debounce is
// broadcast once, as a delta from the last broadcast snapshot to the newest (not through the ones in
// between); a rejected config broadcasts nothing; a worker restarted meanwhile starts on the whole
// current snapshot and gets deltas from there. Each worker must end up with the primary's snapshot.
test('workers that skip snapshots (bursts, rejected configs, restarts) still follow the primary through deltas', () => {
  let skipped = 0;
  let restarted = 0;
  fc.assert(fc.property(steps, fc.array(fc.constantFrom('broadcast', 'broadcast', 'hold', 'restart-0', 'restart-1'), { minLength: 40, maxLength: 40 }), (ops, plan) => {
    const memo = new CompileMemo();
    let sent: Snapshot | undefined;
    let latest: Snapshot | undefined;
    let workers: Snapshot[] = [];
    let i = 0;
    for (const resources of configAfterEachStep(ops)) {
      const next = compile(resources, {}, memo).snapshot;
      const what = plan[i++ % plan.length]!;
      if (next) latest = next;
      if (!latest) continue;
      if (!sent) {
        sent = latest;
        workers = [structuredClone(latest), structuredClone(latest)];
        continue;
      }
      if (what.startsWith('restart-')) {
        // pool.ts #spawn: the restarted worker's init carries the current (last broadcast) snapshot.
        workers[Number(what.slice(-1))] = structuredClone(sent);
        restarted++;
      }
      if (what === 'hold') {
        skipped++;
        continue;
      }
      if (latest.version === sent.version) continue;
      const delta = structuredClone(snapshotDelta(sent, latest));
      workers = workers.map((w) => applyDelta(w, delta));
      sent = latest;
      for (const [n, w] of workers.entries()) assert.equal(canonical(w), canonical(latest), `step ${i}: worker ${n} differs from the primary`);
    }
  }), { seed: 0x17, numRuns: 100 });
  assert.ok(skipped > 100 && restarted > 100, `${skipped} held, ${restarted} restarts`);
});

test('a delta applies only to the snapshot it was computed from', () => {
  const memo = new CompileMemo();
  const waypoint = resourceOf(WAYPOINT)!;
  const a = compile([waypoint, resourceOf(service(1))!], {}, memo).snapshot!;
  const b = compile([waypoint, resourceOf(service(1))!, resourceOf(service(2))!], {}, memo).snapshot!;
  assert.throws(() => applyDelta(b, snapshotDelta(a, b)), /a delta for snapshot [0-9a-f]+ applied to [0-9a-f]+/);
});

const service = (i: number) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: `svc-${i}`, namespace: 'istio-egress', labels: { 'istio.io/use-waypoint': 'waypoint' } },
  spec: { hosts: [`svc-${i}.test`], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' },
});
const policy = (i: number, path: string) => ({
  apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: `ap-${i}`, namespace: 'istio-egress' },
  spec: { targetRefs: [{ group: 'networking.istio.io', kind: 'ServiceEntry', name: `svc-${i}` }], action: 'DENY', rules: [{ to: [{ operation: { paths: [path] } }] }] },
});
const route = (i: number) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: `vs-${i}`, namespace: 'istio-egress' },
  spec: { hosts: [`svc-${i}.test`], http: [{ timeout: '5s', route: [{ destination: { host: `svc-${i}.test` } }] }] },
});

test('one changed resource among 1,500 gives a delta of a few KB, not the snapshot', () => {
  const n = 500;
  const docs = new Map<string, object>();
  for (let i = 0; i < n; i++) for (const d of [service(i), policy(i, `/deny-${i}`), route(i)]) docs.set(`${d.kind}/${d.metadata.name}`, d);
  const memo = new CompileMemo();
  const waypoint = resourceOf(WAYPOINT)!;
  const resources = new Map([...docs].map(([k, d]) => [k, resourceOf(d)!]));
  const before = compile([waypoint, ...resources.values()], {}, memo).snapshot!;
  const full = serialize(before).length;
  for (const [key, doc] of [['AuthorizationPolicy/ap-7', policy(7, '/moved')], ['ServiceEntry/svc-8', { ...service(8), spec: { ...service(8).spec, resolution: 'STATIC', endpoints: [{ address: '127.0.0.1' }] } }], ['VirtualService/vs-9', { ...route(9), spec: { ...route(9).spec, http: [{ timeout: '7s', route: [{ destination: { host: 'svc-9.test' } }] }] } }]] as const) {
    const prev = compile([waypoint, ...resources.values()], {}, memo).snapshot!;
    resources.set(key, resourceOf(doc)!);
    const next = compile([waypoint, ...resources.values()], {}, memo).snapshot!;
    assert.notEqual(next.version, prev.version);
    const size = serialize(snapshotDelta(prev, next)).length;
    assert.ok(size < 8_000 && size < full / 50, `${key}: a delta of ${size} bytes (the snapshot is ${full})`);
    assert.equal(canonical(applyDelta(structuredClone(prev), structuredClone(snapshotDelta(prev, next)))), canonical(next), key);
  }
});

test('with a DestinationRule for one host, a changed ServiceEntry elsewhere still gives a delta of a few KB', () => {
  const memo = new CompileMemo();
  const waypoint = resourceOf(WAYPOINT)!;
  const dr = resourceOf({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'dr', namespace: 'istio-egress' }, spec: { host: 'svc-0.test', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } } })!;
  const base = [waypoint, dr, ...Array.from({ length: 500 }, (_, i) => resourceOf(service(i))!)];
  const prev = compile(base, {}, memo).snapshot!;
  const moved = { ...service(7), spec: { ...service(7).spec, resolution: 'STATIC', endpoints: [{ address: '127.0.0.2' }] } };
  const next = compile(base.map((r) => (r.metadata.name === 'svc-7' ? resourceOf(moved)! : r)), {}, memo).snapshot!;
  const size = serialize(snapshotDelta(prev, next)).length;
  // Every host table entry was rebuilt with the DestinationRule applied: 300 KB of 450 KB.
  assert.ok(size < 8_000 && size < serialize(next).length / 50, `a delta of ${size} bytes`);
  assert.equal(canonical(applyDelta(structuredClone(prev), structuredClone(snapshotDelta(prev, next)))), canonical(next));
  // The rule still applies where it should: the host table's cluster is the one carrying its policy.
  const ruled = next.hosts.exact.get('svc-0.test')!.get(80)!.cluster;
  assert.ok(ruled.policy, 'svc-0.test carries the DestinationRule policy');
  assert.equal(ruled, next.clusters.get(ruled.name));
});
