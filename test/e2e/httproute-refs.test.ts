// HTTPRoute backendRefs that istiod refuses, over real sockets: an unknown group/kind, a backendRef
// filter other than the header modifiers, and a cross-namespace backend without a ReferenceGrant
// all answer 500 and are never forwarded; a ReferenceGrant lets the cross-namespace backend through.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { startInProcess, WAYPOINT_ALL_NAMESPACES_YAML, type InProcess } from '../helpers/inprocess.ts';

// ServiceEntries in team-b bind to the waypoint only if its listener admits other namespaces.
const WAYPOINT = WAYPOINT_ALL_NAMESPACES_YAML;
import { startHttpUpstream, type EchoBody, type HttpUpstream } from '../helpers/upstream.ts';

const se = (ns: string, name: string, host: string, port: number) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}, labels: {istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-egress}}
spec:
  hosts: [${host}]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`;

const route = (name: string, parent: string, rules: string) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: istio-egress}
spec:
  parentRefs: [${parent}]
  hostnames: [front.test]
  rules:
${rules.trim().split('\n').map((l) => `  ${l}`).join('\n')}
`;

const GRANT = `---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-egress, namespace: team-b}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: istio-egress}]
  to: [{group: networking.istio.io, kind: ServiceEntry, name: granted}]
`;

describe('HTTPRoute backendRefs istiod refuses', () => {
  let front: HttpUpstream;
  let back: HttpUpstream;
  let wp: InProcess;

  before(async () => {
    front = await startHttpUpstream({ name: 'front' });
    back = await startHttpUpstream({ name: 'back' });
    const gw = '{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}';
    const be = (name: string, ns: string) => `{group: networking.istio.io, kind: ServiceEntry, name: ${name}, namespace: ${ns}, port: 80}`;
    wp = await startInProcess(WAYPOINT + GRANT
      + se('istio-egress', 'front', 'front.test', front.port)
      // A ServiceEntry whose host is what the old code made of an unknown kind named "svc".
      + se('istio-egress', 'svc', 'svc.istio-egress.svc.cluster.local', back.port)
      + se('team-b', 'granted', 'granted.b.test', back.port)
      + se('team-b', 'ungranted', 'ungranted.b.test', back.port)
      + route('gw', gw, `
- matches: [{path: {type: PathPrefix, value: /granted}}]
  backendRefs: [${be('granted', 'team-b')}]
- matches: [{path: {type: PathPrefix, value: /ungranted}}]
  backendRefs: [${be('ungranted', 'team-b')}]
- matches: [{path: {type: PathPrefix, value: /badkind}}]
  backendRefs: [{group: example.com, kind: Bucket, name: svc, port: 80}]
- matches: [{path: {type: PathPrefix, value: /badfilter}}]
  backendRefs:
  - group: networking.istio.io
    kind: Hostname
    name: svc.istio-egress.svc.cluster.local
    port: 80
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /rewritten}}}]
- matches: [{path: {type: PathPrefix, value: /headers}}]
  backendRefs:
  - group: networking.istio.io
    kind: Hostname
    name: svc.istio-egress.svc.cluster.local
    port: 80
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-backend, value: svc}]}}]
`)
      + route('mesh', '{group: networking.istio.io, kind: ServiceEntry, name: front}', `
- matches: [{path: {type: PathPrefix, value: /mesh-ungranted}}]
  backendRefs: [${be('ungranted', 'team-b')}]
`));
  });
  after(async () => {
    await wp?.close();
    await front?.close();
    await back?.close();
  });

  const get = (path: string) => curl(['-x', wp.proxyUrl, `http://front.test${path}`]);

  test('a cross-namespace backend with a ReferenceGrant is reached', async () => {
    const r = await get('/granted/x');
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.stdout) as EchoBody).upstream, 'back');
  });

  test('without a ReferenceGrant a Gateway-parented route gets 500 (RefNotPermitted), never the backend', async () => {
    const before = back.stats.requests;
    assert.equal((await get('/ungranted/x')).status, 500);
    assert.equal(back.stats.requests, before);
    const st = wp.wp.store.current().routeStatus.httpRoutes.find((h) => h.name === 'gw')!;
    const refs = st.parents[0]!.conditions.find((c) => c.type === 'ResolvedRefs')!;
    assert.equal(refs.status, 'False');
    assert.equal(refs.reason, 'RefNotPermitted');
    assert.match(refs.message, /backendRef ungranted\/team-b not accessible to a HTTPRoute in namespace "istio-egress" \(missing a ReferenceGrant\?\)/);
  });

  test('a ServiceEntry-parented (mesh) route is not checked against ReferenceGrants, as istiod does not', async () => {
    assert.equal((await get('/mesh-ungranted')).status, 200);
    const st = wp.wp.store.current().routeStatus.httpRoutes.find((h) => h.name === 'mesh')!;
    assert.equal(st.parents[0]!.conditions.find((c) => c.type === 'ResolvedRefs')!.status, 'True');
  });

  test('an unknown backendRef group/kind gets 500 (InvalidKind), not the Service of the same name', async () => {
    const before = back.stats.requests;
    assert.equal((await get('/badkind')).status, 500);
    assert.equal(back.stats.requests, before);
  });

  test('a URLRewrite on a backendRef gets 500 instead of forwarding unmodified; header modifiers apply', async () => {
    const before = back.stats.requests;
    assert.equal((await get('/badfilter')).status, 500);
    assert.equal(back.stats.requests, before);
    const ok = await get('/headers');
    assert.equal(ok.status, 200);
    assert.equal((JSON.parse(ok.stdout) as EchoBody).headers['x-backend'], 'svc');
  });
});
