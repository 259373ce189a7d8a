// TLS origination (DestinationRule tls SIMPLE / MUTUAL): an undici connector that dials TLS with
// the cluster's trust, client certificate, SNI and SAN rules, and turns every handshake or
// verification failure into a DataplaneError('tls_failure') whose reason reads like Envoy's
// transport failure reason ("certificate verify failed: ..."). A failure is always an error on the
// connect callback, bounded by the connect timeout: never a hang.
// Certificate files are read here, not in compile (which stays pure), on a pool's first connect,
// and kept for the pool's life; a read failure is retried on the next connect.
import { readFileSync } from 'node:fs';
import { isIP, type Socket } from 'node:net';
import { join } from 'node:path';
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import type { buildConnector } from 'undici';
import type { TlsOrigination } from '../model/cluster-policy.ts';
import { DataplaneError } from './errors.ts';

export interface ConnectorOptions {
  readonly tls: TlsOrigination;
  readonly servername: string;
  readonly secretsDir?: string;
  readonly timeoutMs: number;
  readonly keepAliveMs?: number;
  readonly alpn: readonly string[];
  /** Called with each connected socket (e.g. to bound its lifetime). */
  readonly onSocket?: (s: Socket) => void;
}

interface Material {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly crl?: string;
}

export function tlsConnector(o: ConnectorOptions): buildConnector.connector {
  let material: Material | undefined;
  return (opts, cb) => {
    let m: Material;
    try {
      m = material ??= loadMaterial(o.tls, o.secretsDir);
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
      ...(isIP(o.servername) ? {} : { servername: o.servername }),
      ...m, minVersion: 'TLSv1.2', ALPNProtocols: [...o.alpn],
      rejectUnauthorized: !o.tls.insecureSkipVerify,
      checkServerIdentity: identityCheck(o.tls),
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

function loadMaterial(t: TlsOrigination, secretsDir: string | undefined): Material {
  const out: { ca?: string; cert?: string; key?: string; crl?: string } = {};
  if (t.credential) {
    if (!secretsDir) throw new DataplaneError('tls_failure', `credentialName ${t.credential.name} needs --secrets-dir (Secrets laid out as <dir>/<namespace>/<name>/tls.crt)`);
    const dir = join(secretsDir, t.credential.namespace, t.credential.name);
    if (t.mode === 'MUTUAL') {
      out.cert = read(join(dir, 'tls.crt'), `Secret ${t.credential.namespace}/${t.credential.name}`);
      out.key = read(join(dir, 'tls.key'), `Secret ${t.credential.namespace}/${t.credential.name}`);
    }
    try {
      out.ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
    } catch {
      // no ca.crt: the system CAs verify the server, as for caCertificates unset
    }
  }
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
function identityCheck(t: TlsOrigination): (host: string, cert: PeerCertificate) => Error | undefined {
  if (t.insecureSkipVerify) return () => undefined;
  if (t.subjectAltNames.length === 0) return checkServerIdentity;
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
