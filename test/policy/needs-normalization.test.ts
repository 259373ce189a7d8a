// needsNormalization(): the listener's fast path and `egressway check` both skip normalizePath() only
// when it could not change the path under the meshConfig pathNormalization mode in force.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { needsNormalization, normalizePath, type PathNormalization } from '../../src/policy/normalize-path.ts';

const MODES: PathNormalization[] = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];
const PATHS = ['/a/b?x=1', '/%61dmin', '/./admin', '/a/../b', '//admin', '/a//b?c=//d', '/%2Fadmin', '/a\\b', '/plain', '/a%00b'];

test('whenever it says no, normalizePath would have returned the path unchanged', () => {
  for (const mode of MODES) {
    for (const p of PATHS) {
      if (needsNormalization(p, mode)) continue;
      assert.deepEqual(normalizePath(p, mode), { ok: true, path: p }, `${mode} ${p}`);
    }
  }
});

test('regression: double slashes need normalising under the merging modes only (meshConfig was ignored)', () => {
  assert.equal(needsNormalization('//admin', 'BASE'), false);
  assert.equal(needsNormalization('//admin', 'MERGE_SLASHES'), true);
  assert.deepEqual(normalizePath('//admin', 'MERGE_SLASHES'), { ok: true, path: '/admin' });
  assert.deepEqual(normalizePath('/%2Fadmin', 'DECODE_AND_MERGE_SLASHES'), { ok: true, path: '/admin' });
  assert.equal(needsNormalization('/%61dmin', 'NONE'), false, 'NONE leaves every path as sent');
});
