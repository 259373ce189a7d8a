// DialPolicy units: which dialled addresses are refused for which origin, and why. The verdict per
// address is memoised, so the same address is asked about under every origin and host here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCidr, DialPolicy } from '../../src/dataplane/ssrf.ts';

const rules = (p: DialPolicy, address: string) =>
  (['registry', 'dns', 'request'] as const).map((o) => p.check(address, o, 'h.test')?.rule ?? 'ok');

test('by origin: registry IPs trusted, DNS answers never special-use, request hosts never private', () => {
  const p = new DialPolicy();
  assert.deepEqual(rules(p, '93.184.216.34'), ['ok', 'ok', 'ok']);
  assert.deepEqual(rules(p, '127.0.0.1'), ['ok', 'loopback', 'loopback']);
  assert.deepEqual(rules(p, '169.254.169.254'), ['ok', 'link-local', 'link-local']);
  assert.deepEqual(rules(p, '0.0.0.0'), ['ok', 'unspecified', 'unspecified']);
  assert.deepEqual(rules(p, '10.1.2.3'), ['ok', 'ok', 'private']);
  assert.deepEqual(rules(p, '100.64.0.1'), ['ok', 'ok', 'cgnat']);
  assert.deepEqual(rules(p, '::1'), ['ok', 'loopback', 'loopback']);
  assert.deepEqual(rules(p, 'fe80::1'), ['ok', 'link-local', 'link-local']);
  assert.deepEqual(rules(p, 'fd00::1'), ['ok', 'ok', 'unique-local']);
  assert.deepEqual(rules(p, '2606:4700::1111'), ['ok', 'ok', 'ok']);
  // Every range by its edges (each rule's name is what the refusal says).
  assert.deepEqual(rules(p, '::'), ['ok', 'unspecified', 'unspecified']);
  assert.deepEqual(rules(p, '0.255.255.255'), ['ok', 'unspecified', 'unspecified']);
  assert.deepEqual(rules(p, '127.255.255.254'), ['ok', 'loopback', 'loopback']);
  assert.deepEqual(rules(p, '172.16.0.1'), ['ok', 'ok', 'private']);
  assert.deepEqual(rules(p, '172.31.255.255'), ['ok', 'ok', 'private']);
  assert.deepEqual(rules(p, '172.32.0.1'), ['ok', 'ok', 'ok']);
  assert.deepEqual(rules(p, '192.168.1.1'), ['ok', 'ok', 'private']);
  assert.deepEqual(rules(p, '192.169.0.1'), ['ok', 'ok', 'ok']);
  assert.deepEqual(rules(p, '100.127.255.255'), ['ok', 'ok', 'cgnat']);
  assert.deepEqual(rules(p, '100.128.0.1'), ['ok', 'ok', 'ok']);
  assert.deepEqual(rules(p, 'febf::1'), ['ok', 'link-local', 'link-local']);
  assert.deepEqual(rules(p, 'fc00::1'), ['ok', 'ok', 'unique-local']);
  // IPv4-mapped IPv6 is judged as the IPv4 address it carries.
  assert.deepEqual(rules(p, '::ffff:127.0.0.1'), ['ok', 'loopback', 'loopback']);
  assert.deepEqual(rules(p, '::ffff:10.0.0.1'), ['ok', 'ok', 'private']);
});

test('reasons name the host asked about, even for an address already judged', () => {
  const p = new DialPolicy();
  assert.equal(p.check('127.0.0.1', 'dns', 'a.test')?.reason,
    'a.test resolved to 127.0.0.1, a loopback address, which is never dialled for a DNS-resolved destination; if this is intended, pass --allow-cidr 127.0.0.1/32');
  assert.equal(p.check('127.0.0.1', 'dns', 'b.test')?.reason.startsWith('b.test resolved to 127.0.0.1'), true);
  assert.equal(p.check('::ffff:10.0.0.1', 'request', 'c.test')?.reason,
    'c.test resolved to 10.0.0.1, a private address, which is never dialled for a host taken from the request; if this is intended, pass --allow-cidr 10.0.0.1/32');
  assert.match(p.check('fd00::1', 'request', 'd.test')!.reason, /--allow-cidr fd00::1\/128$/);
});

test('--allow-cidr exempts, --deny-cidr refuses even registry IPs and wins over allow', () => {
  const p = new DialPolicy({ allowCidrs: ['10.0.0.0/8', '127.0.0.1'], denyCidrs: ['10.9.0.0/16', '203.0.113.7'] });
  assert.deepEqual(rules(p, '10.1.2.3'), ['ok', 'ok', 'ok']);
  assert.deepEqual(rules(p, '127.0.0.1'), ['ok', 'ok', 'ok']);
  assert.deepEqual(rules(p, '127.0.0.2'), ['ok', 'loopback', 'loopback']);
  assert.deepEqual(rules(p, '10.9.1.1'), ['deny-cidr', 'deny-cidr', 'deny-cidr']);
  assert.equal(p.check('203.0.113.7', 'registry', 'e.test')?.reason, '203.0.113.7 (for e.test) is in --deny-cidr');
});

test('checkCidr validates flag values', () => {
  assert.equal(checkCidr('10.0.0.0/8'), undefined);
  assert.equal(checkCidr('::1'), undefined);
  assert.equal(checkCidr('10.0.0.0/33'), '"10.0.0.0/33" has an invalid prefix length');
  assert.equal(checkCidr('nope/8'), '"nope/8" is not an IP or CIDR');
  assert.equal(checkCidr('10.0.0.0/24'), undefined);
  assert.equal(checkCidr('10.0.0.0/32'), undefined);
  assert.equal(checkCidr('10.0.0.0/0'), undefined);
  assert.equal(checkCidr('::/128'), undefined);
  assert.equal(checkCidr('::/129'), '"::/129" has an invalid prefix length');
  // Only plain decimal digits: Number() would also take these.
  for (const bits of ['1e1', '0x10', ' 8', '8 ', '+8', '']) assert.equal(checkCidr(`10.0.0.0/${bits}`), `"10.0.0.0/${bits}" has an invalid prefix length`, bits);
  assert.equal(checkCidr('10.0.0.0/8/9'), '"10.0.0.0/8/9" is not an IP or CIDR');
  assert.equal(checkCidr('/8'), '"/8" is not an IP or CIDR');
  assert.equal(checkCidr(''), '"" is not an IP or CIDR');
});
