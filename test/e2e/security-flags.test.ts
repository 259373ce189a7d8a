// The security flags through the real CLI (issue 11: the CLI could drop --deny-cidr and npm test
// stayed green). Each flag is shown to change an answer: the same request gets another status, with
// the SSRF guard's or the router's details, from a waypoint started without the flag.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { startWaypoint, type LogLine, type Waypoint } from '../helpers/waypoint.ts';

const A = (address: string) => ({ type: 'A' as const, address, ttl: 300 });

describe('security flags (real CLI)', () => {
  let up: HttpUpstream;
  let third: Server;
  let thirdHits = 0;
  let thirdPort = 0;
  let dns: DnsServer;
  let dir: TmpDir;
  let flagged: Waypoint;
  let plain: Waypoint;
  let meshAny: Waypoint;
  let flagBeatsMesh: Waypoint;

  before(async () => {
    up = await startHttpUpstream();
    // An upstream on another loopback address, for --deny-cidr 127.0.0.3/32 to refuse.
    third = createServer((_req, res) => { thirdHits++; res.end('third\n'); });
    await new Promise<void>((r) => third.listen(0, '127.0.0.3', r));
    thirdPort = (third.address() as { port: number }).port;
    dns = await startDnsServer({ records: { 'a.test': [A('127.0.0.1')], 'b.test': [A('127.0.0.2')], 'unknown.test': [A('127.0.0.1')] } });
    dir = await tmpDir();
    const http = (port: number) => `ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]`;
    await writeFile(join(dir.path, 'c.yaml'), WAYPOINT_YAML
      + serviceEntry('ok', `hosts: [ok.test]\n${http(up.port)}\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`)
      + serviceEntry('denied', `hosts: [denied.test]\n${http(thirdPort)}\nresolution: STATIC\nendpoints: [{address: 127.0.0.3}]`)
      + serviceEntry('a', `hosts: [a.test]\n${http(up.port)}\nresolution: DNS`)
      + serviceEntry('b', `hosts: [b.test]\n${http(up.port)}\nresolution: DNS`));
    await writeFile(join(dir.path, 'mesh-any.yaml'), 'outboundTrafficPolicy:\n  mode: ALLOW_ANY\n');
    const config = join(dir.path, 'c.yaml');
    const dnsFlag = ['--dns-server', dns.address];
    [flagged, plain, meshAny, flagBeatsMesh] = await Promise.all([
      startWaypoint({ configDir: config, args: [...dnsFlag, '--deny-cidr', '127.0.0.3/32', '--allow-cidr', '127.0.0.1/32', '--outbound-traffic-policy', 'ALLOW_ANY'] }),
      startWaypoint({ configDir: config, args: dnsFlag }),
      startWaypoint({ configDir: config, args: [...dnsFlag, '--allow-cidr', '127.0.0.1/32', '--mesh-config', join(dir.path, 'mesh-any.yaml')] }),
      startWaypoint({ configDir: config, args: [...dnsFlag, '--allow-cidr', '127.0.0.1/32', '--mesh-config', join(dir.path, 'mesh-any.yaml'), '--outbound-traffic-policy', 'REGISTRY_ONLY'] }),
    ]);
  });
  after(async () => {
    await Promise.all([flagged, plain, meshAny, flagBeatsMesh].map((w) => w?.close()));
    await up?.close();
    third?.close();
    await dns?.close();
    await dir?.close();
  });

  const get = (wp: Waypoint, url: string) => curl(['-s', '-D', '-', '-x', wp.proxyUrl, url]);
  const accessLog = (wp: Waypoint, authority: string) => wp.waitForLog((l: LogLine) => l.authority === authority && 'response_code' in l);

  test('the control: a ServiceEntry IP on loopback is trusted and served by both', async () => {
    for (const wp of [flagged, plain]) assert.equal((await get(wp, 'http://ok.test/')).status, 200);
  });

  test('--deny-cidr refuses a range even for a ServiceEntry\'s own IP, before dialling', async () => {
    const before = thirdHits;
    const r = await get(flagged, 'http://denied.test/');
    assert.equal(r.status, 403);
    assert.match(r.stdout, /x-egressway-details: egress_denied\{ssrf_guard\}/i);
    assert.match(r.stdout, /127\.0\.0\.3 \(for [^)]*\) is in --deny-cidr/);
    assert.equal(thirdHits, before, 'the denied upstream got nothing');
    const ok = await get(plain, 'http://denied.test/');
    assert.equal(ok.status, 200, 'without the flag the same entry is served');
    assert.equal(thirdHits, before + 1);
  });

  test('--allow-cidr exempts exactly its range from the DNS loopback rule', async () => {
    const allowed = await get(flagged, 'http://a.test/');
    assert.equal(allowed.status, 200, allowed.stdout);
    const refused = await get(plain, 'http://a.test/');
    assert.equal(refused.status, 403);
    assert.match(refused.stdout, /a\.test resolved to 127\.0\.0\.1, a loopback address.*pass --allow-cidr 127\.0\.0\.1\/32/);
    const outside = await get(flagged, 'http://b.test/');
    assert.equal(outside.status, 403, '127.0.0.2 is outside 127.0.0.1/32');
    assert.match(outside.stdout, /b\.test resolved to 127\.0\.0\.2, a loopback address/);
  });

  test('--outbound-traffic-policy ALLOW_ANY passes an unknown host through PassthroughCluster', async () => {
    const r = await get(flagged, `http://unknown.test:${up.port}/pass`);
    assert.equal(r.status, 200, r.stdout);
    const line = await accessLog(flagged, `unknown.test:${up.port}`);
    assert.equal(line.upstream_cluster, 'PassthroughCluster');
    const nr = await get(plain, `http://unknown.test:${up.port}/pass`);
    assert.equal(nr.status, 502, 'REGISTRY_ONLY (the default) refuses it');
    assert.match(nr.stdout, /x-egressway-flags: NR/i);
  });

  test('mesh-config outboundTrafficPolicy.mode ALLOW_ANY does the same; the flag wins over it', async () => {
    const r = await get(meshAny, `http://unknown.test:${up.port}/mesh`);
    assert.equal(r.status, 200, r.stdout);
    assert.equal((await accessLog(meshAny, `unknown.test:${up.port}`)).upstream_cluster, 'PassthroughCluster');
    const flagWins = await get(flagBeatsMesh, `http://unknown.test:${up.port}/mesh`);
    assert.equal(flagWins.status, 502);
    assert.match(flagWins.stdout, /x-egressway-flags: NR/i);
  });
});
