// Istio RequestAuthentication (security.istio.io v1, v1beta1). The wire type mirrors
// security/v1beta1/request_authentication.proto and jwt.proto field for field. Rules follow Istio's
// ValidateRequestAuthentication / validateJwtRule, with Istio's messages where it has them.
import { parseDurationMs } from '../duration.ts';
import type { Diagnostic } from '../../model/diagnostic.ts';
import type { Reporter } from '../diag.ts';
import type { Resource } from '../resource.ts';
import { s } from '../schema.ts';
import type { Path } from '../schema.ts';
import type { PolicyTargetReference } from './authorization-policy.ts';
import { checkSelection } from './authorization-policy-rules.ts';
import { validateKind } from './common.ts';
import type { Rules, ValidationOptions } from './common.ts';

export interface JwtHeader {
  readonly name: string;
  readonly prefix?: string;
}

export interface JwtRule {
  readonly issuer?: string;
  readonly audiences?: readonly string[];
  readonly jwksUri?: string;
  readonly jwks?: string;
  readonly fromHeaders?: readonly JwtHeader[];
  readonly fromParams?: readonly string[];
  readonly fromCookies?: readonly string[];
  readonly outputPayloadToHeader?: string;
  readonly forwardOriginalToken?: boolean;
  readonly outputClaimToHeaders?: readonly { readonly header: string; readonly claim: string }[];
  /** JWKS fetch timeout, a duration such as `5s`. */
  readonly timeout?: string;
  /** Claims split on spaces into lists before authorization matches them (besides `scope` and `permission`). */
  readonly spaceDelimitedClaims?: readonly string[];
}

export interface RequestAuthenticationSpec {
  readonly selector?: { readonly matchLabels?: Readonly<Record<string, string>> };
  readonly targetRef?: PolicyTargetReference;
  readonly targetRefs?: readonly PolicyTargetReference[];
  readonly jwtRules?: readonly JwtRule[];
}

const strings = s.array(s.string());
const targetRefSchema = s.object({ group: s.string(), kind: s.string(), name: s.string(), namespace: s.string() }, { required: ['kind'] });

const shape = {
  spec: s.object({
    selector: s.object({ matchLabels: s.map(s.string()) }),
    targetRef: targetRefSchema,
    targetRefs: s.array(targetRefSchema),
    jwtRules: s.array(s.object({
      issuer: s.string(), audiences: strings, jwksUri: s.string(), jwks: s.string(),
      fromHeaders: s.array(s.object({ name: s.string(), prefix: s.string() })),
      fromParams: strings, fromCookies: strings, outputPayloadToHeader: s.string(),
      forwardOriginalToken: s.boolean(),
      outputClaimToHeaders: s.array(s.object({ header: s.string(), claim: s.string() })),
      timeout: s.string(), spaceDelimitedClaims: strings,
    })),
  }),
  status: s.object({}, { open: true }),
};

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** `5s`, `500ms`, `1m30s` -> milliseconds; undefined when malformed. */
export const durationMs = parseDurationMs;

const requestAuthenticationRules: Rules<RequestAuthenticationSpec> = (spec, _r, report) => {
  checkSelection(spec, report);
  (spec.jwtRules ?? []).forEach((rule, i) => checkJwtRule(rule, ['spec', 'jwtRules', i], report));
};

function checkJwtRule(rule: JwtRule, path: Path, report: Reporter): void {
  if (!rule.issuer && !rule.jwksUri) report.error([...path, 'issuer'], 'issuer or jwksUri must be non-empty string', 'set issuer to the token\'s iss claim');
  rule.audiences?.forEach((a, k) => { if (!a) report.error([...path, 'audiences', k], 'audience must be non-empty string', 'remove the empty audience'); });
  if (rule.jwksUri) {
    const problem = jwksUriProblem(rule.jwksUri);
    if (problem) report.error([...path, 'jwksUri'], problem, 'use an http:// or https:// URL');
  }
  if (rule.jwks) {
    const problem = jwksProblem(rule.jwks);
    if (problem) report.error([...path, 'jwks'], `jwks parse error: ${problem}`, 'paste a JSON Web Key Set: {"keys": [...]}');
  }
  rule.fromHeaders?.forEach((h, k) => { if (!h.name) report.error([...path, 'fromHeaders', k, 'name'], 'location header name must be non-empty string', 'name the header, e.g. x-jwt-assertion'); });
  rule.fromParams?.forEach((p, k) => { if (!p) report.error([...path, 'fromParams', k], 'location query must be non-empty string', 'name the query parameter'); });
  rule.fromCookies?.forEach((c, k) => { if (!c) report.error([...path, 'fromCookies', k], 'cookie name must be non-empty string', 'name the cookie'); });
  rule.outputClaimToHeaders?.forEach((o, k) => {
    const at = [...path, 'outputClaimToHeaders', k];
    if (!o.header || !o.claim) report.error(at, 'outputClaimToHeaders header and claim value must be non-empty string', 'set both header and claim');
    else if (!HEADER_NAME.test(o.header)) report.error([...at, 'header'], `invalid header name ${o.header}`, 'use a token header name such as x-jwt-sub');
  });
  if (rule.outputPayloadToHeader !== undefined && rule.outputPayloadToHeader !== '' && !HEADER_NAME.test(rule.outputPayloadToHeader)) {
    report.error([...path, 'outputPayloadToHeader'], `invalid header name ${rule.outputPayloadToHeader}`, 'use a token header name such as x-jwt-payload');
  }
  if (rule.timeout !== undefined) {
    const ms = durationMs(rule.timeout);
    if (ms === undefined) report.error([...path, 'timeout'], `invalid duration ${JSON.stringify(rule.timeout)}`, 'write a duration such as 5s');
    else if (ms < 1) report.error([...path, 'timeout'], 'duration must be greater than 1ms', 'use at least 1ms');
  }
}

function jwksUriProblem(uri: string): string | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return `invalid jwks URI ${uri}`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `jwks URI ${uri} must use scheme http or https`;
  return u.hostname ? undefined : `jwks URI ${uri} has no host`;
}

function jwksProblem(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return 'Jwks does not have [keys] field';
  return keys.every((k) => k && typeof k === 'object' && typeof (k as { kty?: unknown }).kty === 'string') ? undefined : '[kty] is missing in [keys]';
}

export function validateRequestAuthentication(r: Resource, options: ValidationOptions = {}): Diagnostic[] {
  return validateKind<RequestAuthenticationSpec>(r, shape, requestAuthenticationRules, options);
}
