// The response fields Istio's waypoint Envoy writes itself: `server: istio-envoy` on every reply
// (GetProxyHeaders for the waypoint's inbound class: server_name istio-envoy, OVERWRITE, so the
// upstream's and a route edit's are replaced) and the router's x-envoy-upstream-service-time on
// upstream responses only (Istio leaves Envoy's debug headers on), replacing an upstream's own.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';

/** Header lines of a `curl -i` response, lower-cased names, in order. */
function headerLines(out: string): [string, string][] {
  const head = out.split('\r\n\r\n')[0]!;
  return head.split('\r\n').slice(1).map((l) => {
    const c = l.indexOf(':');
    return [l.slice(0, c).toLowerCase(), l.slice(c + 1).trim()] as [string, string];
  });
}
const all = (out: string, name: string) => headerLines(out).filter(([k]) => k === name).map(([, v]) => v);

describe('response headers the waypoint writes itself (Envoy HCM server_name, router service time)', () => {
  let up: Server;
  let wp: InProcess;

  before(async () => {
    up = createServer((req, res) => {
      res.writeHead(200, { server: 'upstream-server/1.0', 'x-envoy-upstream-service-time': '999999', 'content-type': 'text/plain' });
      res.end('ok\n');
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    const port = (up.address() as AddressInfo).port;
    wp = await startInProcess(WAYPOINT_YAML
      + serviceEntry('plain', `hosts: [plain.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`)
      + serviceEntry('routed', `hosts: [routed.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`)
      + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: routed, namespace: istio-egress}
spec:
  hosts: [routed.test]
  http:
  - match: [{uri: {prefix: /direct}}]
    directResponse: {status: 200, body: {string: hi}}
  - headers: {response: {set: {server: from-route, x-edit: "yes"}}}
    route: [{destination: {host: routed.test}}]
`);
  });

  after(async () => {
    await wp?.close();
    await new Promise<void>((r) => up?.close(() => r()));
  });

  test('an upstream response (no route object): server istio-envoy, the waypoint\'s own service time', async () => {
    const r = await curl(['-x', wp.proxyUrl, '-s', '-i', 'http://plain.test/']);
    assert.equal(r.stdout.split('\r\n')[0], 'HTTP/1.1 200 OK');
    assert.deepEqual(all(r.stdout, 'server'), ['istio-envoy']);
    const t = all(r.stdout, 'x-envoy-upstream-service-time');
    assert.equal(t.length, 1, r.stdout);
    assert.match(t[0]!, /^\d+$/);
    assert.ok(Number(t[0]) < 10_000, `service time ${t[0]} is the waypoint's measure, not the upstream's 999999`);
  });

  test('a route edit cannot replace server (the HCM overwrites it after the router)', async () => {
    const r = await curl(['-x', wp.proxyUrl, '-s', '-i', 'http://routed.test/x']);
    assert.deepEqual(all(r.stdout, 'x-edit'), ['yes']);
    assert.deepEqual(all(r.stdout, 'server'), ['istio-envoy']);
  });

  test('a local reply (direct response) carries server istio-envoy and no service time', async () => {
    const r = await curl(['-x', wp.proxyUrl, '-s', '-i', 'http://routed.test/direct']);
    assert.equal(r.stdout.split('\r\n')[0], 'HTTP/1.1 200 OK');
    assert.deepEqual(all(r.stdout, 'server'), ['istio-envoy']);
    assert.deepEqual(all(r.stdout, 'x-envoy-upstream-service-time'), []);
  });
});
