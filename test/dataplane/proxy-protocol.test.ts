// The PROXY v2 parser on bytes built here by hand (haproxy proxy-protocol.txt §2.2), including every
// way ztunnel's header could be malformed; plus properties: no input throws, a header built from any
// addresses and TLVs reads back as built, and every strict prefix of it asks for more bytes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { formatIpv6, MAX_HEADER, parseProxyHeader, type ProxyHeaderError, type ProxyParse } from '../../src/dataplane/proxy-protocol.ts';

const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const CART = 'spiffe://cluster.local/ns/shop/sa/cart';

function tlv(type: number, value: string | Uint8Array): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value);
  return Buffer.concat([Buffer.from([type, v.length >> 8, v.length & 0xff]), v]);
}

interface Build {
  verCmd?: number;
  family?: number;
  addrs?: Buffer;
  tlvs?: Buffer[];
  /** Overrides the length field. */
  len?: number;
}

/** 127.0.0.9:40000 -> 240.240.0.1:80 over TCP4 unless told otherwise. */
function header(b: Build = {}): Buffer {
  const addrs = b.addrs ?? Buffer.from([127, 0, 0, 9, 240, 240, 0, 1, 0x9c, 0x40, 0, 80]);
  const body = Buffer.concat([addrs, ...(b.tlvs ?? [])]);
  const len = b.len ?? body.length;
  return Buffer.concat([Buffer.from([...SIG, b.verCmd ?? 0x21, b.family ?? 0x11, len >> 8, len & 0xff]), body]);
}

function v6addrs(src: number[], dst: number[], sport: number, dport: number): Buffer {
  return Buffer.from([...src, ...dst, sport >> 8, sport & 0xff, dport >> 8, dport & 0xff]);
}

function ok(r: ProxyParse) {
  assert.equal(r.kind, 'header', r.kind === 'error' ? `${r.code}: ${r.message}` : r.kind);
  return (r as Extract<ProxyParse, { kind: 'header' }>).header;
}

function err(r: ProxyParse, code: ProxyHeaderError, message?: RegExp): void {
  assert.equal(r.kind, 'error', `expected ${code}, got ${r.kind}`);
  const e = r as Extract<ProxyParse, { kind: 'error' }>;
  assert.equal(e.code, code, e.message);
  if (message) assert.match(e.message, message);
}

describe('parseProxyHeader: what ztunnel sends', () => {
  test('TCP4 with the peer identity: addresses, identity, and where the client data starts', () => {
    const h = header({ tlvs: [tlv(0xd0, CART)] });
    const r = ok(parseProxyHeader(Buffer.concat([h, Buffer.from('GET / HTTP/1.1\r\n')])));
    assert.deepEqual(r.source, { ip: '127.0.0.9', port: 40000 });
    assert.deepEqual(r.destination, { ip: '240.240.0.1', port: 80 });
    assert.equal(r.identity?.principal, 'cluster.local/ns/shop/sa/cart');
    assert.equal(r.identity?.namespace, 'shop');
    assert.equal(r.hostname, undefined);
    assert.equal(r.length, h.length);
  });

  test('TLV 0xD1 carries the service hostname (lower-cased); other TLVs are skipped', () => {
    const r = ok(parseProxyHeader(header({ tlvs: [tlv(0x04, 'noop'), tlv(0xd0, CART), tlv(0xd1, 'API.Test'), tlv(0x01, 'h2')] })));
    assert.equal(r.hostname, 'api.test');
    assert.equal(r.identity?.uri, CART);
  });

  test('TCP6, and an IPv4-mapped source given as IPv4', () => {
    const loop6 = [...Array(15).fill(0), 1];
    const mapped = [...Array(10).fill(0), 0xff, 0xff, 10, 1, 2, 3];
    const r = ok(parseProxyHeader(header({ family: 0x21, addrs: v6addrs(mapped, loop6, 1, 443) })));
    assert.deepEqual(r.source, { ip: '10.1.2.3', port: 1 });
    assert.deepEqual(r.destination, { ip: '::1', port: 443 });
  });

  test('no TLV at all: no identity (the tunnel is not mutual TLS)', () => {
    assert.equal(ok(parseProxyHeader(header())).identity, undefined);
  });

  test('a header arriving one byte at a time is incomplete until its last byte', () => {
    const h = header({ tlvs: [tlv(0xd0, CART)] });
    for (let i = 0; i < h.length; i++) assert.equal(parseProxyHeader(h.subarray(0, i)).kind, 'incomplete', `at ${i} bytes`);
    ok(parseProxyHeader(h));
  });
});

