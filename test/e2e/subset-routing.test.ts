// A VirtualService routing by header to DestinationRule subsets: each subset reaches only the
// ServiceEntry endpoints its labels select (regression: routes once resolved subsets against the
// clusters from before DestinationRules applied, so every subset route was 503 NC).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';

let v1: Server;
let v2: Server;
let wp: InProcess;

const named = (name: string) => createServer((_req, res) => res.end(name));

before(async () => {
  v1 = named('v1');
  await new Promise<void>((r) => v1.listen(0, '127.0.0.1', r));
  const port = (v1.address() as { port: number }).port;
  v2 = named('v2');
  await new Promise<void>((r) => v2.listen(port, '127.0.0.2', r));
  wp = await startInProcess(WAYPOINT_YAML
    + serviceEntry('api', `hosts: [api.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1, labels: {version: v1}}, {address: 127.0.0.2, labels: {version: v2}}]`)
    + `---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: api, namespace: istio-egress}\nspec:\n  host: api.test\n  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]\n`
    + `---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: api, namespace: istio-egress}\nspec:\n  hosts: [api.test]\n  http:\n  - match: [{headers: {x-version: {exact: v2}}}]\n    route: [{destination: {host: api.test, subset: v2}}]\n  - route: [{destination: {host: api.test, subset: v1}}]\n`);
});
after(async () => {
  await wp?.close();
  v1?.close();
  v2?.close();
});

test('header match picks subset v2; everything else goes to subset v1', async () => {
  for (let i = 0; i < 4; i++) {
    assert.equal((await curl(['-x', wp.proxyUrl, 'http://api.test/'])).stdout, 'v1');
    assert.equal((await curl(['-x', wp.proxyUrl, '-H', 'x-version: v2', 'http://api.test/'])).stdout, 'v2');
  }
  const rec = await wp.nextRecord((r) => r.upstreamCluster === 'inbound-vip|80|http/v2|api.test');
  assert.equal(rec.responseCode, 200);
});
