// IST0109, IST0112, IST0166 and IST0171 against istioctl's own analyzers: every bad-* resource of the
// fixture gets the code, with the message istioctl's messages.yaml template produces.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { analyze } from '../../src/analyze/analyze.ts';
import { loadForTools } from '../../src/analyze/load.ts';

async function findings(code: string): Promise<Map<string, string[]>> {
  const loaded = await loadForTools([join('test/fixtures/analyze', `${code}.yaml`)]);
  const byName = new Map<string, string[]>();
  for (const d of analyze(loaded.resources, loaded.diagnostics, {}, loaded.rejected).filter((x) => x.code === code)) {
    const name = d.resource?.name ?? '';
    byName.set(name, [...(byName.get(name) ?? []), d.message]);
  }
  return byName;
}

test('IST0109: grouped by exportTo scope and FQDN, the host shown as "<scope>/<fqdn>"', async () => {
  const found = await findings('IST0109');
  assert.deepEqual([...found.keys()].sort(), ['bad-first', 'bad-scoped-a', 'bad-scoped-b', 'bad-second']);
  assert.deepEqual(found.get('bad-first'), ['The VirtualServices egress/bad-first,egress/bad-second associated with mesh gateway define the same host */vs.example.com which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.']);
  assert.match(found.get('bad-scoped-a')![0], /team-a\/bad-scoped-a,team-b\/bad-scoped-b .* define the same host shared\/scoped\.example\.com /);
});

test('IST0112: mesh-bound routes and mirrors too; ports as the ServiceEntry lists them', async () => {
  const found = await findings('IST0112');
  assert.deepEqual([...found.keys()].sort(), ['bad-mesh', 'bad-mirror', 'bad-no-port']);
  assert.deepEqual(found.get('bad-mirror'), ['This VirtualService routes to a service "other.example.com" that exposes multiple ports [80 443]. Specifying a port in the destination is required to disambiguate.']);
});

test('IST0166: only when a Gateway pod in the namespace carries every selector label', async () => {
  const found = await findings('IST0166');
  assert.deepEqual([...found.keys()].sort(), ['bad-selects-waypoint', 'bad-selects-waypoint-by-app']);
  assert.deepEqual(found.get('bad-selects-waypoint'), ['Ineffective selector on Kubernetes Gateway waypoint. Use the TargetRef field instead.']);
});

test('IST0166: no Pods in the input, no finding (istioctl looks at pods, not Gateway objects)', async () => {
  const loaded = await loadForTools([join('test/fixtures/analyze', 'IST0166.yaml')]);
  const withoutPods = loaded.resources.filter((r) => r.kind !== 'Pod');
  assert.equal(analyze(withoutPods, loaded.diagnostics, {}, loaded.rejected).filter((d) => d.code === 'IST0166').length, 0);
});

test('IST0171: Service, ServiceEntry and AuthorizationPolicy conditions only, in istioctl words', async () => {
  const found = await findings('IST0171');
  assert.deepEqual([...found.keys()].sort(), ['bad-not-bound', 'bad-policy-not-bound']);
  assert.deepEqual(found.get('bad-not-bound'), ['A condition with a negative status is present: type=istio.io/WaypointBound, reason=WaypointNotFound, message=waypoint egress/missing not found.']);
});
