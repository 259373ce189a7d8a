// Incremental compile (issue 16): a compile that reuses a CompileMemo across changes must give what a
// compile from nothing gives, snapshot and diagnostics alike. Property: random sequences of
// add/modify/delete over a small universe of names, so that changes collide on hosts, targets and
// routes; after every step the two are compared in a canonical serialisation of everything in the
// snapshot (routes and policies included, which /config_dump leaves out).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compile, CompileMemo } from '../../src/compile/compile.ts';
import type { Resource } from '../../src/config/resource.ts';
import { canonical } from '../helpers/canonical.ts';
import { configAfterEachStep, steps } from '../helpers/config-steps.ts';

/** The comparison itself: a compile with the memo against one without, in canonical form. */
export function assertSameAsFull(resources: readonly Resource[], memo: CompileMemo, where: string): boolean {
  const incremental = compile(resources, {}, memo);
  const full = compile(resources, {});
  assert.equal(canonical(incremental.diagnostics), canonical(full.diagnostics), `${where}: diagnostics differ`);
  assert.equal(canonical(incremental.snapshot ?? null), canonical(full.snapshot ?? null), `${where}: snapshots differ`);
  if (full.snapshot?.tcpRoutes.size) withTcpRoutes++;
  return full.snapshot !== undefined;
}

/** Steps whose snapshot routes a TCP chain by a VirtualService tls/tcp rule. */
let withTcpRoutes = 0;

// Longer runs: PROPERTY_SEED=<n> PROPERTY_RUNS=1000 ./node_modules/.bin/node --test test/compile/incremental.test.ts
const seed = Number(process.env.PROPERTY_SEED ?? 0x16);
const numRuns = Number(process.env.PROPERTY_RUNS ?? 300);

test('incremental compile: after every add, modify or delete, the snapshot and diagnostics equal a full compile', () => {
  let compiled = 0;
  let total = 0;
  const counts = { merged: 0, authzPatched: 0, servicesPatched: 0, routesPatched: 0 };
  fc.assert(fc.property(steps, (ops) => {
    const memo = new CompileMemo();
    let i = 0;
    for (const resources of configAfterEachStep(ops)) {
      total++;
      if (assertSameAsFull(resources, memo, `step ${i++}`)) compiled++;
    }
    counts.merged += memo.counts.merged;
    counts.authzPatched += memo.counts.authzPatched;
    counts.servicesPatched += memo.counts.servicesPatched;
    counts.routesPatched += memo.counts.routesPatched;
  }), { seed, numRuns });
  // The property is only worth something if most steps compile to a snapshot, and if the delta
  // paths (a change merged into the last order, patched authz table, services and routes) run often.
  assert.ok(compiled > total / 2, `only ${compiled} of ${total} steps compiled`);
  assert.ok(counts.merged > total / 2, `only ${counts.merged} of ${total} steps merged their change into the last order`);
  assert.ok(counts.authzPatched > total / 20, `only ${counts.authzPatched} of ${total} steps patched the authz table`);
  assert.ok(counts.servicesPatched > total / 60, `only ${counts.servicesPatched} of ${total} steps patched the services`);
  assert.ok(withTcpRoutes > total / 40, `only ${withTcpRoutes} of ${total} steps had a VirtualService tls/tcp route`);
  assert.ok(counts.routesPatched > total / 40, `only ${counts.routesPatched} of ${total} steps patched the routes`);
  console.log(`# seed ${seed}, ${numRuns} runs: ${total} steps, ${compiled} compiled, ${counts.merged} merged, ${counts.authzPatched} authz patched, ${counts.servicesPatched} services patched, ${counts.routesPatched} routes patched, ${withTcpRoutes} with tcp routes`);
});
