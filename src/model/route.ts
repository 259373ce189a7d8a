// Compiled HTTP routes: what VirtualService and HTTPRoute say, shaped for one pass per request.
// Matchers are precompiled (regexes built once per snapshot); weights are cumulative.
import type { TcpProxySettings } from './cluster-policy.ts';

export type StrMatch =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  /** Gateway API PathPrefix: whole path segments (`/foo` matches `/foo/bar`, not `/foobar`). */
  | { readonly kind: 'segment-prefix'; readonly value: string }
  | { readonly kind: 'regex'; readonly re: RegExp; readonly source: string }
  | { readonly kind: 'present' };

export interface KeyMatch {
  readonly name: string;
  readonly match: StrMatch;
  /** VirtualService withoutHeaders: the request must NOT have a matching header. */
  readonly invert: boolean;
  /**
   * Envoy treat_missing_header_as_empty: Istio sets it on withoutHeaders value matchers, so a
   * missing header is matched as "" (and `withoutHeaders: {x: {regex: ".*"}}` excludes everyone).
   */
  readonly missingAsEmpty?: boolean;
}

export interface RouteMatch {
  readonly uri?: StrMatch;
  readonly ignoreUriCase?: boolean;
  readonly method?: StrMatch;
  readonly authority?: StrMatch;
  readonly scheme?: StrMatch;
  readonly port?: number;
  readonly headers: readonly KeyMatch[];
  readonly queryParams: readonly KeyMatch[];
}

export interface HeaderOps {
  readonly set: readonly (readonly [string, string])[];
  readonly add: readonly (readonly [string, string])[];
  readonly remove: readonly string[];
  /**
   * Some value is an Envoy format string with a variable (HEADER_VARIABLES), filled in per request;
   * the others are literal (`%%` already unescaped).
   */
  readonly dynamic?: boolean;
}

export interface WeightedCluster {
  /** Cluster name in Snapshot.clusters; absent when the destination is unknown (503 NC). */
  readonly cluster?: string;
  readonly host: string;
  readonly port: number;
  readonly subset?: string;
  /** Cumulative weight bound, for one random draw. */
  readonly upTo: number;
  readonly requestHeaders?: HeaderOps;
  readonly responseHeaders?: HeaderOps;
  /**
   * The Host to send, from a VirtualService `host` / `:authority` header edit (Istio turns those into
   * Envoy's host_rewrite_literal): the route's (rewrite.authority, then its header edits) wins over
   * the destination's, as in Envoy, where a weighted cluster's host rewrite runs before the route's.
   */
  readonly authority?: string;
}

/**
 * Prefix replacement. `plain` is Envoy's prefix_rewrite as a VirtualService gets it (the first
 * `match.length` characters are swapped, so `/foo` -> `/` turns `/foo/bar` into `//bar`);
 * `segments` is Gateway API ReplacePrefixMatch (whole path elements, trailing `/` ignored).
 */
export interface PrefixRewrite {
  readonly match: string;
  readonly replacement: string;
  readonly mode: 'plain' | 'segments';
}

export interface Rewrite {
  /** Replace the matched prefix (VirtualService prefix match, HTTPRoute ReplacePrefixMatch). */
  readonly prefix?: PrefixRewrite;
  readonly fullPath?: string;
  /** Envoy regex_rewrite: every match in the path (query excluded) is substituted (RE2 GlobalReplace). */
  readonly regex?: { readonly re: RegExp; readonly replacement: string };
  readonly authority?: string;
}

/**
 * Envoy RedirectAction as Istio builds it. `port`: a number is port_redirect, `request` is
 * derivePort FROM_REQUEST_PORT (Gateway API's default when no scheme is set), absent keeps the
 * Host header's port unless the scheme changes away from its default port (Envoy processRequestHost).
 */
export interface Redirect {
  readonly kind: 'redirect';
  readonly status: number;
  readonly scheme?: string;
  readonly authority?: string;
  readonly port?: number | 'request';
  /** path_redirect: replaces the path; the request query is kept unless this one has its own. */
  readonly path?: string;
  readonly prefix?: PrefixRewrite;
}

/**
 * Envoy direct_response. Envoy sends the body as configured (no newline added), `text/plain`
 * unless the route's response headers set a content-type; `bytes` bodies stay binary.
 */
export interface DirectResponse {
  readonly kind: 'direct';
  readonly status: number;
  readonly body: string | Uint8Array;
}

export type RouteAction =
  | {
    readonly kind: 'forward'; readonly clusters: readonly WeightedCluster[]; readonly total: number; readonly rewrite?: Rewrite;
    /** Envoy cluster_not_found_response_code: 500 for HTTPRoute (Gateway API), else 503 NC. */
    readonly clusterNotFoundStatus?: number;
  }
  | Redirect
  | DirectResponse;

