// Regression tests for divergences found by review of the incremental-compile delta paths (issue 16).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile, CompileMemo } from '../../src/compile/compile.ts';
import type { Resource } from '../../src/config/resource.ts';
import { canonical } from '../helpers/canonical.ts';
import { resourceOf, WAYPOINT } from '../helpers/config-steps.ts';

/** As in incremental.test.ts (not imported: that would run its property here too). */
function assertSameAsFull(resources: readonly Resource[], memo: CompileMemo, where: string): boolean {
  const incremental = compile(resources, {}, memo);
  const full = compile(resources, {});
  assert.equal(canonical(incremental.diagnostics), canonical(full.diagnostics), `${where}: diagnostics differ`);
  assert.equal(canonical(incremental.snapshot ?? null), canonical(full.snapshot ?? null), `${where}: snapshots differ`);
  return full.snapshot !== undefined;
}

const NS = 'istio-egress';
const se = (name: string, host: string, address: string, created: string) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry',
  metadata: { name, namespace: NS, labels: { 'istio.io/use-waypoint': 'waypoint' }, creationTimestamp: created },
  spec: { hosts: [host], addresses: ['240.240.0.9'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC', endpoints: [{ address }] },
});

test('a ServiceEntry changed in place that shares a user address with an older one does not take the address over', () => {
  const memo = new CompileMemo();
  const gw = resourceOf(WAYPOINT)!;
  const older = resourceOf(se('se-0', 'a.test', '127.0.0.1', '2024-01-01T00:00:00Z'))!;
  const newer = resourceOf(se('se-1', 'b.test', '127.0.0.1', '2024-02-01T00:00:00Z'))!;
  assert.ok(assertSameAsFull([gw, older, newer], memo, 'start'));
  const tweaked = resourceOf(se('se-1', 'b.test', '127.0.0.2', '2024-02-01T00:00:00Z'))!;
  assert.ok(assertSameAsFull([gw, older, tweaked], memo, 'after the change'));
  // VIP 240.240.0.9 stays the older entry's (first wins), as a compile from nothing has it.
  const snap = compile([gw, older, tweaked], {}, memo).snapshot!;
  assert.equal(snap.hosts.addresses.get('240.240.0.9')?.get(80)?.service.key, 'istio-egress/se-0');
});
