// In-memory PKI for tests: a CA (optionally an intermediate) and leaf certificates with whatever SANs,
// validity and usage a test needs, including deliberately broken ones (expired, wrong SAN). Keys are
// ECDSA P-256 from WebCrypto because generating them takes about a millisecond, against tens for RSA.

// @peculiar/x509 2.x resolves its services through tsyringe, which throws at load time unless a
// Reflect metadata polyfill is already installed. ESM evaluates imports in order, so this must stay first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

x509.cryptoProvider.set(webcrypto);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;
// Backdating notBefore absorbs clock differences between this process and whoever verifies the cert.
const BACKDATE_MS = 60 * 60 * 1000;

/** PEM text in the shape node:tls options take: spread it into `tls.connect` or `https.createServer`. */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

export interface CertificateAuthority extends PemPair {
  /** This CA's own certificate, parsed. */
  readonly x509: x509.X509Certificate;
  readonly privateKey: CryptoKey;
  /** PEM of the root at the top of this CA's chain: what a verifier passes as `ca`. */
  readonly trust: string;
  /** PEM of this CA and its ancestors below the root; '' for a root. Leaves append it to `cert`. */
  readonly intermediates: string;
}

export interface IssuedCert extends PemPair {
  /** `cert` is the leaf followed by any intermediates, so a server presents a verifiable chain. */
  readonly leaf: string;
  readonly x509: x509.X509Certificate;
}

export interface CaOptions {
  commonName?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** Issue this CA from another one, to test chains with an intermediate. */
  parent?: CertificateAuthority;
}

export interface CertOptions {
  /** Defaults to the first DNS name, else 'egressway-test-leaf'. */
  commonName?: string;
  dnsNames?: readonly string[];
  ips?: readonly string[];
  /** URI SANs, e.g. 'spiffe://cluster.local/ns/default/sa/client'. */
  uris?: readonly string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Shorthand for a validity window that ended yesterday. Overrides notBefore/notAfter. */
  expired?: boolean;
  /** Extended key usage clientAuth instead of serverAuth. */
  isClient?: boolean;
}

/** A date `days` from now (negative for the past), for readable validity windows in tests. */
export function daysFromNow(days: number): Date {
  return new Date(Date.now() + days * DAY_MS);
}

export async function makeCa(opts: CaOptions = {}): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const subject = nameOf(opts.commonName ?? 'Egressway Test CA');
  const extensions = [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const validity = { notBefore: opts.notBefore ?? backdatedNow(), notAfter: opts.notAfter ?? daysFromNow(30) };
  const cert = opts.parent
    ? await signWith(opts.parent, { subject, publicKey: keys.publicKey, extensions, ...validity })
    : await x509.X509CertificateGenerator.createSelfSigned({
        name: subject, keys, extensions, signingAlgorithm: SIGNING_ALGORITHM, serialNumber: randomSerial(), ...validity,
      });
  const pem = cert.toString('pem');
  return {
    cert: pem,
    key: await exportPrivateKey(keys.privateKey),
    x509: cert,
    privateKey: keys.privateKey,
    trust: opts.parent?.trust ?? pem,
    intermediates: opts.parent ? joinPems(pem, opts.parent.intermediates) : '',
  };
}

export async function issueCert(ca: CertificateAuthority, opts: CertOptions = {}): Promise<IssuedCert> {
  const keys = await generateKeys();
  const usage = opts.isClient ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([usage]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const altNames = subjectAltNames(opts);
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames));
  const cert = await signWith(ca, {
    subject: nameOf(opts.commonName ?? opts.dnsNames?.[0] ?? 'egressway-test-leaf'),
    publicKey: keys.publicKey,
    extensions,
    ...validityOf(opts),
  });
  const leaf = cert.toString('pem');
  return { cert: joinPems(leaf, ca.intermediates), key: await exportPrivateKey(keys.privateKey), leaf, x509: cert };
}

export interface PemPaths {
  readonly cert: string;
  readonly key: string;
}

/**
 * Writes each pair as `<name>.crt` and `<name>.key` (mode 0600, as real key files are) under `dir`, for
 * code that takes file paths, such as the waypoint's config. Returns the paths under the same names.
 */
export async function writePems<T extends Record<string, PemPair>>(
  dir: string,
  pairs: T,
): Promise<{ [K in keyof T]: PemPaths }> {
  await mkdir(dir, { recursive: true });
  const paths: Record<string, PemPaths> = {};
  for (const [name, pair] of Object.entries(pairs)) {
    const cert = join(dir, `${name}.crt`);
    const key = join(dir, `${name}.key`);
    await writeFile(cert, pair.cert);
    await writeFile(key, pair.key, { mode: 0o600 });
    paths[name] = { cert, key };
  }
  return paths as { [K in keyof T]: PemPaths };
}

interface SignParams {
  subject: x509.JsonName;
  publicKey: CryptoKey;
  extensions: x509.Extension[];
  notBefore: Date;
  notAfter: Date;
}

async function signWith(ca: CertificateAuthority, params: SignParams): Promise<x509.X509Certificate> {
  // The authority key id lets OpenSSL pick the right issuer when several CAs share a subject name.
  const aki = await x509.AuthorityKeyIdentifierExtension.create(await ca.x509.publicKey.export());
  return x509.X509CertificateGenerator.create({
    ...params,
    extensions: [...params.extensions, aki],
    issuer: ca.x509.subject,
    signingKey: ca.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    serialNumber: randomSerial(),
  });
}

function subjectAltNames(opts: CertOptions): x509.JsonGeneralName[] {
  return [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(opts.uris ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
}

function validityOf(opts: CertOptions): { notBefore: Date; notAfter: Date } {
  if (opts.expired) return { notBefore: daysFromNow(-2), notAfter: daysFromNow(-1) };
  return { notBefore: opts.notBefore ?? backdatedNow(), notAfter: opts.notAfter ?? daysFromNow(1) };
}

function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

async function exportPrivateKey(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

function nameOf(commonName: string): x509.JsonName {
  return [{ CN: [commonName] }];
}

// Positive and unique per certificate; a repeated serial under one issuer makes OpenSSL reject the chain.
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  return bytes.toString('hex');
}

function backdatedNow(): Date {
  return new Date(Date.now() - BACKDATE_MS);
}

function joinPems(...pems: string[]): string {
  return pems.filter((pem) => pem !== '').map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join('');
}
