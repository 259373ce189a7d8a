// A client's workload identity, from a verified SPIFFE X.509 SVID (URI SAN
// spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>). Policies see `principal` without the
// scheme, as Istio writes principals; metrics see `uri` with it, as Istio labels source_principal.

export interface Identity {
  readonly uri: string;
  readonly principal: string;
  readonly trustDomain: string;
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

/** The SPIFFE identity in a certificate's subjectaltname string (Node's `URI:a, DNS:b` format). */
export function identityFromSan(subjectaltname: string | undefined): Identity | undefined {
  if (!subjectaltname) return undefined;
  for (const part of subjectaltname.split(', ')) {
    if (part.startsWith('URI:')) {
      const id = parseSpiffe(part.slice(4));
      if (id) return id;
    }
  }
  return undefined;
}
