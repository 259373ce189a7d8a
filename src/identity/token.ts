// The projected service-account token istiod's CA authenticates with (pilot-agent reads
// /var/run/secrets/tokens/istio-token, audience istio-ca). istiod answers a bad token only with
// "request authenticate failure", so the claims a pod gets wrong are checked here first, where the
// message can say which one and what to change. The signature is istiod's business (TokenReview).

export const ISTIO_CA_AUDIENCE = 'istio-ca';

export interface TokenClaims {
  readonly audiences: readonly string[];
  /** Seconds since the epoch; undefined when the token has no exp. */
  readonly expires?: number;
  /** system:serviceaccount:<ns>:<sa>, when the token says so. */
  readonly subject?: string;
}

/** Decodes a JWT's claims without verifying it; undefined when the text is not a JWT. */
export function decodeJwtClaims(token: string): TokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  let claims: { aud?: unknown; exp?: unknown; sub?: unknown };
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    return undefined;
  }
  if (typeof claims !== 'object' || claims === null) return undefined;
  const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud.filter((a): a is string => typeof a === 'string') : [];
  return { audiences: aud, expires: typeof claims.exp === 'number' ? claims.exp : undefined, subject: typeof claims.sub === 'string' ? claims.sub : undefined };
}

/** Why this token cannot get a certificate from istiod, or undefined when it looks usable. */
export function checkIstioToken(token: string, file: string, nowMs = Date.now()): string | undefined {
  const t = token.trim();
  if (!t) return `the token file ${file} is empty; mount a projected service-account token there (audience ${ISTIO_CA_AUDIENCE}) or pass --ca-token-file`;
  const c = decodeJwtClaims(t);
  if (!c) return `${file} does not hold a JWT; it must be a projected service-account token (kubectl create token <sa> --audience ${ISTIO_CA_AUDIENCE})`;
  if (!c.audiences.includes(ISTIO_CA_AUDIENCE)) {
    return `the token in ${file} has audience ${c.audiences.length ? c.audiences.join(',') : '(none)'}, istiod's CA accepts only ${ISTIO_CA_AUDIENCE}: project it with audience: ${ISTIO_CA_AUDIENCE} (kubectl create token <sa> --audience ${ISTIO_CA_AUDIENCE})`;
  }
  if (c.expires !== undefined && c.expires * 1000 <= nowMs) {
    return `the token in ${file} expired at ${new Date(c.expires * 1000).toISOString()}; the kubelet refreshes projected tokens, so check the volume's expirationSeconds and that the file is the mounted one`;
  }
  return undefined;
}

/** "ns/sa" from a service-account token's subject, when it has one. */
export function tokenServiceAccount(c: TokenClaims): string | undefined {
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(c.subject ?? '');
  return m ? `${m[1]}/${m[2]}` : undefined;
}
