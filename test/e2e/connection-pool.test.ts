// DestinationRule connectionPool measured at real upstreams (connections each one accepted), as
// Envoy applies it: tcp.maxConnections per cluster across all its endpoints, TCP tunnels (CONNECT and
// HBONE) refused beyond it with UO, and http.maxRequestsPerConnection requests on each connection.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect as h2connect } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { makePki, type Pki } from '../hbone/fixture.ts';
import { destinationRule, serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { openTunnel, proxyClient, type ProxyClient, type Tunnel } from '../helpers/proxy-fetch.ts';
import { startHttpUpstream, startTcpEcho, type EchoServer, type HttpUpstream } from '../helpers/upstream.ts';

function se(name: string, ports: readonly number[], protocol = 'HTTP', number = 80): string {
  return serviceEntry(name, `hosts: [${name}.test]
ports: [{number: ${number}, name: p, protocol: ${protocol}}]
resolution: STATIC
endpoints:
${ports.map((p) => `- {address: 127.0.0.1, ports: {p: ${p}}}`).join('\n')}`);
}

const dr = (name: string, pool: string) => destinationRule(name, `{connectionPool: ${pool}}`);

describe('DestinationRule connectionPool at real upstreams', () => {
  let wp: InProcess;
  let client: ProxyClient;
  let pki: Pki;
  let spread: HttpUpstream[];
  let once: HttpUpstream, twice: HttpUpstream;
  let echo: EchoServer;

  before(async () => {
    spread = await Promise.all([1, 2, 3].map((i) => startHttpUpstream({ name: `spread-${i}` })));
    [once, twice] = await Promise.all([startHttpUpstream({ name: 'once' }), startHttpUpstream({ name: 'twice' })]);
    echo = await startTcpEcho();
    pki = await makePki();
    wp = await startInProcess(WAYPOINT_YAML
      + se('spread', spread.map((u) => u.port)) + dr('spread', '{tcp: {maxConnections: 4}, http: {http1MaxPendingRequests: 100}}')
      + se('once', [once.port]) + dr('once', '{http: {maxRequestsPerConnection: 1}}')
      + se('twice', [twice.port]) + dr('twice', '{http: {maxRequestsPerConnection: 2}}')
      + se('raw', [echo.port], 'TCP', 9000) + dr('raw', '{tcp: {maxConnections: 1}}'), {
      hbone: { port: 0, cert: pki.files.waypoint!.cert, key: pki.files.waypoint!.key, trustBundle: pki.bundle },
    });
    client = proxyClient(wp.proxyUrl, { tunnel: false, connections: 30 });
  });
  after(async () => {
    await client?.close();
    await wp?.close();
    await Promise.all([...spread, once, twice, echo].map((u) => u?.close()));
    await pki?.dir.close();
  });

  test('tcp.maxConnections counts the cluster: 4 across 3 endpoints, not 4 per endpoint', async () => {
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => client.fetch(`http://spread.test/delay/150?i=${i}`)));
    assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
    const perEndpoint = spread.map((u) => u.stats.connections);
    const total = perEndpoint.reduce((a, b) => a + b, 0);
    // Envoy opens a host's first connection even at the limit, so every endpoint may get one.
    assert.ok(total <= 4 && total >= 3, `connections per endpoint ${perEndpoint.join(', ')}: ${total} in all, maxConnections is 4`);
    assert.equal(spread.reduce((a, u) => a + u.stats.requests, 0), 24);
  });

  test('http.maxRequestsPerConnection: 1 is one request per connection, 2 is two', async () => {
    for (let i = 0; i < 4; i++) assert.equal((await client.fetch(`http://once.test/r${i}`)).status, 200);
    for (let i = 0; i < 6; i++) assert.equal((await client.fetch(`http://twice.test/r${i}`)).status, 200);
    assert.deepEqual([once.stats.requests, once.stats.connections], [4, 4]);
    assert.deepEqual([twice.stats.requests, twice.stats.connections], [6, 3]);
  });

  test('tcp.maxConnections holds for CONNECT and HBONE tunnels to a TCP port: beyond it, 503 UO', async () => {
    const proxy = wp.proxyUrl.slice(7);
    const first: Tunnel = await openTunnel(proxy, 'raw.test:9000');
    assert.equal(first.status, 200);
    const second = await openTunnel(proxy, 'raw.test:9000');
    assert.equal(second.status, 503, second.head);
    assert.match(second.head, /x-egressway-flags: UO/i);
    const body = await new Promise<string>((resolve) => {
      let b = '';
      second.socket.on('data', (c: Buffer) => (b += c.toString()));
      second.socket.once('close', () => resolve(b));
    });
    assert.match(body, /reset reason: overflow \(cluster inbound-vip\|9000\|tcp\|raw\.test has 1 connections open, its maxConnections \(DestinationRule istio-egress\/raw\) is 1\)/);
    const rec = await wp.nextRecord((r) => r.authority === 'raw.test:9000' && r.responseFlags === 'UO');
    assert.equal(rec.responseCodeDetails, 'upstream_reset_before_response_started{overflow}');
    assert.equal(echo.stats.connections, 1, 'the refused tunnel never reached the upstream');

    // The same limit over HBONE, while the CONNECT tunnel holds the one connection.
    const pem = { cert: await readFile(pki.files.cart!.cert, 'utf8'), key: await readFile(pki.files.cart!.key, 'utf8'), ca: await readFile(pki.bundle, 'utf8') };
    const hbonePort = Number(wp.wp.listeners.hbone!.split(':').pop());
    const session = h2connect(`https://127.0.0.1:${hbonePort}`, { ...pem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    session.on('error', () => {});
    const hboneStatus = () => new Promise<number>((resolve, reject) => {
      const s = session.request({ ':method': 'CONNECT', ':authority': 'raw.test:9000' });
      s.once('response', (h) => { resolve(Number(h[':status'])); s.close(); });
      s.once('error', reject);
    });
    try {
      assert.equal(await hboneStatus(), 503);
      // Closing the tunnel gives its connection back.
      first.close();
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = await hboneStatus();
        if (status !== 200) await sleep(40);
      }
      assert.equal(status, 200);
      assert.equal(echo.stats.connections, 2);
    } finally {
      session.destroy();
    }
  });
});
