// The whole chain with TLS origination: the app sends plain HTTP to the agent, HBONE carries it to
// the waypoint, and the waypoint upgrades it to TLS towards the upstream (ServiceEntry targetPort
// + DestinationRule SIMPLE), verifying the upstream's certificate against the given CA.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.ts';
import { parseAddressOverrides } from '../../src/agent/routes.ts';
import { issueCert, makeCa } from '../helpers/certs.ts';
import { curl } from '../helpers/curl.ts';
import { loopbackEntry } from '../helpers/inprocess.ts';
import { startHttpsUpstream, type EchoBody, type HttpUpstream } from '../helpers/upstream.ts';
import { startMesh, type Mesh } from '../hbone/fixture.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';

let m: Mesh;
let agent: RunningAgent;
let tls: HttpUpstream;
let dir: TmpDir;

before(async () => {
  const ca = await makeCa({ commonName: 'external ca' });
  const leaf = await issueCert(ca, { dnsNames: ['secure-api.test'] });
  dir = await tmpDir();
  const caFile = join(dir.path, 'external-ca.pem');
  await writeFile(caFile, ca.cert);
  tls = await startHttpsUpstream({ name: 'tls', cert: leaf.cert, key: leaf.key });
  m = await startMesh(loopbackEntry('secure-api', tls.port)
    + `---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: secure-api, namespace: istio-egress}\nspec:\n  host: secure-api.test\n  trafficPolicy: {tls: {mode: SIMPLE, caCertificates: ${caFile}}}\n`);
  agent = await startAgent({
    configPaths: [m.wp.dir], cert: m.pki.files.cart!.cert, key: m.pki.files.cart!.key, trustBundle: m.pki.bundle,
    waypointAddresses: parseAddressOverrides([`127.0.0.1:${m.hbonePort}`]), listenAddress: '127.0.0.1',
    httpPort: 0, socksPort: 0, passthrough: false, workload: 'cart', noProxy: '',
  });
});
after(async () => {
  await agent?.close();
  await m?.close();
  await tls?.close();
  await dir?.close();
});

test('plain HTTP from the app reaches the upstream over TLS, verified, through agent and HBONE', async () => {
  const r = await curl(['-x', `http://${agent.http}`, 'http://secure-api.test/upgraded']);
  assert.equal(r.status, 200, r.stdout + r.stderr);
  const echo = JSON.parse(r.stdout) as EchoBody;
  assert.equal(echo.url, '/upgraded');
  assert.equal(echo.tls?.servername, 'secure-api.test', 'SNI defaults to the request host');
  const rec = await m.wp.nextRecord((x) => x.path === '/upgraded');
  assert.equal(rec.sourcePrincipal, 'spiffe://cluster.local/ns/shop/sa/cart');
  assert.equal(rec.upstreamHost, `127.0.0.1:${tls.port}`);
});
