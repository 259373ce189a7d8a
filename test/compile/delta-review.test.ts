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

test('a ServiceEntry ignored for a host:port another one serves does not replace that one\'s cluster (routes resolve clusters by name)', () => {
  const entry = (name: string, address: string, created: string) => resourceOf({
    apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry',
    metadata: { name, namespace: NS, labels: { 'istio.io/use-waypoint': 'waypoint' }, creationTimestamp: created },
    spec: { hosts: ['a.test'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC', endpoints: [{ address }] },
  })!;
  const vs = resourceOf({
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'vs', namespace: NS },
    spec: { hosts: ['a.test'], http: [{ timeout: '5s', route: [{ destination: { host: 'a.test' } }] }] },
  })!;
  const { snapshot, diagnostics } = compile([resourceOf(WAYPOINT)!, entry('owner', '127.0.0.1', '2024-01-01T00:00:00Z'), entry('late', '127.0.0.66', '2024-02-01T00:00:00Z'), vs]);
  assert.match(diagnostics.map((d) => d.message).join('\n'), /host a\.test port 80 is already served by ServiceEntry istio-egress\/owner; this entry is ignored/);
  const served = snapshot!.hosts.exact.get('a.test')!.get(80)!;
  assert.equal(served.service.key, 'istio-egress/owner');
  const route = snapshot!.routes.get(served.cluster.name)!.rules[0]!.action;
  assert.equal(route.kind, 'forward');
  const target = route.kind === 'forward' ? route.clusters[0]!.cluster! : '';
  // What serve-http.ts dials for the route: snap.clusters by name.
  assert.deepEqual(snapshot!.clusters.get(target)!.endpoints.map((e) => e.address), ['127.0.0.1']);
  assert.equal(snapshot!.clusters.get(target)!.service, 'istio-egress/owner');
});

test('a ServiceEntry ignored for a host:port does not serve its own addresses on that port either (no second way to its endpoints)', () => {
  const entry = (name: string, address: string, vip: string, created: string) => resourceOf({
    apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry',
    metadata: { name, namespace: NS, labels: { 'istio.io/use-waypoint': 'waypoint' }, creationTimestamp: created },
    spec: { hosts: ['a.test'], addresses: [vip], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }, ...(name === 'late' ? [{ number: 8080, name: 'alt', protocol: 'HTTP' }] : [])], resolution: 'STATIC', endpoints: [{ address }] },
  })!;
  const resources = [resourceOf(WAYPOINT)!, entry('owner', '127.0.0.1', '240.240.0.20', '2024-01-01T00:00:00Z'), entry('late', '127.0.0.66', '240.240.0.21', '2024-02-01T00:00:00Z')];
  const { snapshot, diagnostics } = compile(resources);
  assert.match(diagnostics.map((d) => d.message).join('\n'), /host a\.test port 80 is already served by ServiceEntry istio-egress\/owner; this entry is ignored for it \(its addresses too, on that port\)/);
  assert.equal(snapshot!.hosts.addresses.get('240.240.0.20')?.get(80)?.service.key, 'istio-egress/owner');
  assert.equal(snapshot!.hosts.addresses.get('240.240.0.21')?.get(80), undefined, 'the ignored entry\'s VIP is not in the registry on the port it lost');
  // The port it does serve keeps its VIP.
  assert.equal(snapshot!.hosts.addresses.get('240.240.0.21')?.get(8080)?.service.key, 'istio-egress/late');
  assert.ok(assertSameAsFull(resources, new CompileMemo(), 'incremental'));
});
