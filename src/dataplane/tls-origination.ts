// TLS origination (DestinationRule tls SIMPLE / MUTUAL): an undici connector that dials TLS with
// the cluster's trust, client certificate, SNI and SAN rules, and turns every handshake or
// verification failure into a DataplaneError('tls_failure') whose reason reads like Envoy's
// transport failure reason ("certificate verify failed: ..."). A failure is always an error on the
// connect callback, bounded by the connect timeout: never a hang.
// Certificate files are read here, not in compile (which stays pure), on a pool's first connect,
// and kept for the pool's life; a read failure is retried on the next connect. credentialName
// Secrets from the API server (a CredentialProvider) are looked up on every connect instead, so a
// rotated Secret is used by the next connection without a restart (Envoy SDS: connections already
// open keep the certificate they were made with).
import { readFileSync } from 'node:fs';
import { isIP, type Socket } from 'node:net';
import { join } from 'node:path';
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import type { buildConnector } from 'undici';
import type { TlsOrigination } from '../model/cluster-policy.ts';
import { credentialMaterial, type CredentialProvider, type SecretData, type TlsMaterial } from '../model/credentials.ts';
import { DataplaneError } from './errors.ts';

export interface ConnectorOptions {
  readonly tls: TlsOrigination;
  /** SNI to send; '' sends none (a TCP cluster without tls.sni). */
  readonly servername: string;
  /**
   * Without subjectAltNames, check the certificate against the SNI (Envoy auto_san_validation, an
   * HTTP upstream option). False for a TCP cluster: only the chain and subjectAltNames are checked.
   */
  readonly autoSan?: boolean;
  readonly secretsDir?: string;
  /** credentialName Secrets from the API server; wins over secretsDir. */
  readonly credentials?: CredentialProvider;
  readonly timeoutMs: number;
  readonly keepAliveMs?: number;
  readonly alpn: readonly string[];
  /** Called with each connected socket (e.g. to bound its lifetime). */
  readonly onSocket?: (s: Socket) => void;
}

interface Material extends TlsMaterial {
  readonly crl?: string;
}

