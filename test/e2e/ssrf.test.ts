// The SSRF guard on the address actually dialled: loopback and metadata addresses from DNS are
// refused, private ranges from request-supplied hosts are refused, registry IPs are trusted, and
// --allow-cidr / --deny-cidr override. Refused addresses are never dialled, so no traffic leaves.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess, loopbackEntry } from '../helpers/inprocess.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';

const A = (address: string) => ({ type: 'A' as const, address, ttl: 60 });

describe('SSRF guard', () => {
  let dns: DnsServer;
  let up: HttpUpstream;
  const yaml = (port: number) => WAYPOINT_YAML
    + serviceEntry('wild', `hosts: ["*.wild.test"]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]\nresolution: DYNAMIC_DNS`)
    + serviceEntry('named', `hosts: [named.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]\nresolution: DNS`)
    + loopbackEntry('static', port);

  before(async () => {
    up = await startHttpUpstream();
    dns = await startDnsServer({ records: {
      'localhost.wild.test': [A('127.0.0.1')], 'metadata.wild.test': [A('169.254.169.254')],
      'intranet.wild.test': [A('10.1.2.3')], 'named.test': [A('127.0.0.1')],
    } });
  });
  after(async () => {
    await dns?.close();
    await up?.close();
  });

  const start = (dialPolicy = {}) => startInProcess(yaml(up.port), { dnsServers: [`127.0.0.1:${dns.port}`], dialPolicy });
  const expectRefused = async (wp: InProcess, url: string, rule: RegExp) => {
    const r = await curl(['-x', wp.proxyUrl, url]);
    assert.equal(r.status, 403, r.stdout);
    assert.match(r.stdout, rule);
    const rec = await wp.nextRecord((x) => x.authority === new URL(url).host);
    assert.equal(rec.responseCodeDetails, 'egress_denied{ssrf_guard}');
    assert.equal(rec.upstreamHost, '', 'nothing was dialled');
  };

  test('a wildcard host that resolves to loopback, link-local or a private range is refused, naming address and rule', async () => {
    const wp = await start();
    try {
      up.resetStats();
      await expectRefused(wp, 'http://localhost.wild.test/', /127\.0\.0\.1, a loopback address.*--allow-cidr/);
      await expectRefused(wp, 'http://metadata.wild.test/', /169\.254\.169\.254, a link-local address/);
      await expectRefused(wp, 'http://intranet.wild.test/', /10\.1\.2\.3, a private address/);
      await expectRefused(wp, 'http://named.test/', /127\.0\.0\.1, a loopback address/);
      assert.equal(up.stats.requests, 0);
      const r = await curl(['-x', wp.proxyUrl, 'http://static.test/']);
      assert.equal(r.status, 200, 'STATIC endpoints a ServiceEntry names are trusted');
    } finally {
      await wp.close();
    }
  });

  test('--allow-cidr admits the same address, and --deny-cidr refuses even STATIC endpoints', async () => {
    const wp = await start({ allowCidrs: ['127.0.0.1/32'] });
    try {
      const r = await curl(['-x', wp.proxyUrl, 'http://localhost.wild.test/']);
      assert.equal(r.status, 200, r.stdout);
      await expectRefused(wp, 'http://metadata.wild.test/', /link-local/);
    } finally {
      await wp.close();
    }
    const denied = await start({ denyCidrs: ['127.0.0.0/8'] });
    try {
      await expectRefused(denied, 'http://static.test/', /in --deny-cidr/);
    } finally {
      await denied.close();
    }
  });
});
