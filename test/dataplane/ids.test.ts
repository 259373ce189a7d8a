// Request and trace IDs: format and uniqueness across pool refills.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomHex, rootTraceparent, uuid4 } from '../../src/dataplane/ids.ts';

test('uuid4 is an RFC 9562 version 4 UUID in lower case', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const u = uuid4();
    assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(u);
  }
  assert.equal(seen.size, 1000);
});

test('randomHex gives 2n lower-case hex digits, distinct across pool refills', () => {
  const seen = new Set<string>();
  // 64 KiB pool: 10 000 x 24 bytes wraps it several times, including a refill mid-request.
  for (let i = 0; i < 10_000; i++) {
    const n = [8, 16, 24][i % 3]!;
    const h = randomHex(n);
    assert.equal(h.length, 2 * n);
    assert.match(h, /^[0-9a-f]+$/);
    seen.add(h);
  }
  assert.equal(seen.size, 10_000);
});

test('rootTraceparent is a valid sampled W3C traceparent, distinct across pool refills', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const t = rootTraceparent();
    assert.match(t, /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-01$/);
    seen.add(t);
  }
  assert.equal(seen.size, 5000);
});

test('uuid4 strings stay intact after later IDs reuse the scratch buffer', () => {
  const a = uuid4();
  const copy = `${a}`;
  for (let i = 0; i < 100; i++) uuid4();
  assert.equal(a, copy);
  assert.equal(a.length, 36);
});