describe('parseProxyHeader: refusals', () => {
  const cases: [string, Buffer, ProxyHeaderError, RegExp?][] = [
    ['an HTTP request (no header)', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'bad_signature', /474554/],
    ['a wrong signature byte', (() => { const h = header(); h[7] = 0x52; return h; })(), 'bad_signature'],
    ['a v1 header', Buffer.from('PROXY TCP4 127.0.0.9 240.240.0.1 40000 80\r\n'), 'v1_header', /v1/],
    ['version 1 in the binary header', header({ verCmd: 0x11 }), 'bad_version', /version 1/],
    ['version 3', header({ verCmd: 0x31 }), 'bad_version'],
    ['LOCAL', header({ verCmd: 0x20, family: 0x00, addrs: Buffer.alloc(0) }), 'local_command', /LOCAL/],
    ['command 2', header({ verCmd: 0x22 }), 'bad_command'],
    ['UDP over IPv4', header({ family: 0x12 }), 'unsupported_family', /0x12/],
    ['UNSPEC with PROXY', header({ family: 0x00 }), 'unsupported_family'],
    ['UNIX stream', header({ family: 0x31 }), 'unsupported_family'],
    ['a length too short for IPv4 addresses', header({ len: 11 }), 'bad_address', /12-byte/],
    ['IPv6 family with IPv4-sized addresses', header({ family: 0x21 }), 'bad_address', /36-byte/],
    ['destination port 0', header({ addrs: Buffer.from([127, 0, 0, 9, 240, 240, 0, 1, 0x9c, 0x40, 0, 0]) }), 'bad_address', /port is 0/],
    ['a length over the bound', header({ len: MAX_HEADER }), 'too_long', /4112 bytes/],
    ['a TLV longer than the header', header({ tlvs: [Buffer.from([0xd0, 0x01, 0x00]), Buffer.from(CART)] }), 'bad_tlv', /claims 256 bytes but only 38 remain/],
    ['a cut-off TLV header', header({ tlvs: [tlv(0xd0, CART), Buffer.from([0xd1, 0x00])] }), 'bad_tlv', /2 stray byte/],
    ['two identities', header({ tlvs: [tlv(0xd0, CART), tlv(0xd0, 'spiffe://cluster.local/ns/shop/sa/web')] }), 'duplicate_tlv'],
    ['two hostnames', header({ tlvs: [tlv(0xd1, 'a.test'), tlv(0xd1, 'b.test')] }), 'duplicate_tlv'],
    ['an identity that is not a SPIFFE ID', header({ tlvs: [tlv(0xd0, 'cluster.local/ns/shop/sa/cart')] }), 'bad_identity', /not spiffe:/],
    ['a SPIFFE ID of another shape', header({ tlvs: [tlv(0xd0, 'spiffe://cluster.local/workload/cart')] }), 'bad_identity'],
    ['an identity with a newline', header({ tlvs: [tlv(0xd0, `${CART}\nx`)] }), 'bad_identity', /\\u000a/],
    ['an identity with bytes outside ASCII', header({ tlvs: [tlv(0xd0, Buffer.concat([Buffer.from(CART), Buffer.from([0xff, 0xfe])]))] }), 'bad_identity', /cart\\u00ff\\u00fe/],
    ['an empty identity', header({ tlvs: [tlv(0xd0, '')] }), 'bad_identity'],
    ['a hostname with a space', header({ tlvs: [tlv(0xd1, 'api .test')] }), 'bad_hostname'],
    ['a wildcard hostname', header({ tlvs: [tlv(0xd1, '*.test')] }), 'bad_hostname'],
    ['a hostname with a port', header({ tlvs: [tlv(0xd1, 'api.test:80')] }), 'bad_hostname'],
    ['an empty hostname', header({ tlvs: [tlv(0xd1, '')] }), 'bad_hostname'],
  ];
  for (const [name, bytes, code, message] of cases) {
    test(name, () => err(parseProxyHeader(bytes), code, message));
  }

  test('the signature is checked on the first differing byte, without waiting for 16 bytes', () => {
    err(parseProxyHeader(Buffer.from('G')), 'bad_signature');
    err(parseProxyHeader(Buffer.from([0x0d, 0x0a, 0x0d, 0x0b])), 'bad_signature');
    assert.equal(parseProxyHeader(Buffer.from('PROX')).kind, 'incomplete'); // could still be v1
    err(parseProxyHeader(Buffer.from('PROXX')), 'bad_signature');
  });

  test('the length bound is checked before the body arrives', () => {
    err(parseProxyHeader(header({ len: 0xffff }).subarray(0, 16)), 'too_long');
  });
});

