// The CSR sent to istiod: a fresh P-256 key per request and one URI SAN, the SPIFFE ID, checked by
// openssl (a parser we did not write) and by node's X509 for the key.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { test } from 'node:test';
import { createKeyAndCsr } from '../../src/identity/csr.ts';

test('the CSR carries the SPIFFE ID as its URI SAN and is signed by the returned key', async () => {
  const id = 'spiffe://cluster.local/ns/istio-egress/sa/egress';
  const { key, csr } = await createKeyAndCsr(id);
  const text = execFileSync('openssl', ['req', '-noout', '-text', '-verify'], { input: csr, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
  assert.match(text, new RegExp(`URI:${id.replace(/[/.]/g, '\\$&')}`));
  assert.match(text, /ASN1 OID: prime256v1/);
  const csrKey = execFileSync('openssl', ['req', '-noout', '-pubkey'], { input: csr }).toString();
  const own = createPrivateKey(key);
  assert.equal(own.asymmetricKeyType, 'ec');
  const pub = execFileSync('openssl', ['pkey', '-pubout'], { input: key }).toString();
  assert.equal(pub, csrKey, 'the CSR is for the returned key');
  const second = await createKeyAndCsr(id);
  assert.notEqual(second.key, key, 'a new key per certificate');
});
