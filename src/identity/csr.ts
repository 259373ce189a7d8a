// A fresh key and PKCS#10 request for each certificate istiod signs, as pilot-agent makes them: the
// one URI SAN is the workload's SPIFFE ID (istiod signs for the token's identity whatever the CSR
// says, and the answer is checked against this). ECDSA P-256, as ztunnel's; a new key per rotation.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

export interface KeyAndCsr {
  /** PKCS#8 PEM, for node:tls. */
  readonly key: string;
  readonly csr: string;
}

export async function createKeyAndCsr(spiffeId: string): Promise<KeyAndCsr> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys, signingAlgorithm: ALGORITHM,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }], true)],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), csr: csr.toString('pem') };
}
