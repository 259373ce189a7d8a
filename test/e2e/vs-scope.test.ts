// Which VirtualServices the waypoint applies, over real sockets (curl through the proxy listener to
// two loopback upstreams): `gateways`, `exportTo`, the order istiod lists them in, and match-level
// `gateways`. Istio: VirtualServicesForGateway(<waypoint ns>, "mesh"), route.go sourceMatchHTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { startInProcess, WAYPOINT_ALL_NAMESPACES_YAML, type InProcess } from '../helpers/inprocess.ts';
import { startHttpUpstream, type EchoBody, type HttpUpstream } from '../helpers/upstream.ts';

// The waypoint accepts ServiceEntries from every namespace (shop's entries use it too).
const WAYPOINT = WAYPOINT_ALL_NAMESPACES_YAML;

/** `<name>.test`, port 80 -> `port` on loopback, bound to the waypoint from namespace `ns`. */
const entry = (name: string, port: number, ns = 'istio-egress') => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}, labels: {istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-egress}}
spec: {hosts: [${name}.test], ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}], resolution: STATIC, endpoints: [{address: 127.0.0.1}]}
`;

/** A VirtualService for `<host>.test`; `http` is a YAML flow sequence, `spec` extra YAML flow fields. */
const vs = (name: string, host: string, http: string, opts: { ns?: string; spec?: string; created?: string } = {}) => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${opts.ns ?? 'istio-egress'}, creationTimestamp: "${opts.created ?? '2024-01-01T00:00:00Z'}"}
spec: {hosts: [${host}.test], http: ${http}${opts.spec ? `, ${opts.spec}` : ''}}
`;

const toB = (host: string) => `[{route: [{destination: {host: ${host}.test, port: {number: 80}}}], headers: {request: {set: {x-via: b}}}}]`;

describe('VirtualService gateways and exportTo at the waypoint', () => {
  let a: HttpUpstream;
  let b: HttpUpstream;
  let wp: InProcess;

  before(async () => {
    a = await startHttpUpstream({ name: 'a' });
    b = await startHttpUpstream({ name: 'b' });
    // Every host below has its own entry to upstream a; a VirtualService that applies sends its
    // request to b.test (upstream b).
    const hosts = ['mesh', 'gw', 'both', 'match', 'exp-other', 'exp-own', 'order'];
    wp = await startInProcess(WAYPOINT + entry('b', b.port) + hosts.map((h) => entry(h, a.port)).join('')
      + entry('shop-public', a.port, 'shop') + entry('shop-private', a.port, 'shop') + entry('shop-exported', a.port, 'shop')
      + vs('mesh', 'mesh', toB('b'), { spec: 'gateways: [mesh]' })
      + vs('gw', 'gw', toB('b'), { spec: 'gateways: [istio-egress/egress-gw]' })
      + vs('both', 'both', toB('b'), { spec: 'gateways: [istio-egress/egress-gw, mesh]' })
      + vs('match', 'match', `[
          {match: [{uri: {prefix: /x}, gateways: [istio-egress/egress-gw]}], directResponse: {status: 418, body: {string: "gateway rule"}}},
          {match: [{uri: {prefix: /x}, gateways: [mesh]}], directResponse: {status: 200, body: {string: "mesh rule"}}}]`)
      + vs('exp-other', 'exp-other', toB('b'), { spec: 'exportTo: [shop]' })
      + vs('exp-own', 'exp-own', toB('b'), { spec: 'exportTo: ["."]' })
      + vs('shop-public', 'shop-public', toB('b'), { ns: 'shop' })
      + vs('shop-private', 'shop-private', toB('b'), { ns: 'shop', spec: 'exportTo: ["."]' })
      + vs('shop-exported', 'shop-exported', toB('b'), { ns: 'shop', spec: 'exportTo: [istio-egress]' })
      // The older one is public; the newer one is private to the waypoint's namespace and comes first.
      + vs('order-public', 'order', `[{directResponse: {status: 200, body: {string: "public"}}}]`, { created: '2020-01-01T00:00:00Z' })
      + vs('order-private', 'order', `[{directResponse: {status: 200, body: {string: "private"}}}]`, { spec: 'exportTo: ["."]', created: '2024-01-01T00:00:00Z' }));
  });
  after(async () => {
    await wp?.close();
    await a?.close();
    await b?.close();
  });

  const get = (url: string) => curl(['-x', wp.proxyUrl, '-sS', url]);
  const upstream = async (host: string) => {
    const r = await get(`http://${host}.test/`);
    assert.equal(r.status, 200, `${host}: ${r.stdout}`);
    return (JSON.parse(r.stdout) as EchoBody).upstream;
  };

  test('gateways: [mesh] and [<gateway>, mesh] route; a VirtualService bound only to another Gateway does not', async () => {
    assert.equal(await upstream('mesh'), 'b');
    assert.equal(await upstream('both'), 'b');
    assert.equal(await upstream('gw'), 'a', 'bound to istio-egress/egress-gw only: the waypoint default route');
  });

  test('a match listing only another gateway never matches at the waypoint; the mesh match does', async () => {
    const r = await get('http://match.test/x');
    assert.equal(r.status, 200);
    assert.equal(r.stdout, 'mesh rule');
  });

  test('exportTo: "." in the waypoint namespace applies, another namespace only does not', async () => {
    assert.equal(await upstream('exp-own'), 'b');
    assert.equal(await upstream('exp-other'), 'a', 'exportTo [shop]: not visible in istio-egress');
  });

  test('a VirtualService in the service namespace applies when public or exported to the waypoint namespace, not when private', async () => {
    assert.equal(await upstream('shop-public'), 'b');
    assert.equal(await upstream('shop-exported'), 'b');
    assert.equal(await upstream('shop-private'), 'a', 'exportTo ["."] in shop: not visible in istio-egress');
  });

  test('a VirtualService private to the waypoint namespace comes before an older public one', async () => {
    const r = await get('http://order.test/');
    assert.equal(r.stdout, 'private');
  });

  test('/config_dump says why a VirtualService is ignored', async () => {
    const res = await fetch(`${wp.adminUrl}/config_dump`);
    const dump = JSON.stringify(await res.json());
    assert.match(dump, /bound to gateways \[istio-egress\/egress-gw\] without mesh/);
    assert.match(dump, /exportTo \[shop\] does not make it visible in the waypoint's namespace \(istio-egress\)/);
  });
});
