// Per-cluster upstream policy compiled from a DestinationRule (trafficPolicy merged with its
// portLevelSettings and, for subset clusters, the subset's policy). Durations are milliseconds;
// a field left out means Envoy's default as Istio configures it (see the data-plane users).
import type { ResourceRef } from './diagnostic.ts';

export interface ClusterPolicy {
  /** Content hash: pools and per-cluster state are rebuilt when it changes across snapshots. */
  readonly key: string;
  /** The DestinationRule it came from. */
  readonly source: ResourceRef;
  readonly tls?: TlsOrigination;
  readonly connectionPool?: ConnectionLimits;
  readonly outlierDetection?: OutlierPolicy;
  readonly loadBalancer?: LoadBalancerPolicy;
  /** h2UpgradePolicy UPGRADE: HTTP/1.1 ports speak h2 upstream too (HTTP2/GRPC ports always do). */
  readonly h2Upgrade: boolean;
  /**
   * connectionPool.http.useClientProtocol: Envoy's use_downstream_protocol_config, which istiod sets
   * over the port's protocol: each request goes upstream in the HTTP version the client used.
   */
  readonly useClientProtocol?: true;
}

/** TLS the waypoint originates. DISABLE and ISTIO_MUTUAL compile to no TlsOrigination. */
export interface TlsOrigination {
  readonly mode: 'SIMPLE' | 'MUTUAL';
  /** Explicit SNI; else the cluster host (exact hosts) or the request host (wildcards). */
  readonly sni?: string;
  /** When non-empty, the certificate must carry one of these SANs instead of the SNI. */
  readonly subjectAltNames: readonly string[];
  readonly insecureSkipVerify: boolean;
  /** File paths, read (and cached) by the data plane: compile does no I/O. */
  readonly caCertificates?: string;
  readonly caCrl?: string;
  readonly clientCertificate?: string;
  readonly privateKey?: string;
  /** `credentialName`: a Kubernetes TLS Secret layout under --secrets-dir (tls.crt, tls.key, ca.crt). */
  readonly credential?: { readonly namespace: string; readonly name: string };
}

/**
 * The TCP chain's tcp_proxy settings (listener_waypoint.go buildWaypointNetworkFilters): from the
 * top-level trafficPolicy.connectionPool.tcp of the DestinationRule for the chain's host (the first
 * destination of a VirtualService tls/tcp route): port-level settings and subsets are not read.
 */
export interface TcpProxySettings {
  /** tcp_proxy idle_timeout; 0 disables it (an explicit `0s`). Absent: --tunnel-idle-timeout (Envoy's 1 h). */
  readonly idleTimeoutMs?: number;
  /** tcp_proxy max_downstream_connection_duration (flag DT on expiry). */
  readonly maxConnectionDurationMs?: number;
}

export interface ConnectionLimits {
  readonly maxConnections?: number;
  readonly connectTimeoutMs?: number;
  readonly tcpKeepaliveMs?: number;
  readonly tcpIdleTimeoutMs?: number;
  readonly maxConnectionDurationMs?: number;
  readonly http1MaxPendingRequests?: number;
  readonly http2MaxRequests?: number;
  readonly maxRequestsPerConnection?: number;
  /** Outstanding retries allowed across the cluster (Envoy max_retries); read by the retry code. */
  readonly maxRetries?: number;
  readonly httpIdleTimeoutMs?: number;
  readonly maxConcurrentStreams?: number;
}

export interface OutlierPolicy {
  /** 0 disables the check. Local-origin failures (connect, reset, timeout) count as 503. */
  readonly consecutive5xxErrors: number;
  /** 502, 503, 504 and local-origin failures; 0 disables. */
  readonly consecutiveGatewayErrors: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
  /** Below this healthy percentage, ejections are ignored (Envoy panic mode); 0 disables. */
  readonly minHealthPercent: number;
}

export type LoadBalancerPolicy =
  | { readonly kind: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' }
  | {
      readonly kind: 'CONSISTENT_HASH';
      readonly httpHeaderName?: string;
      readonly httpCookie?: string;
      /**
       * Envoy generates the cookie when a request has none (Istio always sets the ttl): its Max-Age
       * (0: a session cookie), Path and extra attributes for the Set-Cookie.
       */
      readonly cookie?: { readonly maxAgeS: number; readonly path?: string; readonly attributes?: readonly (readonly [string, string])[] };
      readonly httpQueryParameterName?: string;
      readonly useSourceIp?: boolean;
      readonly minimumRingSize: number;
    };