describe('parseProxyHeader properties', () => {
  test('any bytes: a header, a typed error or "incomplete", never a throw', () => {
    const codes = new Set<string>(['bad_signature', 'v1_header', 'bad_version', 'local_command', 'bad_command', 'unsupported_family', 'bad_address', 'too_long', 'bad_tlv', 'duplicate_tlv', 'bad_identity', 'bad_hostname']);
    // Half the inputs start with the signature, so the parser gets past it.
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((b) => Uint8Array.from([...SIG, ...b])));
    fc.assert(fc.property(bytes, (b) => {
      const r = parseProxyHeader(b);
      if (r.kind === 'error') return codes.has(r.code) && r.message.length > 0 && !r.message.includes('\n');
      if (r.kind === 'header') return r.header.length <= b.length;
      return r.kind === 'incomplete';
    }), { numRuns: 5000 });
  });

  test('a header built from any addresses and TLVs reads back as built', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    const arb = fc.record({
      v6: fc.boolean(), src: fc.uint8Array({ minLength: 16, maxLength: 16 }), dst: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      sport: fc.integer({ min: 0, max: 65535 }), dport: fc.integer({ min: 1, max: 65535 }),
      ns: fc.option(label), host: fc.option(fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'))),
      other: fc.array(fc.tuple(fc.integer({ min: 0, max: 0xcf }), fc.uint8Array({ maxLength: 20 })), { maxLength: 3 }),
      tail: fc.uint8Array({ maxLength: 10 }),
    });
    fc.assert(fc.property(arb, (a) => {
      const addrs = a.v6 ? v6addrs([...a.src], [...a.dst], a.sport, a.dport)
        : Buffer.from([...a.src.subarray(0, 4), ...a.dst.subarray(0, 4), a.sport >> 8, a.sport & 0xff, a.dport >> 8, a.dport & 0xff]);
      const tlvs = a.other.map(([t, v]) => tlv(t, v));
      if (a.ns !== null) tlvs.push(tlv(0xd0, `spiffe://td/ns/${a.ns}/sa/x`));
      if (a.host !== null) tlvs.push(tlv(0xd1, a.host));
      const h = header({ family: a.v6 ? 0x21 : 0x11, addrs, tlvs });
      const r = ok(parseProxyHeader(Buffer.concat([h, a.tail])));
      assert.equal(r.length, h.length);
      assert.equal(r.source.port, a.sport);
      assert.equal(r.destination.port, a.dport);
      assert.equal(r.identity?.namespace, a.ns ?? undefined);
      assert.equal(r.hostname, a.host ?? undefined);
      if (!a.v6) assert.equal(r.destination.ip, [...a.dst.subarray(0, 4)].join('.'));
      for (let i = 0; i < h.length; i += 7) assert.equal(parseProxyHeader(h.subarray(0, i)).kind, 'incomplete');
    }), { numRuns: 1000 });
  });

  test('formatIpv6 agrees with the WHATWG URL serializer (RFC 5952), mapped addresses aside', () => {
    // Zero-heavy groups, so that runs of zeros (the :: choice) are common.
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (g) => {
      const b = Buffer.alloc(16);
      g.forEach((v, i) => b.writeUInt16BE(v, i * 2));
      const mapped = g.slice(0, 5).every((v) => v === 0) && g[5] === 0xffff;
      const url = new URL(`http://[${g.map((v) => v.toString(16)).join(':')}]/`).hostname.slice(1, -1);
      assert.equal(formatIpv6(b), mapped ? `${b[12]}.${b[13]}.${b[14]}.${b[15]}` : url);
    }), { numRuns: 3000 });
  });
});
