// A client's workload identity, from a verified X.509 certificate's SPIFFE URI SAN. Istio's own IDs are
// spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>; Envoy's principal is the URI SAN
// whatever its path, and Istio matches `principals` as "spiffe://" + value, so any SPIFFE ID is a
// principal (a policy may list "example.org/batch/nightly"). Policies see `principal` without the
// scheme, as Istio writes principals; metrics see `uri` with it, as Istio labels source_principal.

export interface Identity {
  readonly uri: string;
  readonly principal: string;
  readonly trustDomain: string;
  /** '' when the SPIFFE ID is not Istio-shaped (no /ns/<namespace>/sa/<service-account> path). */
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** Parses a SPIFFE ID with exactly the four path segments Istio requires; anything else is undefined. */
export function parseSpiffe(uri: string): Identity | undefined {
  if (!uri.startsWith('spiffe://')) return undefined;
  const rest = uri.slice('spiffe://'.length);
  const parts = rest.split('/');
  if (parts.length !== 5 || parts[1] !== 'ns' || parts[3] !== 'sa' || !parts[0] || !parts[2] || !parts[4]) return undefined;
  return { uri, principal: rest, trustDomain: parts[0], namespace: parts[2], serviceAccount: parts[4] };
}

/** Any spiffe://<trust-domain>[/path] URI; namespace and serviceAccount are filled only for Istio's shape. */
export function parseAnySpiffe(uri: string): Identity | undefined {
  const istio = parseSpiffe(uri);
  if (istio || !uri.startsWith('spiffe://')) return istio;
  const principal = uri.slice('spiffe://'.length);
  const trustDomain = principal.split('/', 1)[0]!;
  return trustDomain ? { uri, principal, trustDomain, namespace: '', serviceAccount: '' } : undefined;
}

/** The identity in a certificate's subjectaltname string (Node's `URI:a, DNS:b` format): an Istio-shaped SPIFFE ID first, else any. */
export function identityFromSan(subjectaltname: string | undefined): Identity | undefined {
  if (!subjectaltname) return undefined;
  let other: Identity | undefined;
  for (const part of subjectaltname.split(', ')) {
    if (!part.startsWith('URI:')) continue;
    const id = parseAnySpiffe(part.slice(4));
    if (id?.namespace) return id;
    other ??= id;
  }
  return other;
}

/**
 * A plaintext client identified by its source IP among the cluster's Pods (`--identify-pods-by-ip`):
 * NOT a cryptographic identity. It labels telemetry (source namespace and workload, with
 * connection_security_policy "none"), and matches `namespaces` in policy only when the operator
 * opted in; it never matches `principals`, `serviceAccounts` or `trustDomains`.
 */
export interface PodWorkload {
  readonly namespace: string;
  readonly pod: string;
  readonly serviceAccount: string;
  /** Istio's source_workload: the `app.kubernetes.io/name` or `app` label, else the pod's name. */
  readonly workload: string;
}

export interface PodIdentities {
  lookup(ip: string): PodWorkload | undefined;
  /** Whether `from.source.namespaces` and `when source.namespace` may match the pod's namespace. */
  readonly namespacesInPolicy: boolean;
}
