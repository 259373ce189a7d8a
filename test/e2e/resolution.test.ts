// Every ServiceEntry resolution mode over real sockets, with a real DNS server on loopback, and
// host precedence (exact beats wildcard, longer wildcard beats shorter).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { startHttpUpstream, type EchoBody, type HttpUpstream } from '../helpers/upstream.ts';

const A = (address: string, ttl = 300) => ({ type: 'A' as const, address, ttl });

describe('resolution modes and host precedence', () => {
  let dns: DnsServer;
  let wp: InProcess;
  const ups: Record<string, HttpUpstream> = {};
  let second: ReturnType<typeof createServer>;
  let secondHits = 0;

  before(async () => {
    for (const n of ['dns', 'drr', 'eps', 'none', 'dyn', 'wild', 'wildb', 'exact', 'rr']) ups[n] = await startHttpUpstream({ name: n });
    // A second server on 127.0.0.2 with the same port as ups.rr, for DNS round-robin.
    second = createServer((_req, res) => { secondHits++; res.end('{"upstream":"rr2"}'); });
    await new Promise<void>((r) => second.listen(ups.rr!.port, '127.0.0.2', r));
    dns = await startDnsServer({
      records: {
        'dns.test': [A('127.0.0.1', 2)], 'drr.test': [A('127.0.0.1')], 'backend.test': [A('127.0.0.1')], 'none.test': [A('127.0.0.1')],
        'a.dyn.test': [A('127.0.0.1')], 'rr.test': [A('127.0.0.1'), A('127.0.0.2')],
      },
    });
    const port = (n: string) => ups[n]!.port;
    wp = await startInProcess(WAYPOINT_YAML
      + serviceEntry('dns', `hosts: [dns.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port('dns')}}]\nresolution: DNS`)
      + serviceEntry('drr', `hosts: [drr.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port('drr')}}]\nresolution: DNS_ROUND_ROBIN`)
      + serviceEntry('eps', `hosts: [api.eps.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port('eps')}}]\nresolution: DNS\nendpoints: [{address: backend.test}]`)
      + serviceEntry('none', `hosts: [none.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port('none')}}]\nresolution: NONE`)
      + serviceEntry('dyn', `hosts: ["*.dyn.test"]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port('dyn')}}]\nresolution: DYNAMIC_DNS`)
      + serviceEntry('rr', `hosts: [rr.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port('rr')}}]\nresolution: DNS`)
      + serviceEntry('wild', `hosts: ["*.wild.test"]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port('wild')}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`)
      + serviceEntry('wildb', `hosts: ["*.b.wild.test"]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port('wildb')}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`)
      + serviceEntry('exact', `hosts: [exact.b.wild.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port('exact')}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`),
    // The test DNS answers loopback addresses, which the SSRF guard refuses unless allowed.
    { dnsServers: [`127.0.0.1:${dns.port}`], dialPolicy: { allowCidrs: ['127.0.0.0/8'] } });
  });
  after(async () => {
    await wp?.close();
    await dns?.close();
    for (const u of Object.values(ups)) await u.close();
    second?.close();
  });

  const via = async (url: string) => {
    const r = await curl(['-x', wp.proxyUrl, url]);
    assert.equal(r.status, 200, `${url}: ${r.stdout} ${r.stderr}`);
    return JSON.parse(r.stdout) as EchoBody;
  };

  test('DNS resolves the host and caches the answer for its TTL', async () => {
    dns.clearQueries();
    for (let i = 0; i < 3; i++) assert.equal((await via('http://dns.test/')).upstream, 'dns');
    assert.equal(dns.countQueries('dns.test', 'A'), 1);
    await sleep(2300); // TTL is 2 s
    await via('http://dns.test/');
    await sleep(100);
    assert.equal(dns.countQueries('dns.test', 'A'), 2);
  });

  test('DNS_ROUND_ROBIN resolves the host like DNS', async () => {
    assert.equal((await via('http://drr.test/')).upstream, 'drr');
  });

  test('DNS with endpoints resolves the endpoint address, not the host', async () => {
    dns.clearQueries();
    assert.equal((await via('http://api.eps.test/')).upstream, 'eps');
    assert.equal(dns.countQueries('backend.test', 'A'), 1);
    assert.equal(dns.countQueries('api.eps.test', 'A'), 0);
  });

  test('DNS spreads requests across the resolved addresses', async () => {
    ups.rr!.resetStats();
    secondHits = 0;
    for (let i = 0; i < 6; i++) await curl(['-x', wp.proxyUrl, 'http://rr.test/']);
    assert.equal(ups.rr!.stats.requests, 3);
    assert.equal(secondHits, 3);
  });

  test('NONE dials the requested host at the targetPort', async () => {
    assert.equal((await via('http://none.test/')).upstream, 'none');
    const rec = await wp.nextRecord((r) => r.authority === 'none.test');
    assert.equal(rec.upstreamHost, `127.0.0.1:${ups.none!.port}`);
  });

  test('DYNAMIC_DNS resolves each requested subdomain of a wildcard', async () => {
    assert.equal((await via('http://a.dyn.test/')).upstream, 'dyn');
    const r = await curl(['-x', wp.proxyUrl, 'http://b.dyn.test/']);
    assert.equal(r.status, 503); // b.dyn.test has no DNS record: DF, not a fallback
    const rec = await wp.nextRecord((x) => x.authority === 'b.dyn.test');
    assert.equal(rec.responseFlags, 'DF');
    assert.equal(rec.upstreamCluster, 'inbound-vip|80|http|*.dyn.test');
  });

  test('exact host beats wildcard, and the longest wildcard wins', async () => {
    assert.equal((await via('http://x.wild.test/')).upstream, 'wild');
    assert.equal((await via('http://x.b.wild.test/')).upstream, 'wildb');
    assert.equal((await via('http://exact.b.wild.test/')).upstream, 'exact');
    assert.equal((await via('http://deep.exact.b.wild.test/')).upstream, 'wildb');
    assert.equal((await via('http://EXACT.B.Wild.test/')).upstream, 'exact');
    const r = await curl(['-x', wp.proxyUrl, 'http://wild.test/']);
    assert.equal(r.status, 502, 'a wildcard does not cover its own apex');
  });
});
