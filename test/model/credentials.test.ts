// Istio's credentialName Secret rules (pilot/pkg/credentials/kube/secrets.go), shared by --secrets-dir
// and --kubernetes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { credentialMaterial } from '../../src/model/credentials.ts';

const ref = 'istio-egress/client';

test('generic cert/key win over tls.crt/tls.key; the -cacert companion wins over the Secret\'s own CA', () => {
  const main = { cert: 'C1', key: 'K1', 'tls.crt': 'C2', 'tls.key': 'K2', 'ca.crt': 'CA-own' };
  assert.deepEqual(credentialMaterial(ref, main, { cacert: 'CA-companion' }, true), { cert: 'C1', key: 'K1', ca: 'CA-companion' });
  assert.deepEqual(credentialMaterial(ref, main, null, true), { cert: 'C1', key: 'K1', ca: 'CA-own' });
  assert.deepEqual(credentialMaterial(ref, { 'tls.crt': 'C2', 'tls.key': 'K2', cacert: 'A', 'ca.crt': 'B' }, null, true), { cert: 'C2', key: 'K2', ca: 'A' });
});

test('SIMPLE needs only a CA, or none (system CAs); a Secret that exists nowhere is an error', () => {
  assert.deepEqual(credentialMaterial(ref, { 'ca.crt': 'CA' }, null, false), { ca: 'CA' });
  assert.deepEqual(credentialMaterial(ref, null, { 'ca.crt': 'CA' }, false), { ca: 'CA' });
  assert.deepEqual(credentialMaterial(ref, {}, null, false), {});
  assert.match(String(credentialMaterial(ref, null, null, false)), /Secret istio-egress\/client \(credentialName\) not found/);
});

test('MUTUAL: missing, empty or absent keys fail with what was found', () => {
  assert.match(String(credentialMaterial(ref, null, { 'ca.crt': 'CA' }, true)), /not found/);
  assert.match(String(credentialMaterial(ref, { 'tls.crt': '', 'tls.key': '' }, null, true)), /found keys "tls.crt" and "tls.key", but they were empty/);
  assert.match(String(credentialMaterial(ref, { a: '1', b: '2', c: '3', d: '4' }, null, true)), /found: a, b, c, and 1 more$/);
  assert.match(String(credentialMaterial(ref, undefined, undefined, true)), /not read from the API server yet/);
});
