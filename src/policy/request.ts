// What decide() reads from a request. The listener fills it once per request (or per CONNECT tunnel
// to a TCP port, with protocol 'tcp' and no HTTP fields).

export interface AuthzRequest {
  /** 'http' for requests the waypoint parses; 'tcp' for opaque tunnels (CONNECT to a TCP/TLS port). */
  readonly protocol: 'http' | 'tcp';
  /** Peer address of the connection (Envoy direct_remote_ip): `source.ip`, `ipBlocks`. */
  readonly sourceIp?: string;
  /** Client address from X-Forwarded-For with numTrustedProxies (Envoy remote_ip); defaults to sourceIp. */
  readonly remoteIp?: string;
  /** Peer SPIFFE identity without `spiffe://`, e.g. `cluster.local/ns/shop/sa/cart`; undefined if none. */
  readonly principal?: string;
  /**
   * Namespace of a plaintext client found by its pod IP (--identify-pods-by-ip=namespaces): matched by
   * `namespaces` / `source.namespace` only, never by principals, serviceAccounts or trustDomains.
   */
  readonly plaintextNamespace?: string;
  /** `iss/sub` of a validated JWT (RequestAuthentication); undefined without one. */
  readonly requestPrincipal?: string;
  /** Validated JWT claims (`iss`, `sub`, `aud`, `azp`, ...); undefined without one. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** :authority / Host exactly as sent (may carry a port). Matched case-insensitively. */
  readonly host?: string;
  readonly method?: string;
  /** Path after normalizePath(); the query string is ignored when matching `paths`. */
  readonly path?: string;
  /** Lower-cased header names; repeated headers joined with ','. */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly sni?: string;
  readonly destinationIp?: string;
  /** The service port the request targets (`ports`, `destination.port`). */
  readonly destinationPort?: number;
}

/** Changes to the headers sent upstream after authentication and ext-authz (names lower-case). */
export interface HeaderEdits {
  readonly remove: readonly string[];
  /** Replaces any header of the same name. */
  readonly set: readonly (readonly [string, string])[];
  /** Headers for the client's response (ext-authz headersToDownstreamOnAllow). */
  readonly response?: readonly (readonly [string, string])[];
}
