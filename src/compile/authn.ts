// RequestAuthentication -> per-target jwtRules, and meshConfig extensionProviders -> ext-authz
// providers. PURE. Targeting is AuthorizationPolicy's (compile/policies.ts targetsOf), so both kinds
// attach the same way; jwtRules of every RequestAuthentication that applies are merged, as Istio does.
import type { Resource } from '../config/resource.ts';
import { durationMs } from '../config/kinds/request-authentication.ts';
import type { JwtRule, RequestAuthenticationSpec } from '../config/kinds/request-authentication.ts';
import type { CompiledJwtRule, ExtAuthzHttpProvider, JwtLocation } from '../model/authn.ts';
import { CODES } from '../model/codes.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import { stringMatcher } from './policy-matchers.ts';

/** meshConfig.extensionProviders[] as written in the mesh config (only envoyExtAuthzHttp is read). */
export interface ExtensionProviderConfig {
  readonly name?: string;
  readonly envoyExtAuthzHttp?: {
    readonly service?: string;
    readonly port?: number | string;
    readonly timeout?: string;
    readonly pathPrefix?: string;
    readonly failOpen?: boolean;
    readonly statusOnError?: string;
    readonly includeRequestHeadersInCheck?: readonly string[];
    readonly includeAdditionalHeadersInCheck?: Readonly<Record<string, string>>;
    readonly headersToUpstreamOnAllow?: readonly string[];
    readonly headersToDownstreamOnAllow?: readonly string[];
    readonly headersToDownstreamOnDeny?: readonly string[];
  };
  readonly [other: string]: unknown;
}

export type RA = Resource<RequestAuthenticationSpec>;

export function isRequestAuthentication(r: Resource): r is RA {
  return r.kind === 'RequestAuthentication' && r.group === 'security.istio.io';
}

/** Istio's default JWKS fetch timeout (jwt.proto `timeout`). */
const JWKS_TIMEOUT_MS = 5000;
const DEFAULT_LOCATIONS: readonly JwtLocation[] = [
  { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
  { kind: 'param', name: 'access_token' },
];

/** authn/policy_applier.go buildSpaceDelimitedClaims: these two are split whatever the rule says. */
const ALWAYS_SPACE_DELIMITED = ['scope', 'permission'];

export function compileJwtRules(ra: RA): CompiledJwtRule[] {
  const policy = `${ra.metadata.namespace}/${ra.metadata.name}`;
  return (ra.spec.jwtRules ?? []).map((r) => compileJwtRule(r, policy));
}

function compileJwtRule(r: JwtRule, policy: string): CompiledJwtRule {
  const locations: JwtLocation[] = [
    ...(r.fromHeaders ?? []).map((h) => ({ kind: 'header', name: h.name.toLowerCase(), prefix: h.prefix ?? '' }) as const),
    ...(r.fromParams ?? []).map((name) => ({ kind: 'param', name }) as const),
    ...(r.fromCookies ?? []).map((name) => ({ kind: 'cookie', name }) as const),
  ];
  return {
    policy, issuer: r.issuer ?? '', audiences: r.audiences ?? [],
    ...(r.jwks ? { jwks: r.jwks } : {}), ...(r.jwksUri ? { jwksUri: r.jwksUri } : {}),
    timeoutMs: (r.timeout !== undefined ? durationMs(r.timeout) : undefined) ?? JWKS_TIMEOUT_MS,
    locations: locations.length > 0 ? locations : DEFAULT_LOCATIONS,
    ...(r.outputPayloadToHeader ? { outputPayloadToHeader: r.outputPayloadToHeader.toLowerCase() } : {}),
    outputClaimToHeaders: (r.outputClaimToHeaders ?? []).map((o) => ({ header: o.header.toLowerCase(), claim: o.claim })),
    forwardOriginalToken: r.forwardOriginalToken ?? false,
    spaceDelimitedClaims: [...new Set([...ALWAYS_SPACE_DELIMITED, ...(r.spaceDelimitedClaims ?? [])])],
  };
}

/** Istio's default ext-authz timeout (meshconfig EnvoyExternalAuthorizationHttpProvider.timeout). */
const EXT_AUTHZ_TIMEOUT_MS = 600_000;

export function compileProviders(list: readonly ExtensionProviderConfig[] | undefined, diagnostics: Diagnostic[]): Map<string, ExtAuthzHttpProvider> {
  const out = new Map<string, ExtAuthzHttpProvider>();
  (list ?? []).forEach((p, i) => {
    const http = p.envoyExtAuthzHttp;
    if (!p.name || !http) return;
    const port = Number(http.port);
    const problem = !http.service ? 'service must be set' : !Number.isInteger(port) || port < 1 || port > 65535 ? `port ${String(http.port)} must be 1..65535` : undefined;
    if (problem) {
      diagnostics.push(meshDiag(`extensionProviders[${i}].envoyExtAuthzHttp`, `provider ${p.name}: ${problem}; CUSTOM policies using it deny every request they match`));
      return;
    }
    const timeout = http.timeout !== undefined ? durationMs(http.timeout) : EXT_AUTHZ_TIMEOUT_MS;
    const matchers = (v?: readonly string[]) => (v ?? []).map((x) => stringMatcher(x, true));
    out.set(p.name, {
      name: p.name, host: http.service!.includes('/') ? http.service!.slice(http.service!.indexOf('/') + 1) : http.service!, port,
      timeoutMs: timeout ?? EXT_AUTHZ_TIMEOUT_MS, pathPrefix: http.pathPrefix ?? '', failOpen: http.failOpen ?? false,
      statusOnError: /^\d{3}$/.test(http.statusOnError ?? '') ? Number(http.statusOnError) : 403,
      includeRequestHeadersInCheck: matchers(http.includeRequestHeadersInCheck),
      includeAdditionalHeadersInCheck: http.includeAdditionalHeadersInCheck ?? {},
      headersToUpstreamOnAllow: matchers(http.headersToUpstreamOnAllow),
      headersToDownstreamOnAllow: matchers(http.headersToDownstreamOnAllow),
      headersToDownstreamOnDeny: matchers(http.headersToDownstreamOnDeny),
    });
  });
  return out;
}

function meshDiag(path: string, message: string): Diagnostic {
  return { code: CODES.SchemaWarning.code, level: 'warning', message, hint: 'fix the provider in --mesh-config', file: 'mesh-config', path };
}
