// Compiled HTTP routes: what VirtualService and HTTPRoute say, shaped for one pass per request.
// Matchers are precompiled (regexes built once per snapshot); weights are cumulative.

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
}

export interface Rewrite {
  /** Replace the matched prefix (VirtualService prefix match, HTTPRoute ReplacePrefixMatch). */
  readonly prefix?: { readonly match: string; readonly replacement: string };
  readonly fullPath?: string;
  readonly regex?: { readonly re: RegExp; readonly replacement: string };
  readonly authority?: string;
}

export type RouteAction =
  | { readonly kind: 'forward'; readonly clusters: readonly WeightedCluster[]; readonly total: number; readonly rewrite?: Rewrite }
  | { readonly kind: 'redirect'; readonly status: number; readonly scheme?: string; readonly authority?: string; readonly port?: number; readonly path?: string; readonly prefix?: { readonly match: string; readonly replacement: string } }
  | { readonly kind: 'direct'; readonly status: number; readonly body: string };

export interface RetryPolicy {
  /** Retries after the first try (Envoy num_retries); 0 disables. */
  readonly attempts: number;
  readonly perTryTimeoutMs?: number;
  readonly retryOn: ReadonlySet<string>;
  readonly retriableStatusCodes: ReadonlySet<number>;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

export interface Fault {
  readonly delay?: { readonly ms: number; readonly percent: number };
  readonly abort?: { readonly status: number; readonly percent: number };
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
