// Compiled AuthorizationPolicies, shaped for lookups: indexed by target at compile time, split by
// action, each rule flattened to AND-ed constraints over precompiled matchers. Only compile/ builds
// these; policy/decide.ts reads them. No matcher is built per request.
import type { CompiledJwtRule, ExtAuthzHttpProvider } from './authn.ts';
import type { Cidr } from './cidr.ts';

export type AuthzAction = 'CUSTOM' | 'DENY' | 'ALLOW' | 'AUDIT';

/**
 * Istio's string matching (matcher/string.go): exact `abc`, prefix `abc*`, suffix `*abc`, presence
 * `*` (non-empty). A `*` elsewhere is literal. Hosts match case-insensitively (value lower-cased).
 */
export interface StringMatcher {
  readonly kind: 'exact' | 'prefix' | 'suffix' | 'presence';
  readonly value: string;
  readonly ignoreCase: boolean;
  readonly raw: string;
}

/** Where Istio generates a regex (namespaces, serviceAccounts, path templates), built at compile time. */
export interface RegexMatcher {
  readonly kind: 'regex';
  readonly regex: RegExp;
  readonly raw: string;
}

export interface CidrMatcher {
  readonly kind: 'cidr';
  readonly cidr: Cidr;
  readonly raw: string;
}

export interface PortMatcher {
  readonly kind: 'port';
  readonly port: number;
  readonly raw: string;
}

/** requestPrincipals `iss/sub`: Istio splits at the last `/` and matches the two claims separately. */
export interface JwtPrincipalMatcher {
  readonly kind: 'jwt-principal';
  readonly iss: StringMatcher;
  readonly sub: StringMatcher;
  readonly raw: string;
}

export type Matcher = StringMatcher | RegexMatcher | CidrMatcher | PortMatcher | JwtPrincipalMatcher;

/** The request attribute a constraint reads. `arg` is the header name or the claim path. */
export type Attribute =
  | 'source.principal' | 'source.namespace' | 'source.serviceAccount' | 'source.trustDomain'
  | 'source.ip' | 'remote.ip' | 'request.auth.principal' | 'request.auth.audiences' | 'request.auth.presenter'
  | 'request.auth.claims' | 'request.headers' | 'request.jwt'
  | 'host' | 'method' | 'path' | 'destination.ip' | 'destination.port' | 'connection.sni'
  /** experimental.envoy.filters.* keys: Envoy filter metadata Egressway does not have; never matches. */
  | 'unsupported';

/** One AND-ed term: any of `matchers` matches the attribute (negated for `not*` and `notValues`). */
export interface Constraint {
  /** Field path for explanations, e.g. `to[0].operation.notPaths`. */
  readonly field: string;
  readonly attribute: Attribute;
  readonly arg?: string | readonly string[];
  readonly negate: boolean;
  /** HTTP-only attribute: on TCP traffic it never matches in ALLOW and is ignored (matches) otherwise. */
  readonly http: boolean;
  readonly matchers: readonly Matcher[];
}

export interface CompiledRule {
  readonly index: number;
  /** Envoy's policy name: `ns[<ns>]-policy[<name>]-rule[<i>]`. */
  readonly name: string;
  /** Absent `from`: matches any source. Otherwise any entry, each entry's constraints all. */
  readonly from?: readonly (readonly Constraint[])[];
  readonly to?: readonly (readonly Constraint[])[];
  readonly when: readonly Constraint[];
  /** Some constraint is HTTP-only: Istio drops the whole rule from ALLOW policies on TCP traffic. */
  readonly http: boolean;
  readonly httpFields: readonly string[];
}

export interface CompiledPolicy {
  /** `namespace/name`. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly action: AuthzAction;
  readonly dryRun: boolean;
  /** CUSTOM only: meshConfig extensionProviders[].name. */
  readonly provider?: string;
  /** Waypoint-wide (Gateway or GatewayClass) or one ServiceEntry. */
  readonly scope: 'waypoint' | 'service';
  /** Empty when `rules` is absent: such a policy never matches. */
  readonly rules: readonly CompiledRule[];
}

/** The policies that apply to one target, pre-split by action. Each list is in Envoy evaluation order. */
export interface PolicySet {
  readonly custom: readonly CompiledPolicy[];
  readonly deny: readonly CompiledPolicy[];
  readonly allow: readonly CompiledPolicy[];
  readonly audit: readonly CompiledPolicy[];
  /** Dry-run policies, evaluated in shadow: never enforced, reported as "would deny". */
  readonly dryRunDeny: readonly CompiledPolicy[];
  readonly dryRunAllow: readonly CompiledPolicy[];
  /** RequestAuthentication jwtRules that apply to the target (waypoint-wide ones first), merged as Istio does. */
  readonly jwt: readonly CompiledJwtRule[];
}

export interface AuthzTable {
  /** Waypoint-wide policies only: for traffic that matched no ServiceEntry (ALLOW_ANY passthrough). */
  readonly waypoint: PolicySet;
  /** ServiceEntry `namespace/name` -> waypoint-wide plus that entry's policies, merged once. */
  readonly services: ReadonlyMap<string, PolicySet>;
  /** Every compiled policy, sorted by key, for config dumps and `egressway check`. */
  readonly policies: readonly CompiledPolicy[];
  /** meshConfig extensionProviders (envoyExtAuthzHttp) by name, for CUSTOM policies. */
  readonly providers: ReadonlyMap<string, ExtAuthzHttpProvider>;
  /** meshConfig gatewayTopology.numTrustedProxies / --num-trusted-proxies: X-Forwarded-For hops trusted for remote.ip. */
  readonly numTrustedProxies: number;
  /** meshConfig pathNormalization.normalization (DEFAULT is BASE): applied to the path before routing and policy. */
  readonly pathNormalization: PathNormalization;
}

/** Istio meshConfig ProxyPathNormalization, DEFAULT resolved to BASE. */
export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

export const EMPTY_POLICY_SET: PolicySet = { custom: [], deny: [], allow: [], audit: [], dryRunDeny: [], dryRunAllow: [], jwt: [] };
