// The agent checks the waypoint's SPIFFE ID (issue 11: an agent accepting a waypoint with the wrong
// SPIFFE ID left npm test green). Two waypoints with certificates from the same trusted CA: the
// genuine one (ns/istio-egress/sa/waypoint) is used, the impostor (another service account) is
// refused before any request reaches it.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.ts';
import { parseAddressOverrides } from '../../src/agent/routes.ts';
import { issueCert, makeCa, writePems } from '../helpers/certs.ts';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';

const GENUINE = 'spiffe://cluster.local/ns/istio-egress/sa/waypoint';
const IMPOSTOR = 'spiffe://cluster.local/ns/istio-egress/sa/impostor';

describe('the agent refuses an impostor waypoint', () => {
  let dir: TmpDir;
  let up: HttpUpstream;
  const wps: Record<string, InProcess> = {};
  const agents: Record<string, RunningAgent> = {};

  before(async () => {
    const ca = await makeCa();
    const pems = {
      genuine: await issueCert(ca, { uris: [GENUINE], dnsNames: ['waypoint.istio-egress'] }),
      impostor: await issueCert(ca, { uris: [IMPOSTOR], dnsNames: ['waypoint.istio-egress'] }),
      cart: await issueCert(ca, { uris: ['spiffe://cluster.local/ns/shop/sa/cart'], isClient: true }),
    };
    dir = await tmpDir();
    const files = await writePems(dir.path, pems);
    const bundle = join(dir.path, 'ca.pem');
    await writeFile(bundle, ca.trust);
    up = await startHttpUpstream();
    const yaml = WAYPOINT_YAML + serviceEntry('api', `hosts: [api.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);
    for (const who of ['genuine', 'impostor'] as const) {
      wps[who] = await startInProcess(yaml, { hbone: { port: 0, cert: files[who].cert, key: files[who].key, trustBundle: bundle } });
      const port = Number(wps[who]!.wp.listeners.hbone!.split(':').pop());
      agents[who] = await startAgent({
        configPaths: [wps[who]!.dir], cert: files.cart.cert, key: files.cart.key, trustBundle: bundle,
        waypointAddresses: parseAddressOverrides([`127.0.0.1:${port}`]), listenAddress: '127.0.0.1',
        httpPort: 0, socksPort: 0, passthrough: false, workload: 'cart', noProxy: '',
      });
    }
  });
  after(async () => {
    for (const a of Object.values(agents)) await a.close();
    for (const w of Object.values(wps)) await w.close();
    await up?.close();
    await dir?.close();
  });

  const via = (who: string, url: string) => curl(['-s', '-x', `http://${agents[who]!.http}`, url]);

  test('the genuine waypoint is used', async () => {
    const r = await via('genuine', 'http://api.test/genuine');
    assert.equal(r.status, 200, r.stdout);
    const rec = await wps.genuine!.nextRecord((x) => x.path === '/genuine');
    assert.equal(rec.sourcePrincipal, 'spiffe://cluster.local/ns/shop/sa/cart');
  });

  test('a waypoint presenting another SPIFFE ID from the same CA is refused, and gets no request', async () => {
    const seen = up.received.length;
    const r = await via('impostor', 'http://api.test/impostor');
    assert.equal(r.status, 503, r.stdout);
    assert.match(r.stdout, new RegExp(`presented ${IMPOSTOR}, expected ${GENUINE}`));
    assert.equal(wps.impostor!.records.length, 0, 'the impostor saw no request');
    assert.ok(!up.received.slice(seen).some((e) => e.url === '/impostor'), 'nothing reached the upstream');
  });
});
