// The mesh PKI behind `egressway certs`: a root CA per trust domain and short-lived workload
// certificates (X.509 SVIDs) whose one URI SAN is spiffe://<td>/ns/<ns>/sa/<sa>, as istiod's CA
// issues them. Keys are ECDSA P-256: WebCrypto makes one in about a millisecond, RSA takes tens.

// @peculiar/x509 2.x resolves its services through tsyringe, which throws at load time unless a
// Reflect metadata polyfill is already installed. ESM evaluates imports in order, so this stays first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' };
// Backdating notBefore absorbs clock skew between the issuer and whoever verifies the certificate.
const BACKDATE_MS = 5 * 60 * 1000;
export const HOUR_MS = 60 * 60 * 1000;
export const DEFAULT_WORKLOAD_TTL_MS = 24 * HOUR_MS;
export const DEFAULT_CA_TTL_MS = 10 * 365 * 24 * HOUR_MS;

export interface MeshCa {
  readonly trustDomain: string;
  /** PEM of the CA certificate. */
  readonly cert: string;
  /** PKCS#8 PEM of its key. */
  readonly key: string;
}

export interface IssuedPem {
  /** Leaf PEM (the CA is a root, so there are no intermediates to append). */
  readonly cert: string;
  readonly key: string;
  readonly spiffeId: string;
  readonly notAfter: Date;
}

export interface CaParams {
  readonly trustDomain: string;
  readonly ttlMs?: number;
  readonly now?: Date;
}

export interface IssueParams {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly ttlMs?: number;
  /** Extra DNS names (the waypoint's own service name, for example). */
  readonly dnsNames?: readonly string[];
  readonly now?: Date;
  /** Validity window override, for tests of expired certificates. */
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

export { checkName } from './names.ts';

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

export async function createMeshCa(p: CaParams): Promise<MeshCa> {
  const keys = await generateKeys();
  const now = p.now ?? new Date();
  const name: x509.JsonName = [{ O: [p.trustDomain] }, { CN: [`egressway mesh root (${p.trustDomain})`] }];
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name, keys, signingAlgorithm: SIGNING_ALGORITHM, serialNumber: randomSerial(),
    notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + (p.ttlMs ?? DEFAULT_CA_TTL_MS)),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      // The SPIFFE trust domain also as a URI SAN, so `certs issue` can read it back from ca.pem.
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${p.trustDomain}` }]),
    ],
  });
  return { trustDomain: p.trustDomain, cert: nl(cert.toString('pem')), key: await exportKey(keys.privateKey) };
}

/** Reads a CA written by createMeshCa back from its PEM pair. */
export async function loadMeshCa(certPem: string, keyPem: string): Promise<MeshCa> {
  const cert = new x509.X509Certificate(certPem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const uri = san?.names.items.find((n) => n.type === 'url')?.value;
  if (!uri?.startsWith('spiffe://')) throw new Error('the CA certificate carries no spiffe://<trust-domain> URI SAN; was it made by `egressway certs init`?');
  await importKey(keyPem); // fails early on a key that is not PKCS#8 ECDSA P-256
  return { trustDomain: uri.slice('spiffe://'.length).replace(/\/$/, ''), cert: certPem, key: keyPem };
}

/** A workload certificate (client and server use) for spiffe://<td>/ns/<ns>/sa/<sa>. */
export async function issueWorkload(ca: MeshCa, p: IssueParams): Promise<IssuedPem> {
  const id = spiffeId(ca.trustDomain, p.namespace, p.serviceAccount);
  const leaf = await issueLeaf(ca, { ...p, commonName: `${p.serviceAccount}.${p.namespace}`, uris: [id] });
  return { ...leaf, spiffeId: id };
}

export interface LeafParams {
  readonly commonName: string;
  readonly uris?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly ttlMs?: number;
  readonly now?: Date;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

/** Any leaf signed by the mesh CA (tests use it for certificates without a SPIFFE ID). */
export async function issueLeaf(ca: MeshCa, p: LeafParams): Promise<Omit<IssuedPem, 'spiffeId'>> {
  const caCert = new x509.X509Certificate(ca.cert);
  const signingKey = await importKey(ca.key);
  const keys = await generateKeys();
  const now = p.now ?? new Date();
  const notBefore = p.notBefore ?? new Date(now.getTime() - BACKDATE_MS);
  const notAfter = p.notAfter ?? new Date(now.getTime() + (p.ttlMs ?? DEFAULT_WORKLOAD_TTL_MS));
  const names: x509.JsonGeneralName[] = [
    ...(p.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(p.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    // istiod leaves the subject empty; a CN makes `openssl x509 -text` and logs readable.
    subject: [{ O: [ca.trustDomain] }, { CN: [p.commonName] }],
    issuer: caCert.subject, publicKey: keys.publicKey, signingKey, signingAlgorithm: SIGNING_ALGORITHM,
    serialNumber: randomSerial(), notBefore, notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      ...(names.length ? [new x509.SubjectAlternativeNameExtension(names, true)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(await caCert.publicKey.export()),
    ],
  });
  return { cert: nl(cert.toString('pem')), key: await exportKey(keys.privateKey), notAfter };
}

function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

async function exportKey(key: CryptoKey): Promise<string> {
  return nl(x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY'));
}

// PEM files end with a newline, so that `cat old.pem new.pem > bundle.pem` gives a valid bundle.
function nl(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

function importKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign']);
}

// Positive and unique per certificate; a repeated serial under one issuer makes OpenSSL reject it.
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  return bytes.toString('hex');
}
