// Certificate rotation under load: a root CA rotation (bundle with both roots, then new leaves for
// the waypoint and the agent) while tunnels carry bytes and requests keep coming. No tunnel fails,
// and new handshakes present the new certificates.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.ts';
import { parseAddressOverrides } from '../../src/agent/routes.ts';
import { writePair } from '../../src/certs/files.ts';
import { createMeshCa, issueWorkload } from '../../src/certs/pki.ts';
import { startMesh, type Mesh } from './fixture.ts';

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function serverCert(port: number, ca: string, cert: string, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, cert, key, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined }, () => {
      resolve(s.getPeerX509Certificate()!.toString());
      s.destroy();
    });
    s.once('error', reject);
  });
}

describe('certificate rotation under load', () => {
  let m: Mesh;
  let agent: RunningAgent;
  before(async () => {
    m = await startMesh();
    agent = await startAgent({
      configPaths: [m.wp.dir], cert: m.pki.files.cart!.cert, key: m.pki.files.cart!.key, trustBundle: m.pki.bundle,
      waypointAddresses: parseAddressOverrides([`127.0.0.1:${m.hbonePort}`]), listenAddress: '127.0.0.1',
      httpPort: 0, socksPort: -1, passthrough: false,
    });
  });
  after(async () => {
    await agent?.close();
    await m?.close();
  });

  const openTunnel = async (): Promise<Socket> => {
    const [host, port] = agent.http!.split(':');
    const s = netConnect({ host, port: Number(port) });
    s.write('CONNECT raw.test:9000 HTTP/1.1\r\nHost: raw.test:9000\r\n\r\n');
    const head = await new Promise<string>((r) => s.once('data', (d: Buffer) => r(d.toString())));
    if (!head.startsWith('HTTP/1.1 200')) throw new Error(head.split('\r\n\r\n')[1] ?? head);
    return s;
  };
  const echo = (s: Socket, text: string) => new Promise<string>((resolve, reject) => {
    let got = '';
    const onClose = () => reject(new Error('tunnel closed'));
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) {
        s.off('data', onData);
        s.off('close', onClose);
        resolve(got);
      }
    };
    s.on('data', onData);
    s.once('close', onClose);
    s.write(text);
  });

  test('root and leaf rotation on both ends drops no tunnel', async () => {
    const tunnels = await Promise.all([1, 2, 3, 4, 5].map(() => openTunnel()));
    let stop = false;
    let failures = 0;
    let requests = 0;
    let lastFailure = '';
    const load = (async () => {
      while (!stop) {
        // A fresh tunnel each time: new streams, and new connections once the pool is drained.
        try {
          const t = await openTunnel();
          if ((await echo(t, `load-${requests}`)) !== `load-${requests}`) throw new Error('wrong echo');
          t.destroy();
        } catch (err) {
          failures++;
          lastFailure = (err as Error).message;
        }
        requests++;
      }
    })();
    const chatter = (async () => {
      let i = 0;
      while (!stop) {
        await Promise.all(tunnels.map((t, n) => echo(t, `t${n}-${i}|`).then((got) => assert.equal(got, `t${n}-${i}|`))));
        i++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const oldCa = m.pki.ca.cert;
    const newCa = await createMeshCa({ trustDomain: 'cluster.local' });
    // 1. Both roots in the bundle, on both ends (the same file here).
    await writeFile(m.pki.bundle, oldCa + newCa.cert);
    await new Promise((r) => setTimeout(r, 400));
    // 2. New leaves from the new root.
    const wpLeaf = await issueWorkload(newCa, { namespace: 'istio-egress', serviceAccount: 'waypoint' });
    const cartLeaf = await issueWorkload(newCa, { namespace: 'shop', serviceAccount: 'cart' });
    await writePair(m.pki.dir.path, 'waypoint', wpLeaf.cert, wpLeaf.key);
    await writePair(m.pki.dir.path, 'cart', cartLeaf.cert, cartLeaf.key);
    const newWpFingerprint = new (await import('node:crypto')).X509Certificate(wpLeaf.cert).toString();
    const cart = { ca: newCa.cert, cert: cartLeaf.cert, key: cartLeaf.key };
    await until('the waypoint to present its new certificate', async () => (await serverCert(m.hbonePort, cart.ca, cart.cert, cart.key).catch(() => '')) === newWpFingerprint);
    await new Promise((r) => setTimeout(r, 500));
    // 3. Retire the old root: only new-root peers may connect now.
    await writeFile(m.pki.bundle, newCa.cert);
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all([load, chatter]);
    assert.equal(failures, 0, `${failures} of ${requests} requests failed during rotation (${lastFailure})`);
    assert.ok(requests > 5, `only ${requests} requests ran`);
    for (const [n, t] of tunnels.entries()) assert.equal(await echo(t, `after-${n}`), `after-${n}`, 'tunnels opened before the rotation still carry bytes');
    const fresh = await openTunnel();
    assert.equal(await echo(fresh, 'new'), 'new');
    for (const t of [...tunnels, fresh]) t.destroy();
    assert.equal(await readFile(m.pki.files.cart!.cert, 'utf8'), cartLeaf.cert);
  });
});
