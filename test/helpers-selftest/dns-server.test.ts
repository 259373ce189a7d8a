import assert from 'node:assert/strict';
import * as dnsPacket from 'dns-packet';
import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { startDnsServer } from '../helpers/dns-server.ts';
import type { DnsServer } from '../helpers/dns-server.ts';
import { closeAfter } from '../helpers/lifecycle.ts';

/** Node's c-ares resolver, aimed only at the test server; short timeout so 'drop' fails fast. */
function resolverFor(server: DnsServer): Resolver {
  const resolver = new Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([server.address]);
  return resolver;
}

describe('startDnsServer', () => {
  test('answers A records with their TTL to a Node Resolver', async (t) => {
    const dns = closeAfter(t, await startDnsServer({
      records: { 'httpbin.test': [{ type: 'A', address: '127.0.0.1', ttl: 5 }] },
    }));
    const answers = await resolverFor(dns).resolve4('httpbin.test', { ttl: true });
    assert.deepEqual(answers, [{ address: '127.0.0.1', ttl: 5 }]);
    assert.deepEqual(dns.queries, [{ name: 'httpbin.test', type: 'A', transport: 'udp' }]);
  });

  test('answers AAAA, matches names case-insensitively and applies the default TTL', async (t) => {
    const records = { 'v6.test': [{ type: 'AAAA', address: '::1' }] } as const;
    const dns = closeAfter(t, await startDnsServer({ defaultTtl: 7, records }));
    assert.deepEqual(await resolverFor(dns).resolve6('V6.Test', { ttl: true }), [{ address: '::1', ttl: 7 }]);
  });

  test('unknown names are NXDOMAIN; known names without that type are empty', async (t) => {
    const records = { 'v4only.test': [{ type: 'A', address: '127.0.0.1' }] } as const;
    const dns = closeAfter(t, await startDnsServer({ records }));
    const resolver = resolverFor(dns);
    await assert.rejects(resolver.resolve4('missing.test'), { code: 'ENOTFOUND' });
    await assert.rejects(resolver.resolve6('v4only.test'), { code: 'ENODATA' });
  });

  test('set() changes answers at run time and the query log counts each question', async (t) => {
    const dns = closeAfter(t, await startDnsServer());
    const resolver = resolverFor(dns);
    dns.set('moving.test', [{ type: 'A', address: '127.0.0.2', ttl: 1 }]);
    assert.deepEqual(await resolver.resolve4('moving.test'), ['127.0.0.2']);
    dns.set('moving.test', [{ type: 'A', address: '127.0.0.3' }, { type: 'A', address: '127.0.0.4' }]);
    assert.deepEqual((await resolver.resolve4('moving.test')).sort(), ['127.0.0.3', '127.0.0.4']);
    dns.delete('moving.test');
    await assert.rejects(resolver.resolve4('moving.test'), { code: 'ENOTFOUND' });
    assert.equal(dns.countQueries('moving.test'), 3);
    assert.equal(dns.countQueries('moving.test', 'AAAA'), 0);
    dns.clearQueries();
    assert.equal(dns.queries.length, 0);
  });

  test('follows CNAMEs within its zone', async (t) => {
    const dns = closeAfter(t, await startDnsServer({
      records: {
        'alias.test': [{ type: 'CNAME', target: 'real.test' }],
        'real.test': [{ type: 'A', address: '127.0.0.9', ttl: 3 }],
      },
    }));
    assert.deepEqual(await resolverFor(dns).resolve4('alias.test', { ttl: true }), [{ address: '127.0.0.9', ttl: 3 }]);
  });

  test('fail() produces SERVFAIL, REFUSED or silence', async (t) => {
    const dns = closeAfter(t, await startDnsServer());
    const resolver = resolverFor(dns);
    dns.fail('broken.test', 'SERVFAIL');
    await assert.rejects(resolver.resolve4('broken.test'), { code: 'ESERVFAIL' });
    dns.fail('broken.test', 'REFUSED');
    await assert.rejects(resolver.resolve4('broken.test'), { code: 'EREFUSED' });
    dns.fail('broken.test', 'drop');
    await assert.rejects(resolver.resolve4('broken.test'), { code: 'ETIMEOUT' });
  });

  test('serves the same zone over TCP on the same port when asked', async (t) => {
    const records = { 'tcp.test': [{ type: 'A', address: '127.0.0.1' }] } as const;
    const dns = closeAfter(t, await startDnsServer({ tcp: true, records }));
    const query = dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'A', name: 'tcp.test' }] });
    const framed = Buffer.concat([Buffer.from([query.length >> 8, query.length & 0xff]), query]);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect({ host: dns.host, port: dns.port }, () => socket.write(framed));
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
          socket.destroy();
          resolve(received.subarray(2));
        }
      });
      socket.on('error', reject);
    });
    const decoded = dnsPacket.decode(reply);
    assert.equal(decoded.id, 7);
    assert.deepEqual(decoded.answers?.map((a) => (a.type === 'A' ? a.data : null)), ['127.0.0.1']);
    assert.deepEqual(dns.queries, [{ name: 'tcp.test', type: 'A', transport: 'tcp' }]);
  });
});
