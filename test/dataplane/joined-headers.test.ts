// The header view policy matches on (Envoy's): every value of a repeated field, joined with ','.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { joinedHeaders } from '../../src/dataplane/authorize.ts';

test('repeated fields join with "," whatever Node keeps in req.headers; names are lower-cased', () => {
  const h = joinedHeaders(['User-Agent', 'good', 'user-agent', 'evil', 'X-One', '1', 'Authorization', 'a', 'AUTHORIZATION', 'b']);
  assert.equal(h['user-agent'], 'good,evil');
  assert.equal(h.authorization, 'a,b');
  assert.equal(h['x-one'], '1');
  assert.equal(h['x-missing'], undefined);
});

test('HTTP/2 cookie crumbs join with "; " as Envoy\'s codec does', () => {
  assert.equal(joinedHeaders(['cookie', 'a=1', 'cookie', 'b=2']).cookie, 'a=1; b=2');
});

test('a header named like an Object.prototype key is only a header', () => {
  assert.equal(joinedHeaders(['constructor', 'x'])['constructor'], 'x');
  assert.equal(joinedHeaders([])['constructor'], undefined);
});
