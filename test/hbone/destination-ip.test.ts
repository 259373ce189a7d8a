// destination.ip through the HBONE listener: the address in the CONNECT authority (the ServiceEntry
// address a ztunnel carries there), so a DENY on notValues lets the dialled VIP through and only it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { startTcpEcho, type EchoServer } from '../helpers/upstream.ts';
import { connectStream, h2Session, policy, startMesh, type Mesh } from './fixture.ts';

const VIP = '240.240.240.20';

describe('HBONE destination.ip', () => {
  let m: Mesh;
  let echo: EchoServer;
  const pem = async (who: string) => ({ cert: await readFile(m.pki.files[who]!.cert, 'utf8'), key: await readFile(m.pki.files[who]!.key, 'utf8'), ca: m.pki.ca.cert });

  before(async () => {
    echo = await startTcpEcho();
    m = await startMesh(`---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vip, namespace: istio-egress, labels: {istio.io/use-waypoint: waypoint}}
spec:
  hosts: [vip.test]
  addresses: [${VIP}]
  ports: [{number: 9000, name: tcp, protocol: TCP, targetPort: ${echo.port}}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
` + policy('vip-only', 'vip', `action: DENY\nrules: [{when: [{key: destination.ip, notValues: ["${VIP}"]}]}]\n`));
  });
  after(async () => {
    await m?.close();
    await echo?.close();
  });

  test('a tunnel to the VIP is allowed and echoes; the same service by name is not the dialled VIP', async () => {
    const s = await h2Session(m.hbonePort, await pem('cart'));
    const ok = await connectStream(s, `${VIP}:9000`);
    assert.equal(ok.status, 200);
    ok.stream.write('ping');
    assert.equal(await new Promise<string>((r) => ok.stream.once('data', (d: Buffer) => r(d.toString()))), 'ping');
    ok.stream.end();
    const byName = await connectStream(s, 'vip.test:9000');
    assert.equal(byName.status, 403);
    const rec = await m.wp.nextRecord((r) => r.authority === 'vip.test:9000');
    assert.equal(rec.responseCodeDetails, 'rbac_access_denied_matched_policy[ns[istio-egress]-policy[vip-only]-rule[0]]');
    s.close();
  });
});
