// normalizePath: Istio's meshConfig pathNormalization (BASE by default, as Envoy's normalize_path),
// MERGE_SLASHES and DECODE_AND_MERGE_SLASHES, one row per rule. The policy matches what this
// returns, so a row that regresses is a way around a DENY.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizePath, type PathNormalization } from '../../src/policy/normalize-path.ts';

const BASE: [string, string][] = [
  // RFC 3986 §5.2.4 dot segments
  ['/a/b/../c', '/a/c'],
  ['/a/./b', '/a/b'],
  ['/a/b/..', '/a/'],
  ['/a/b/.', '/a/b/'],
  ['/..', '/'],
  ['/../../admin', '/admin'],
  ['/a/../../b', '/b'],
  ['/a/..b/c', '/a/..b/c'],
  ['/a/.b/c', '/a/.b/c'],
  ['/a/b..', '/a/b..'],
  // percent-encoded unreserved characters are decoded (then dot segments go)
  ['/%61dmin', '/admin'],
  ['/%41%5A%30%39%2D%2E%5F%7E', '/AZ09-._~'],
  ['/a/%2e%2e/b', '/b'],
  ['/a/.%2E/b', '/b'],
  ['/a/%2e/b', '/a/b'],
  // reserved and other characters stay encoded, in upper case; no double decoding
  ['/a%2fb', '/a%2Fb'],
  ['/a%5cb', '/a%5Cb'],
  ['/%25', '/%25'],
  ['/%252e%252e/admin', '/%252e%252e/admin'],
  ['/%3f', '/%3F'],
  ['/%20x', '/%20x'],
  ['/%zz', '/%zz'],
  // backslashes are slashes
  ['\\admin', '/admin'],
  ['/a\\..\\admin', '/admin'],
  // slashes are not merged in BASE
  ['//a///b', '//a///b'],
  // the query (and anything after #) is kept as sent, dot segments and all
  ['/a/../b?x=/../y&z=%61', '/b?x=/../y&z=%61'],
  ['/a/./b#frag/../x', '/a/b#frag/../x'],
  // always absolute, and made absolute before dot segments go (a relative ".." cannot keep a segment)
  ['', '/'],
  ['a/b', '/a/b'],
  ['/', '/'],
  ['a/..', '/'],
  ['a/b/../../../c', '/c'],
  ['..', '/'],
  // a path that is only a query or a fragment
  ['?/../a', '/?/../a'],
  ['#x', '/#x'],
];

for (const [raw, want] of BASE) {
  test(`BASE: ${JSON.stringify(raw)} -> ${JSON.stringify(want)}`, () => {
    assert.deepEqual(normalizePath(raw), { ok: true, path: want });
    assert.deepEqual(normalizePath(raw, 'BASE'), { ok: true, path: want }, 'BASE is the default');
  });
}

const OTHER: [PathNormalization, string, string][] = [
  ['NONE', '/a/../%61dmin//x', '/a/../%61dmin//x'],
  ['NONE', '/%00', '/%00'],
  ['MERGE_SLASHES', '//a///b/', '/a/b/'],
  ['MERGE_SLASHES', '/a/..//admin', '/admin'],
  ['MERGE_SLASHES', '/a%2F%2Fb', '/a%2F%2Fb'],
  ['MERGE_SLASHES', '/x?q=//', '/x?q=//'],
  ['DECODE_AND_MERGE_SLASHES', '/a%2Fb', '/a/b'],
  ['DECODE_AND_MERGE_SLASHES', '/a%2f%2Fb', '/a/b'],
  ['DECODE_AND_MERGE_SLASHES', '/a%5cb', '/a/b'],
  ['DECODE_AND_MERGE_SLASHES', '/x%2F..%2Fadmin', '/admin'],
  ['DECODE_AND_MERGE_SLASHES', '/x%5C..%5Cadmin', '/admin'],
];

for (const [mode, raw, want] of OTHER) {
  test(`${mode}: ${JSON.stringify(raw)} -> ${JSON.stringify(want)}`, () => {
    assert.deepEqual(normalizePath(raw, mode), { ok: true, path: want });
  });
}

test('%00 is refused in every mode but NONE, whatever its case or place', () => {
  for (const mode of ['BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const) {
    for (const raw of ['/%00', '/a%00b', '/a/%00/../b']) {
      assert.deepEqual(normalizePath(raw, mode), { ok: false, reason: 'path contains %00' }, `${mode} ${raw}`);
    }
  }
  assert.deepEqual(normalizePath('/a?x=%00'), { ok: true, path: '/a?x=%00' }, 'the query is not the path');
});

test('normalising twice changes nothing (a normalised path is a fixed point)', () => {
  for (const mode of ['BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const) {
    for (const [raw] of BASE) {
      const once = normalizePath(raw, mode);
      if (!once.ok) continue;
      assert.deepEqual(normalizePath(once.path, mode), once, `${mode} ${raw}`);
    }
  }
});
