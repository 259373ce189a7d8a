// Compiled RequestAuthentication jwtRules and meshConfig ext-authz providers, shaped for the data
// plane. Only compile/ builds these; policy/jwt.ts and policy/ext-authz.ts read them.
import type { StringMatcher } from './policy.ts';

/** Where a token is read: a header (value after `prefix`), a query parameter or a cookie. */
export type JwtLocation =
  | { readonly kind: 'header'; readonly name: string; readonly prefix: string }
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string };

export interface CompiledJwtRule {
  /** `namespace/name` of the RequestAuthentication, for explanations. */
  readonly policy: string;
  readonly issuer: string;
  /** Empty: any audience (Envoy checks `aud` only when audiences are configured). */
  readonly audiences: readonly string[];
  /** Inline JWKS JSON text; wins over jwksUri, as in Istio. */
  readonly jwks?: string;
  readonly jwksUri?: string;
  /** JWKS fetch timeout (ms). */
  readonly timeoutMs: number;
  /** Envoy defaults when neither fromHeaders nor fromParams is set: `Authorization: Bearer ` and `access_token`. */
  readonly locations: readonly JwtLocation[];
  readonly outputPayloadToHeader?: string;
  readonly outputClaimToHeaders: readonly { readonly header: string; readonly claim: string }[];
  readonly forwardOriginalToken: boolean;
  /**
   * Envoy normalize_payload_in_metadata.space_delimited_claims as Istio sets it: `scope`, `permission`
   * and the rule's spaceDelimitedClaims. A string claim named here is matched as its space-separated words.
   */
  readonly spaceDelimitedClaims: readonly string[];
}

/** meshConfig.extensionProviders[].envoyExtAuthzHttp, compiled. */
export interface ExtAuthzHttpProvider {
  readonly name: string;
  /** Host to call (the `ns/` prefix Istio allows is dropped) and port. */
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly pathPrefix: string;
  readonly failOpen: boolean;
  readonly statusOnError: number;
  readonly includeRequestHeadersInCheck: readonly StringMatcher[];
  readonly includeAdditionalHeadersInCheck: Readonly<Record<string, string>>;
  readonly headersToUpstreamOnAllow: readonly StringMatcher[];
  readonly headersToDownstreamOnAllow: readonly StringMatcher[];
  readonly headersToDownstreamOnDeny: readonly StringMatcher[];
}
