// What one request does, old (sidecar-era config) or new (the waypoint's compiled snapshot), in one
// comparable shape: the verdict, and for an allowed request where the bytes finally go and how.
// verify.ts compares the two field by field, so every kind of loss shows up as a difference.

export interface Probe {
  /** SPIFFE principal without `spiffe://`. */
  readonly caller: string;
  /** A concrete host (a wildcard ServiceEntry host is probed through one name under it). */
  readonly host: string;
  readonly port: number;
  readonly http: boolean;
}

export type Scheme = 'http' | 'https' | 'mtls' | 'tls' | 'tcp';

export interface Outcome {
  readonly allow: boolean;
  /** Why it was refused, for the report. */
  readonly why?: string;
  readonly scheme?: Scheme;
  /** Host or address finally dialled. */
  readonly host?: string;
  readonly port?: number;
  /** Request timeout in ms on the path, if any. */
  readonly timeoutMs?: number;
  /** Client certificate source for MUTUAL origination (credentialName or file paths). */
  readonly clientCert?: string;
  /** CA used to verify the external server, when one is configured. */
  readonly ca?: string;
}

export function formatOutcome(o: Outcome): string {
  if (!o.allow) return `deny${o.why ? ` (${o.why})` : ''}`;
  let s = `allow ${o.scheme}://${o.host}:${o.port}`;
  if (o.timeoutMs !== undefined) s += ` timeout=${o.timeoutMs}ms`;
  if (o.clientCert) s += ` client-cert=${o.clientCert}`;
  if (o.ca) s += ` ca=${o.ca}`;
  return s;
}

/** Equal when both refuse, or both forward the same way (the refusal reasons may be worded apart). */
export function sameOutcome(a: Outcome, b: Outcome): boolean {
  if (!a.allow || !b.allow) return a.allow === b.allow;
  return a.scheme === b.scheme && a.host?.toLowerCase() === b.host?.toLowerCase() && a.port === b.port
    && a.timeoutMs === b.timeoutMs && a.clientCert === b.clientCert && a.ca === b.ca;
}

/**
 * TLS material as both sides name it: a Secret's name (its namespace depends on where the proxy runs,
 * which the report warns about separately), or the files it came from.
 */
export function certSource(tls: { credentialName?: string; clientCertificate?: string; privateKey?: string } | undefined): string | undefined {
  if (!tls) return undefined;
  if (tls.credentialName) return `secret:${tls.credentialName}`;
  if (tls.clientCertificate || tls.privateKey) return `files:${tls.clientCertificate ?? ''},${tls.privateKey ?? ''}`;
  return undefined;
}
