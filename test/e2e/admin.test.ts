// Admin, status and stats endpoints: config_dump with binding status, readiness, metrics.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess, loopbackEntry } from '../helpers/inprocess.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';

describe('admin endpoints', () => {
  let up: HttpUpstream;
  let wp: InProcess;
  before(async () => {
    up = await startHttpUpstream();
    wp = await startInProcess(WAYPOINT_YAML
      + loopbackEntry('api', up.port)
      + serviceEntry('"off"', 'hosts: [off.test]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS', 'istio.io/use-waypoint: none')
      + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: istio-egress}
spec:
  parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: api}, {group: networking.istio.io, kind: ServiceEntry, name: gone}]
  rules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: api.test, port: 80}]}]
`);
  });
  after(async () => {
    await wp?.close();
    await up?.close();
  });

  test('/config_dump shows the compiled snapshot and each binding as an istio.io/WaypointBound condition', async () => {
    const dump = await (await fetch(`${wp.adminUrl}/config_dump`)).json() as {
      snapshot: { bindings: { resource: string; conditions: { type: string; status: string; reason: string }[] }[]; clusters: { name: string }[]; services: { addresses: string[]; name: string }[] };
    };
    const byName = new Map(dump.snapshot.bindings.map((b) => [b.resource, b.conditions[0]!]));
    assert.deepEqual(byName.get('ServiceEntry/istio-egress/api'), { type: 'istio.io/WaypointBound', status: 'True', reason: 'WaypointAccepted', message: 'Successfully attached to waypoint istio-egress/waypoint' });
    assert.equal(byName.get('ServiceEntry/istio-egress/off')?.status, 'False');
    assert.equal(byName.get('ServiceEntry/istio-egress/off')?.reason, 'OptedOut');
    assert.deepEqual(dump.snapshot.clusters.map((c) => c.name), ['inbound-vip|80|http|api.test']);
    assert.match(dump.snapshot.services[0]!.addresses[0]!, /^240\.240\./);
  });

  test('/config_dump reports HTTPRoute status per parentRef as istiod writes it', async () => {
    const dump = await (await fetch(`${wp.adminUrl}/config_dump`)).json() as {
      snapshot: { routeStatus: { httpRoutes: { resource: string; parents: { parentRef: { name: string }; conditions: { type: string; status: string; reason: string }[]; attachedClusters: string[] }[] }[] } };
    };
    const [route] = dump.snapshot.routeStatus.httpRoutes;
    assert.equal(route?.resource, 'HTTPRoute/istio-egress/api');
    const byParent = new Map(route!.parents.map((p) => [p.parentRef.name, p]));
    assert.deepEqual(byParent.get('api')?.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`), ['Accepted=True/Accepted', 'ResolvedRefs=True/ResolvedRefs', 'ResolvedWaypoints=True/ResolvedWaypoints']);
    assert.deepEqual(byParent.get('api')?.attachedClusters, ['inbound-vip|80|http|api.test']);
    assert.deepEqual(byParent.get('gone')?.conditions[0], { type: 'Accepted', status: 'False', reason: 'NoMatchingParent', message: 'parent service entry: "gone" not found' });
  });

  test('readiness is served on the admin and status ports', async () => {
    assert.equal((await fetch(`${wp.adminUrl}/healthz/ready`)).status, 200);
    assert.equal((await fetch(`${wp.statusUrl}/healthz/ready`)).status, 200);
  });

  test('/stats/prometheus counts requests with Istio labels and reporter="waypoint"', async () => {
    for (let i = 0; i < 3; i++) await curl(['-x', wp.proxyUrl, 'http://api.test/m']);
    await curl(['-x', wp.proxyUrl, 'http://api.test/status/503']);
    const text = await (await fetch(`${wp.statsUrl}/stats/prometheus`)).text();
    const ok = text.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="200"'));
    assert.ok(ok, text);
    assert.match(ok, /reporter="waypoint"/);
    assert.match(ok, /destination_service="api\.test"/);
    assert.match(ok, /destination_service_name="api\.test"/);
    assert.match(ok, /destination_service_namespace="istio-egress"/);
    assert.match(ok, /response_flags="-"/);
    assert.match(ok, /connection_security_policy="none"/);
    assert.match(ok, /source_principal="unknown"/);
    assert.match(ok, / 3$/);
    assert.match(text, /istio_requests_total\{[^}]*response_code="503"[^}]*\} 1/);
    assert.match(text, /istio_request_duration_milliseconds_bucket\{[^}]*le="0\.5"/);
    assert.match(text, /istio_build\{component="proxy"/);
  });
});
