// `run --concurrency 2` with the HBONE listener (real CLI): both workers bind 15008 with
// SO_REUSEPORT, each loads the waypoint certificate, and mTLS tunnels from either worker are counted
// in the one merged exposition, with the client's SPIFFE identity.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connectStream, h2Session, makePki, type Pki } from '../hbone/fixture.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { startTcpEcho, type EchoServer } from '../helpers/upstream.ts';
import { startWaypoint, type Waypoint } from '../helpers/waypoint.ts';
import { sample } from '../helpers/exposition.ts';

describe('run --concurrency 2 with HBONE (real CLI)', () => {
  let pki: Pki;
  let echo: EchoServer;
  let wp: Waypoint;
  before(async () => {
    pki = await makePki();
    echo = await startTcpEcho();
    const file = join(pki.dir.path, 'c.yaml');
    await writeFile(file, WAYPOINT_YAML + serviceEntry('raw', `hosts: [raw.test]\nports: [{number: 9000, name: t, protocol: TCP, targetPort: ${echo.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`));
    wp = await startWaypoint({
      configDir: file, startTimeoutMs: 60_000,
      args: ['--no-watch', '--concurrency', '2', '--hbone-port', '0', '--hbone-cert', pki.files.waypoint!.cert, '--hbone-key', pki.files.waypoint!.key, '--trust-bundle', pki.bundle],
    });
  });
  after(async () => {
    await wp?.close();
    await echo?.close();
    await pki?.dir.close();
  });

  test('tunnels on 16 HBONE connections: both workers serve, one count, the client identity kept', async () => {
    const pem = { cert: await readFile(pki.files.cart!.cert, 'utf8'), key: await readFile(pki.files.cart!.key, 'utf8'), ca: pki.ca.cert };
    const n = 16;
    for (let i = 0; i < n; i += 4) {
      await Promise.all(Array.from({ length: 4 }, async () => {
        const s = await h2Session(wp.listeners.hbone!.port, pem);
        const { status, stream } = await connectStream(s, 'raw.test:9000');
        assert.equal(status, 200);
        stream.write('ping');
        assert.equal(await new Promise<string>((r) => stream.once('data', (d: Buffer) => r(d.toString()))), 'ping');
        stream.end();
        await new Promise<void>((r) => stream.once('close', () => r()));
        s.close();
      }));
    }
    const labels = { destination_service: 'raw.test', source_principal: 'spiffe://cluster.local/ns/shop/sa/cart', connection_security_policy: 'mutual_tls' };
    let text = '';
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      text = await (await fetch(`${wp.listeners.stats!.url}/stats/prometheus`)).text();
      if (sample(text, 'istio_tcp_connections_closed_total', labels) >= n) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(sample(text, 'istio_tcp_connections_closed_total', labels), n, text.split('\n').filter((l) => l.startsWith('istio_tcp')).join('\n'));
    assert.equal(sample(text, 'istio_tcp_connections_opened_total', labels), n);
    const w0 = sample(text, 'egressway_worker_requests_total', { worker: '0' });
    const w1 = sample(text, 'egressway_worker_requests_total', { worker: '1' });
    assert.ok(w0 > 0 && w1 > 0, `worker 0 ${w0}, worker 1 ${w1}`);
  });
});
