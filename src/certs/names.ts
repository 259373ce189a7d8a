// Mesh name checks, apart from pki.ts: `egressway run` validates its istiod CA flags with them, and
// pki.ts loads @peculiar/x509 (about 200 modules, 10 MB of RSS) that a waypoint never needs.
const LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const TD_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Returns a problem with a trust domain, namespace or service account name, or undefined. */
export function checkName(kind: 'trust domain' | 'namespace' | 'service account', v: string): string | undefined {
  const ok = kind === 'trust domain' ? TD_RE.test(v) : LABEL_RE.test(v) || (kind === 'service account' && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v));
  return ok ? undefined : `"${v}" is not a valid ${kind} (lower-case letters, digits and '-'${kind === 'namespace' ? '' : " and '.'"})`;
}
