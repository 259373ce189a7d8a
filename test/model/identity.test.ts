// Peer identities from certificate SANs. Envoy's principal is the URI SAN whatever its path, and Istio
// matches `principals` as "spiffe://" + value, so a SPIFFE ID that is not Istio-shaped is still a principal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { identityFromSan, parseAnySpiffe, parseSpiffe } from '../../src/model/identity.ts';

test('an Istio-shaped SPIFFE ID gives namespace and service account', () => {
  assert.deepEqual(identityFromSan('DNS:x.test, URI:spiffe://cluster.local/ns/shop/sa/cart'), {
    uri: 'spiffe://cluster.local/ns/shop/sa/cart', principal: 'cluster.local/ns/shop/sa/cart', trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'cart',
  });
});

test('regression: a SPIFFE ID of another shape is the peer principal (it was dropped, so policies naming it never matched)', () => {
  const id = identityFromSan('URI:spiffe://example.org/batch/nightly');
  assert.equal(id?.principal, 'example.org/batch/nightly');
  assert.equal(id?.trustDomain, 'example.org');
  assert.equal(id?.namespace, '');
  assert.equal(parseSpiffe('spiffe://example.org/batch/nightly'), undefined, 'parseSpiffe stays strict (the agent checks waypoint IDs with it)');
});

test('an Istio-shaped URI SAN wins over another SPIFFE URI; no SPIFFE URI is no identity', () => {
  assert.equal(identityFromSan('URI:spiffe://example.org/x, URI:spiffe://cluster.local/ns/a/sa/b')?.principal, 'cluster.local/ns/a/sa/b');
  assert.equal(identityFromSan('URI:https://example.org/x, DNS:a.test'), undefined);
  assert.equal(parseAnySpiffe('spiffe://'), undefined);
  assert.equal(parseAnySpiffe('spiffe:///path'), undefined, 'a SPIFFE ID needs a trust domain');
});
