// host[:port] and absolute-form target parsing: what a proxy accepts, normalises and refuses.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatAuthority, parseAuthority, splitAbsolute } from '../../src/dataplane/authority.ts';

describe('parseAuthority', () => {
  const cases: [string | undefined, number, { host: string; port: number } | undefined][] = [
    ['httpbin.org', 80, { host: 'httpbin.org', port: 80 }],
    ['httpbin.org:8080', 80, { host: 'httpbin.org', port: 8080 }],
    ['api.example.com:443', 0, { host: 'api.example.com', port: 443 }],
    ['httpbin.org', 0, { host: 'httpbin.org', port: 0 }], // CONNECT callers refuse port 0 themselves
    ['httpbin.org:', 80, { host: 'httpbin.org', port: 80 }], // an empty port means the default
    ['10.0.0.1:9000', 80, { host: '10.0.0.1', port: 9000 }],
    ['a_b-c.d:1', 80, { host: 'a_b-c.d', port: 1 }],
    ['zz.z09:9', 80, { host: 'zz.z09', port: 9 }], // the table's edges: z, 9, Z, A
    ['ZEBRA.AZ', 80, { host: 'zebra.az', port: 80 }],
    // upper case is folded, a trailing FQDN dot dropped
    ['HttpBin.ORG', 80, { host: 'httpbin.org', port: 80 }],
    ['HTTPBIN.ORG.:8443', 80, { host: 'httpbin.org', port: 8443 }],
    ['httpbin.org.', 80, { host: 'httpbin.org', port: 80 }],
    ['..', 80, { host: '.', port: 80 }], // one dot only is dropped
    ['.', 80, undefined],
    // IPv6 in brackets, returned without them
    ['[::1]', 80, { host: '::1', port: 80 }],
    ['[::1]:8080', 80, { host: '::1', port: 8080 }],
    ['[FE80::1]:443', 0, { host: 'fe80::1', port: 443 }],
    ['[::ffff:1.2.3.4]:', 80, { host: '::ffff:1.2.3.4', port: 80 }],
    ['[::1', 80, undefined],
    ['[::1]x', 80, undefined],
    ['[::1]:x', 80, undefined],
    ['[]', 80, undefined],
    ['[::g]', 80, undefined],
    ['::1', 80, undefined], // unbracketed IPv6
    ['[2001:db8::9]:9', 80, { host: '2001:db8::9', port: 9 }], // the table's edges: 9, a-f, A-F
    ['[ABCDEF::abcdef]', 80, { host: 'abcdef::abcdef', port: 80 }],
    ['[::1]:8/', 80, undefined], // a port char below "0" must not count as a digit
    ['[::1]:+80', 80, undefined],
    ['[.]', 80, undefined],
    // ports: 1-5 digits, 1..65535
    ['h:0', 80, undefined],
    ['h:65535', 80, { host: 'h', port: 65535 }],
    ['h:65536', 80, undefined],
    ['h:00080', 80, { host: 'h', port: 80 }],
    ['h:000080', 80, undefined],
    ['h:+80', 80, undefined],
    ['h: 80', 80, undefined],
    ['h:8a', 80, undefined],
    ['a:b:80', 80, undefined],
    // hosts: reg-name / IPv4 characters only; userinfo and empties refused
    [undefined, 80, undefined],
    ['', 80, undefined],
    [':80', 80, undefined],
    ['user@host', 80, undefined],
    ['a b', 80, undefined],
    ['a%20b', 80, undefined],
    ['host/path', 80, undefined],
    ['h\u00e9te', 80, undefined],
    // lower-cased as String#toLowerCase does: KELVIN SIGN becomes "k"; DOTTED I leaves a non-ASCII mark
    ['\u212Aelvin.test', 80, { host: 'kelvin.test', port: 80 }],
    ['\u0130nfo.test', 80, undefined],
  ];
  for (const [raw, dflt, want] of cases) {
    test(`${JSON.stringify(raw)} (default ${dflt})`, () => assert.deepEqual(parseAuthority(raw, dflt), want));
  }

  test('an already lower-case bare Host header is returned as the host itself', () => {
    const raw = 'api.example.com';
    assert.equal(parseAuthority(raw, 80)?.host, raw);
  });
});

describe('splitAbsolute', () => {
  const cases: [string, ReturnType<typeof splitAbsolute>][] = [
    ['http://httpbin.org/get?x=1', { scheme: 'http', authority: 'httpbin.org', path: '/get?x=1' }],
    ['HTTP://HttpBin.org:8080/a/b', { scheme: 'http', authority: 'HttpBin.org:8080', path: '/a/b' }],
    ['https://h/', { scheme: 'https', authority: 'h', path: '/' }],
    ['Ftp://h/x', { scheme: 'ftp', authority: 'h', path: '/x' }],
    // other schemes of 4 and 5 letters, and ones that only begin with http(s), keep their names
    ['ftps://h/http', { scheme: 'ftps', authority: 'h', path: '/http' }],
    ['rsync://h/https', { scheme: 'rsync', authority: 'h', path: '/https' }],
    ['httpsx://h/', { scheme: 'httpsx', authority: 'h', path: '/' }],
    ['httpx://h/', { scheme: 'httpx', authority: 'h', path: '/' }],
    ['http://h', { scheme: 'http', authority: 'h', path: '/' }],
    ['http://h?q=1', { scheme: 'http', authority: 'h', path: '/?q=1' }],
    ['http://h?q=1#frag', { scheme: 'http', authority: 'h', path: '/?q=1' }],
    ['http://h#frag', { scheme: 'http', authority: 'h', path: '/' }],
    ['http://h/p#frag/x?y', { scheme: 'http', authority: 'h', path: '/p' }],
    ['http://h/p?q=a/b#f', { scheme: 'http', authority: 'h', path: '/p?q=a/b' }],
    ['http://[::1]:8080/x', { scheme: 'http', authority: '[::1]:8080', path: '/x' }],
    ['http:///x', { scheme: 'http', authority: '', path: '/x' }],
    ['http://h/a@b', { scheme: 'http', authority: 'h', path: '/a@b' }], // "@" in the path is fine
    ['http://user@h/', undefined], // userinfo is refused
    ['http://u:p@h?x', undefined],
    ['/relative', undefined],
    ['://h/', undefined],
    ['http:/h/', undefined],
  ];
  for (const [target, want] of cases) {
    test(JSON.stringify(target), () => assert.deepEqual(splitAbsolute(target), want));
  }
});

test('formatAuthority brackets IPv6 hosts', () => {
  assert.equal(formatAuthority('h.test', 80), 'h.test:80');
  assert.equal(formatAuthority('::1', 443), '[::1]:443');
});
