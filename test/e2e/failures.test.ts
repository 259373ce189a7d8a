// Fail-closed for unknown destinations and each upstream failure in Envoy's vocabulary:
// status, response flag, details and a one-line body that names the cause.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';

/** A port with nothing listening: bind, note the port, close. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Accepts and closes (or resets) every connection without answering. */
async function rudeServer(reset: boolean): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => (reset ? s.resetAndDestroy() : s.end()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

describe('failures and fail-closed', () => {
  let wp: InProcess;
  let dns: DnsServer;
  let up: HttpUpstream;
  let closer: { server: Server; port: number };
  let resetter: { server: Server; port: number };

  before(async () => {
    dns = await startDnsServer({ records: {} });
    up = await startHttpUpstream();
    closer = await rudeServer(false);
    resetter = await rudeServer(true);
    const dead = await deadPort();
    const se = (name: string, port: number, extra: string) => serviceEntry(name, `
hosts: [${name}.test]
ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]
${extra}`);
    wp = await startInProcess(WAYPOINT_YAML
      + se('refused', dead, 'resolution: STATIC\nendpoints: [{address: 127.0.0.1}]')
      + se('nxdomain', dead, 'resolution: DNS')
      + se('empty', dead, 'resolution: STATIC')
      + se('closer', closer.port, 'resolution: STATIC\nendpoints: [{address: 127.0.0.1}]')
      + se('resetter', resetter.port, 'resolution: STATIC\nendpoints: [{address: 127.0.0.1}]')
      + se('midbody', up.port, 'resolution: STATIC\nendpoints: [{address: 127.0.0.1}]')
      + serviceEntry('elsewhere', `
hosts: [elsewhere.test]
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: DNS`, 'istio.io/use-waypoint: none'), { dnsServers: [`127.0.0.1:${dns.port}`] });
  });
  after(async () => {
    await wp?.close();
    await dns?.close();
    await up?.close();
    closer?.server.close();
    resetter?.server.close();
  });

  // Connect failures are retried twice by the waypoint's default retry policy, so they end as UF,URX.
  const cases: { name: string; url: string; status: number; flag: string; recordFlags?: string; details: string; body: RegExp }[] = [
    { name: 'unknown host is refused (fail-closed) with NR and how to allow it', url: 'http://unknown.test/x', status: 502, flag: 'NR', details: 'route_not_found{host_not_in_registry}', body: /unknown\.test:80 is not in the registry.*add a ServiceEntry with hosts: \[unknown\.test\]/ },
    { name: 'known host on an undeclared port is NR naming the declared ports', url: 'http://refused.test:8080/x', status: 502, flag: 'NR', details: 'route_not_found{port_not_declared}', body: /on port 80, not 8080/ },
    { name: 'a ServiceEntry that opted out of the waypoint is NR naming why', url: 'http://elsewhere.test/x', status: 502, flag: 'NR', details: 'route_not_found{serviceentry_not_bound}', body: /ServiceEntry istio-egress\/elsewhere.*OptedOut/ },
    { name: 'connection refused is 503 UF (after the default retries: UF,URX)', url: 'http://refused.test/x', status: 503, flag: 'UF', recordFlags: 'UF,URX', details: 'upstream_reset_before_response_started{connection_failure}', body: /reset reason: connection failure.*ECONNREFUSED/ },
    { name: 'NXDOMAIN is 503 DF', url: 'http://nxdomain.test/x', status: 503, flag: 'DF', details: 'dns_resolution_failure', body: /DNS resolution failure.*nxdomain\.test/ },
    { name: 'STATIC without endpoints is 503 UH', url: 'http://empty.test/x', status: 503, flag: 'UH', details: 'no_healthy_upstream', body: /no healthy upstream/ },
    { name: 'upstream closing before headers is 503 UC', url: 'http://closer.test/x', status: 503, flag: 'UC', details: 'upstream_reset_before_response_started{connection_termination}', body: /connection termination/ },
    { name: 'upstream reset before headers is 503 UR', url: 'http://resetter.test/x', status: 503, flag: 'UR', details: 'upstream_reset_before_response_started{remote_reset}', body: /remote reset/ },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const r = await curl(['-x', wp.proxyUrl, '-D', '-', c.url]);
      assert.equal(r.status, c.status, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`x-egressway-flags: ${c.flag}`, 'i'));
      assert.match(r.stdout, c.body);
      const path = new URL(c.url);
      const rec = await wp.nextRecord((x) => x.authority === path.host);
      assert.equal(rec.responseCode, c.status);
      assert.equal(rec.responseFlags, c.recordFlags ?? c.flag);
      assert.equal(rec.responseCodeDetails, c.details);
    });
  }

  test('an upstream that dies mid-body gives a truncated response and a UC record', async () => {
    const r = await curl(['-x', wp.proxyUrl, 'http://midbody.test/close-mid-body']);
    assert.notEqual(r.code, 0, 'curl must notice the truncated body');
    const rec = await wp.nextRecord((x) => x.path === '/close-mid-body');
    assert.equal(rec.responseCode, 200);
    assert.equal(rec.responseFlags, 'UC');
    assert.equal(rec.responseCodeDetails, 'upstream_reset_after_response_started{connection_termination}');
  });

  test('a refused CONNECT gets a real 502 response, never a silent close', async () => {
    const r = await curl(['-x', wp.proxyUrl, 'https://unknown.test/', '-v']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /CONNECT tunnel failed, response 502|502/);
    const rec = await wp.nextRecord((x) => x.method === 'CONNECT' && x.authority === 'unknown.test:443');
    assert.equal(rec.responseFlags, 'NR');
  });
});

describe('ALLOW_ANY', () => {
  test('unknown hosts pass through to PassthroughCluster', async () => {
    const up = await startHttpUpstream();
    const wp = await startInProcess(WAYPOINT_YAML, { compile: { outboundTrafficPolicy: 'ALLOW_ANY' }, dialPolicy: { allowCidrs: ['127.0.0.1'] } });
    try {
      const r = await curl(['-x', wp.proxyUrl, `http://localhost:${up.port}/any`]);
      assert.equal(r.status, 200, r.stdout);
      const rec = await wp.nextRecord((x) => x.path === '/any');
      assert.equal(rec.upstreamCluster, 'PassthroughCluster');
      assert.equal(rec.routeName, 'allow_any');
      assert.equal(rec.destinationService, 'PassthroughCluster');
    } finally {
      await wp.close();
      await up.close();
    }
  });
});
