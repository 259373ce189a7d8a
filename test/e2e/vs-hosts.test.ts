// VirtualService hosts as istiod reads them, over real sockets (curl through the proxy listener to two
// loopback upstreams): a VirtualService for one name routes a wildcard ServiceEntry (host.Name.Matches
// is symmetric), short names are <name>.<namespace>.svc.cluster.local, and delegates are merged into
// their roots. Compile-level rows: test/compile/vs-hosts.test.ts, test/compile/vs-delegate.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { startInProcess, type InProcess } from '../helpers/inprocess.ts';
import { startHttpUpstream, type EchoBody, type HttpUpstream } from '../helpers/upstream.ts';
import { WAYPOINT_YAML } from '../helpers/inprocess.ts';

const entry = (name: string, hosts: string, spec: string) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: istio-egress, labels: {istio.io/use-waypoint: waypoint}}
spec: {hosts: ${hosts}, ports: [{number: 80, name: http, protocol: HTTP}], ${spec}}
`;
const loopback = (name: string, hosts: string, port: number) => entry(name, hosts, `resolution: STATIC, endpoints: [{address: 127.0.0.1, ports: {http: ${port}}}]`);
const vs = (name: string, spec: string) => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: istio-egress}
spec: ${spec}
`;

describe('VirtualService hosts at the waypoint', () => {
  let a: HttpUpstream;
  let b: HttpUpstream;
  let wp: InProcess;

  before(async () => {
    a = await startHttpUpstream({ name: 'a' });
    b = await startHttpUpstream({ name: 'b' });
    wp = await startInProcess(WAYPOINT_YAML
      + loopback('bee', '[bee.istio-egress.svc.cluster.local]', b.port)
      + entry('wild', '["*.wild.test"]', 'resolution: NONE')
      + loopback('reviews', '[reviews.istio-egress.svc.cluster.local]', a.port)
      + loopback('root', '[root.test]', a.port)
      + vs('one-name', '{hosts: [api.wild.test], http: [{route: [{destination: {host: bee}}]}]}')
      + vs('short', '{hosts: [reviews], http: [{route: [{destination: {host: bee}}]}]}')
      + vs('root', '{hosts: [root.test], http: [{match: [{uri: {prefix: /api}}], delegate: {name: child}}, {route: [{destination: {host: root.test}}]}]}')
      + vs('child', '{http: [{match: [{uri: {prefix: /api/v1}}], route: [{destination: {host: bee}}]}]}'));
  });
  after(async () => {
    await wp?.close();
    await a?.close();
    await b?.close();
  });

  const upstream = async (url: string) => {
    const r = await curl(['-x', wp.proxyUrl, '-sS', url]);
    assert.equal(r.status, 200, `${url}: ${r.stdout}`);
    return (JSON.parse(r.stdout) as EchoBody).upstream;
  };

  test('a VirtualService for api.wild.test routes every name of the *.wild.test ServiceEntry', async () => {
    assert.equal(await upstream('http://api.wild.test/'), 'b');
    assert.equal(await upstream('http://other.wild.test/'), 'b');
  });

  test('hosts: [reviews] is reviews.istio-egress.svc.cluster.local; destination bee is bee.istio-egress.svc.cluster.local', async () => {
    assert.equal(await upstream('http://reviews.istio-egress.svc.cluster.local/'), 'b');
  });

  test('a delegate\'s rules are merged into its root: /api/v1 goes where the delegate says, the rest by the root', async () => {
    assert.equal(await upstream('http://root.test/api/v1/x'), 'b');
    assert.equal(await upstream('http://root.test/api/v2'), 'a', 'the merged match is /api/v1 only; the root\'s next rule takes the rest');
    assert.equal(await upstream('http://root.test/'), 'a');
  });
});
