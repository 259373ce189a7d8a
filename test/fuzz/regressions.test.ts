// Counterexamples the properties of test/fuzz/ found, kept as explicit cases: each failed before its fix.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalizePath } from '../../src/policy/normalize-path.ts';

describe('normalizePath: counterexamples from test/fuzz/normalize-path.test.ts', () => {
  test('a stray "%" before an escape cannot leave an encoded dot behind ("%2%65" is ".")', () => {
    assert.deepEqual(normalizePath('%2%65'), { ok: true, path: '/' });
    assert.deepEqual(normalizePath('/a/%2%65/b'), { ok: true, path: '/a/b' });
  });
  test('"%%32%65%%32%65" is a ".." segment, so it cannot dodge a DENY on /admin', () => {
    assert.deepEqual(normalizePath('/x/%%32%65%%32%65/admin'), { ok: true, path: '/admin' });
    assert.deepEqual(normalizePath('/x/%%32%65%%32%65/admin', 'MERGE_SLASHES'), { ok: true, path: '/admin' });
  });
  test('an escaped NUL made of escapes ("%%30%30") is refused like "%00"', () => {
    assert.equal(normalizePath('/a%%30%30').ok, false);
  });
  test('an encoded slash made of escapes ("%%32%66") is decoded under DECODE_AND_MERGE_SLASHES', () => {
    assert.deepEqual(normalizePath('/a/%%32%66b', 'DECODE_AND_MERGE_SLASHES'), { ok: true, path: '/a/b' });
  });
  test('a relative path loses its dot segments as an absolute one does ("a/../b" is "/b")', () => {
    assert.deepEqual(normalizePath('a/../b'), { ok: true, path: '/b' });
  });
});