export function tlsConnector(o: ConnectorOptions): buildConnector.connector {
  let material: Material | undefined;
  const live = o.tls.credential && o.credentials ? liveMaterial(o.tls, o.credentials) : undefined;
  const check = identityCheck(o.tls, o.autoSan ?? true);
  return (opts, cb) => {
    let m: Material;
    try {
      m = live ? live() : (material ??= loadMaterial(o.tls, o.secretsDir));
    } catch (err) {
      cb(err as Error, null);
      return;
    }
    let done = false;
    let tcpUp = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        socket.destroy();
        cb(err, null);
      } else cb(null, socket);
    };
    const socket = tlsConnect({
      host: opts.hostname.replace(/^\[|\]$/g, ''), port: Number(opts.port),
      ...(o.servername === '' || isIP(o.servername) ? {} : { servername: o.servername }),
      ...m, minVersion: 'TLSv1.2', ...(o.alpn.length ? { ALPNProtocols: [...o.alpn] } : {}),
      rejectUnauthorized: !o.tls.insecureSkipVerify,
      checkServerIdentity: check,
    } satisfies ConnectionOptions);
    const timer = setTimeout(() => {
      finish(Object.assign(new Error(`connect timeout after ${o.timeoutMs}ms${tcpUp ? ' (during the TLS handshake)' : ''}`), { code: 'UND_ERR_CONNECT_TIMEOUT' }));
    }, o.timeoutMs);
    socket.once('connect', () => {
      tcpUp = true;
      if (o.keepAliveMs) socket.setKeepAlive(true, o.keepAliveMs);
    });
    socket.once('secureConnect', () => {
      o.onSocket?.(socket);
      finish(null);
    });
    socket.once('error', (err) => finish(tcpUp ? new DataplaneError('tls_failure', transportFailure(err, o)) : err));
  };
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new DataplaneError('tls_failure', `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** A folder laid out like a Secret: one file per key. A missing folder is a missing Secret (null). */
function readSecretDir(dir: string): SecretData {
  const out: Record<string, string> = {};
  let found = false;
  for (const key of ['tls.crt', 'tls.key', 'ca.crt', 'cert', 'key', 'cacert']) {
    try {
      out[key] = readFileSync(join(dir, key), 'utf8');
      found = true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new DataplaneError('tls_failure', `cannot read ${join(dir, key)}: ${code ?? (err as Error).message}`);
    }
  }
  return found ? out : null;
}

function fileCredential(t: TlsOrigination, secretsDir: string | undefined): TlsMaterial {
  const c = t.credential!;
  if (!secretsDir) throw new DataplaneError('tls_failure', `credentialName ${c.name} needs --secrets-dir (Secrets laid out as <dir>/<namespace>/<name>/tls.crt) or --kubernetes`);
  const dir = join(secretsDir, c.namespace, c.name);
  const m = credentialMaterial(`${c.namespace}/${c.name} (${dir})`, readSecretDir(dir), readSecretDir(`${dir}-cacert`), t.mode === 'MUTUAL');
  if (typeof m === 'string') throw new DataplaneError('tls_failure', m);
  return m;
}

/**
 * Per connect: the provider's current Secrets. The material is rebuilt only when a Secret object
 * changed (the provider hands out the same object until then).
 */
function liveMaterial(t: TlsOrigination, provider: CredentialProvider): () => Material {
  const c = t.credential!;
  let seen: { main: SecretData | undefined; cacert: SecretData | undefined } | undefined;
  let built: Material | string = '';
  return () => {
    const now = provider.lookup(c.namespace, c.name);
    if (!seen || now.main !== seen.main || now.cacert !== seen.cacert) {
      seen = now;
      const m = credentialMaterial(`${c.namespace}/${c.name}`, now.main, now.cacert, t.mode === 'MUTUAL');
      built = typeof m === 'string' ? m : withStatic(t, m);
    }
    if (typeof built === 'string') throw new DataplaneError('tls_failure', built);
    return built;
  };
}

/** caCertificates / caCrl files next to a credential (validation forbids most combinations). */
function withStatic(t: TlsOrigination, m: TlsMaterial): Material {
  const out: { ca?: string; cert?: string; key?: string; crl?: string } = { ...m };
  if (t.insecureSkipVerify) delete out.ca;
  if (t.caCrl && !t.insecureSkipVerify) out.crl = read(t.caCrl, 'caCrl');
  return out;
}

function loadMaterial(t: TlsOrigination, secretsDir: string | undefined): Material {
  let out: { ca?: string; cert?: string; key?: string; crl?: string } = {};
  if (t.credential) out = { ...fileCredential(t, secretsDir) };
  if (t.caCertificates && !t.insecureSkipVerify) out.ca = read(t.caCertificates, 'caCertificates');
  if (t.caCrl && !t.insecureSkipVerify) out.crl = read(t.caCrl, 'caCrl');
  if (t.mode === 'MUTUAL' && !t.credential) {
    if (t.clientCertificate) out.cert = read(t.clientCertificate, 'clientCertificate');
    if (t.privateKey) out.key = read(t.privateKey, 'privateKey');
  }
  return out;
}

// No subjectAltNames: the certificate must match the SNI (Envoy auto SAN validation). With them, it
// must carry one of them: an exact DNS/URI/IP SAN, or a DNS name its (wildcard) SANs cover.
function identityCheck(t: TlsOrigination, autoSan: boolean): (host: string, cert: PeerCertificate) => Error | undefined {
  if (t.insecureSkipVerify) return () => undefined;
  if (t.subjectAltNames.length === 0) return autoSan ? checkServerIdentity : () => undefined;
  return (_host, cert) => {
    const sans = (cert.subjectaltname ?? '').split(', ').map((s) => s.slice(s.indexOf(':') + 1));
    const ok = t.subjectAltNames.some((n) => sans.includes(n) || (!n.includes(':') && checkServerIdentity(n, cert) === undefined));
    if (ok) return undefined;
    return Object.assign(new Error(`certificate SANs [${cert.subjectaltname ?? ''}] match none of subjectAltNames [${t.subjectAltNames.join(', ')}]`), { code: 'ERR_EGW_SAN_MISMATCH' });
  };
}

const UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_SIGNATURE_FAILURE',
]);

/** Envoy-style transport failure reason, with the fix where one is known. */
export function transportFailure(err: Error & { code?: string; reason?: string }, o: ConnectorOptions): string {
  const code = err.code ?? '';
  const verify = 'certificate verify failed';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${verify}: hostname mismatch: ${err.reason ?? err.message} (set tls.sni or tls.subjectAltNames to the name the server's certificate carries)`;
  if (code === 'ERR_EGW_SAN_MISMATCH') return `${verify}: SAN mismatch: ${err.message}`;
  if (code === 'CERT_HAS_EXPIRED') return `${verify}: certificate has expired`;
  if (code === 'CERT_NOT_YET_VALID') return `${verify}: certificate is not yet valid`;
  if (code === 'CERT_REVOKED') return `${verify}: certificate revoked (tls.caCrl)`;
  if (UNKNOWN_CA.has(code)) {
    const trust = o.tls.caCertificates ? `tls.caCertificates ${o.tls.caCertificates}` : 'the system CAs';
    return `${verify}: unknown CA: ${err.message} (not issued by ${trust}; set tls.caCertificates to the issuing CA)`;
  }
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE') {
    return `TLS handshake failed: ${err.message}${o.tls.mode === 'SIMPLE' ? ' (the server may require a client certificate: tls.mode MUTUAL)' : ''}`;
  }
  return `TLS handshake failed: ${code ? `${code}: ` : ''}${err.message}`;
}