export interface RetryPolicy {
  /** Retries after the first try (Envoy num_retries); 0 disables. */
  readonly attempts: number;
  readonly perTryTimeoutMs?: number;
  readonly retryOn: ReadonlySet<string>;
  readonly retriableStatusCodes: ReadonlySet<number>;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /**
   * Envoy's previous_hosts retry predicate: a retry picks another endpoint than those tried (up to
   * 5 picks). Istio's retryIgnorePreviousHosts; unset, it is on unless the cluster hashes consistently.
   */
  readonly avoidPreviousHosts?: boolean;
}

/**
 * Envoy's fault filter as Istio's TranslateFault configures it: a delay first, then (after it) an
 * abort; each with its own draw. A percentage left out is 0 in Envoy, so that fault never fires.
 */
export interface Fault {
  readonly delay?: { readonly ms: number; readonly percent: number };
  /** `grpcStatus`: Envoy answers HTTP 200 with that grpc-status (trailers-only for a gRPC request). */
  readonly abort?: { readonly status: number; readonly grpcStatus?: number; readonly percent: number };
}

export interface Mirror {
  readonly cluster?: string;
  readonly host: string;
  readonly port: number;
  readonly percent: number;
}

export interface Cors {
  readonly allowOrigins: readonly StrMatch[];
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders: string;
  readonly maxAge?: string;
  readonly allowCredentials: boolean;
  /**
   * A preflight from an origin not allowed: `forward` it upstream (Envoy's default, VirtualService
   * FORWARD/UNSPECIFIED) or answer it here without CORS grants (`ignore`: VirtualService IGNORE, and
   * the Gateway API CORS filter, whose preflights never reach the backend).
   */
  readonly unmatchedPreflights: 'forward' | 'ignore';
}

export interface RouteRule {
  /** route_name in logs: `<namespace>.<name>.<rule>` for configured routes, `default` otherwise. */
  readonly name: string;
  /** OR of matches; empty matches everything. */
  readonly matches: readonly RouteMatch[];
  readonly action: RouteAction;
  readonly timeoutMs?: number;
  readonly retry: RetryPolicy;
  readonly fault?: Fault;
  readonly requestHeaders?: HeaderOps;
  readonly responseHeaders?: HeaderOps;
  readonly mirrors: readonly Mirror[];
  readonly cors?: Cors;
}

export interface RouteTable {
  /** Which resource produced it: `VirtualService ns/name`, `HTTPRoute ns/name`, or `default`. */
  readonly source: string;
  readonly rules: readonly RouteRule[];
}

/** One Gateway API route condition, as istiod writes it (metav1.Condition without times). */
export interface RouteCondition {
  readonly type: 'Accepted' | 'ResolvedRefs' | 'ResolvedWaypoints';
  readonly status: 'True' | 'False';
  readonly reason: string;
  readonly message: string;
}

/** status.parents[] of an HTTPRoute (conditions sorted by type, as istiod's setConditions sorts them). */
export interface RouteParentStatus {
  readonly parentRef: { readonly group: string; readonly kind: string; readonly namespace: string; readonly name: string; readonly sectionName?: string; readonly port?: number };
  readonly conditions: readonly RouteCondition[];
  /** Not istiod's: the clusters of this waypoint the route serves through this parent. */
  readonly attachedClusters: readonly string[];
}

export interface HttpRouteStatus {
  readonly namespace: string;
  readonly name: string;
  readonly parents: readonly RouteParentStatus[];
}

/**
 * A VirtualService tls/tcp rule applied to a TCP chain (listener_waypoint.go buildWaypointNetworkFilters):
 * the tunnel's tcp_proxy goes to these clusters instead of the service's own. One destination: its
 * cluster, weight ignored; several: Envoy weighted_clusters over those with weight > 0.
 */
export interface TcpRoute {
  /** `VirtualService <ns>/<name>`. */
  readonly source: string;
  /** The rule that applied: `tls[<i>]` or `tcp[<i>]`. */
  readonly rule: string;
  /** `<source> <rule>`, built once for logs and `check`. */
  readonly name: string;
  /** Cumulative weights; `cluster` absent when the destination is not served here (NC). Never empty. */
  readonly clusters: readonly WeightedCluster[];
  readonly total: number;
  /** tcp_proxy settings from the DestinationRule of the route's first destination host. */
  readonly tcpProxy?: TcpProxySettings;
}

/** VirtualServices have no status in Istio; this says where one applies at this waypoint, and why not elsewhere. */
export interface VirtualServiceStatus {
  readonly namespace: string;
  readonly name: string;
  /** Cluster names whose routes come from this VirtualService. */
  readonly attached: readonly string[];
  readonly ignored: readonly { readonly cluster: string; readonly reason: string }[];
  /** TCP chains (clusters of TCP/TLS ports) whose tunnels this VirtualService's tls/tcp rule routes. */
  readonly tcp?: readonly { readonly cluster: string; readonly rule: string; readonly to: readonly string[] }[];
}

export interface RouteStatus {
  readonly httpRoutes: readonly HttpRouteStatus[];
  readonly virtualServices: readonly VirtualServiceStatus[];
}
