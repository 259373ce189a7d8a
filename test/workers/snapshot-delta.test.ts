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
