// RequestAuthentication at run time, as Envoy's jwt_authn filter runs it for Istio: every token found
// in a configured location must verify (a bad token next to a good one fails the request); no token
// passes authentication with no request principal. Failures answer with jwt_verify_lib's status
// strings, 401 (403 for audiences), so clients see what Envoy would say.
import type { JWTPayload, JWSHeaderParameters, FlattenedJWSInput, compactVerify } from 'jose';
import { loadJose } from './jose-lazy.ts';
import type { CompiledJwtRule, JwtLocation } from '../model/authn.ts';
import type { JwksCache, KeyLookup } from './jwks-cache.ts';
import type { HeaderEdits } from './request.ts';

export const JWT_STATUS = {
  badFormat: 'Jwt is not in the form of Header.Payload.Signature',
  headerParse: 'Jwt header is an invalid Base64url input or an invalid JSON',
  badAlg: 'Jwt header [alg] field is not a string',
  algNotImplemented: 'Jwt header [alg] field value is invalid',
  payloadParse: 'Jwt payload is an invalid Base64 or an invalid JSON',
  unknownIssuer: 'Jwt issuer is not configured',
  notYetValid: 'Jwt not yet valid',
  expired: 'Jwt is expired',
  audience: 'Audiences in Jwt are not allowed',
  verification: 'Jwt verification fails',
  noKey: 'Jwks doesn\'t have key to match kid or alg from Jwt',
  fetchFail: 'Jwks remote fetch is failed',
} as const;

/** jwt_verify_lib kClockSkewInSecond. */
const CLOCK_SKEW_S = 60;

export interface JwtInput {
  /** Lower-cased header names, as Node gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Request path with its query, for fromParams. */
  readonly path: string;
}

export type JwtOutcome =
  | { readonly kind: 'none' }
  | { readonly kind: 'ok'; readonly principal: string; readonly claims: Readonly<Record<string, unknown>>; readonly edits: HeaderEdits; readonly policy: string }
  | { readonly kind: 'fail'; readonly status: 401 | 403; readonly message: string; readonly details: string; readonly reason: string };

interface Found {
  readonly token: string;
  readonly location: JwtLocation;
  /** The rules that read this location: the only issuers accepted for a token found there. */
  readonly rules: readonly CompiledJwtRule[];
}

const NONE: JwtOutcome = { kind: 'none' };

/** Sync when no token is present (the common case); a Promise when a signature must be checked. */
export function authenticate(rules: readonly CompiledJwtRule[], input: JwtInput, jwks: JwksCache): JwtOutcome | Promise<JwtOutcome> {
  const found = extractTokens(rules, input);
  if (found.length === 0) return NONE;
  return verifyAll(found, jwks);
}

function locationKey(l: JwtLocation): string {
  return l.kind === 'header' ? `h:${l.name}:${l.prefix}` : `${l.kind[0]}:${l.name}`;
}

export function extractTokens(rules: readonly CompiledJwtRule[], input: JwtInput): Found[] {
  const byLocation = new Map<string, { location: JwtLocation; rules: CompiledJwtRule[] }>();
  for (const rule of rules) {
    for (const location of rule.locations) {
      const k = locationKey(location);
      const e = byLocation.get(k) ?? byLocation.set(k, { location, rules: [] }).get(k)!;
      e.rules.push(rule);
    }
  }
  const out: Found[] = [];
  let query: URLSearchParams | undefined;
  for (const { location, rules: rs } of byLocation.values()) {
    let values: string[] = [];
    if (location.kind === 'header') values = headerTokens(input.headers[location.name], location.prefix);
    else if (location.kind === 'param') {
      const q = input.path.indexOf('?');
      if (q >= 0) values = (query ??= new URLSearchParams(input.path.slice(q + 1))).getAll(location.name);
    } else values = cookieTokens(input.headers.cookie, location.name);
    for (const token of values) if (token && !out.some((f) => f.token === token)) out.push({ token, location, rules: rs });
  }
  return out;
}

// Envoy takes the value after the prefix, then the run of base64url characters and dots.
function headerTokens(value: string | string[] | undefined, prefix: string): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const v of Array.isArray(value) ? value : [value]) {
    let rest = v;
    if (prefix) {
      const at = v.indexOf(prefix);
      if (at < 0) continue;
      rest = v.slice(at + prefix.length);
    }
    const m = /^[A-Za-z0-9\-_.=+/]+/.exec(rest.trim());
    if (m) out.push(m[0]);
  }
  return out;
}

function cookieTokens(value: string | string[] | undefined, name: string): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const line of Array.isArray(value) ? value : [value]) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === name) out.push(part.slice(eq + 1).trim());
    }
  }
  return out;
}

async function verifyAll(found: readonly Found[], jwks: JwksCache): Promise<JwtOutcome> {
  const remove = new Set<string>();
  const set = new Map<string, string>();
  let first: { principal: string; claims: JWTPayload; policy: string } | undefined;
  for (const f of found) {
    const r = await verifyOne(f, jwks);
    if ('fail' in r) return r.fail;
    first ??= { principal: principalOf(r.payload), claims: rbacClaims(r.payload, r.rule), policy: r.rule.policy };
    if (!r.rule.forwardOriginalToken && f.location.kind === 'header') remove.add(f.location.name);
    if (r.rule.outputPayloadToHeader) set.set(r.rule.outputPayloadToHeader, f.token.split('.')[1]!);
    for (const [h, v] of claimHeaders(r.payload, r.rule)) set.set(h, v);
  }
  return { kind: 'ok', ...first!, edits: { remove: [...remove], set: [...set] } };
}

/**
 * Envoy's normalize_payload_in_metadata: each named top-level claim that is a string becomes the list
 * of its space-separated words (empty words dropped), so `scope: "read write"` matches `read`. Only
 * what authorization reads is changed; outputClaimToHeaders still sees the token's own value.
 */
export function splitSpaceDelimited(payload: JWTPayload, names: readonly string[]): JWTPayload {
  let out: JWTPayload | undefined;
  for (const name of names) {
    const v = payload[name];
    if (typeof v !== 'string') continue;
    (out ??= { ...payload })[name] = v.split(' ').filter((w) => w !== '');
  }
  return out ?? payload;
}

type One = { payload: JWTPayload; rule: CompiledJwtRule } | { fail: JwtOutcome & { kind: 'fail' } };

function fail(message: string, reason: string, status: 401 | 403 = 401): { fail: JwtOutcome & { kind: 'fail' } } {
  return { fail: { kind: 'fail', status, message, details: `jwt_authn_access_denied{${message.replace(/\s/g, '_')}}`, reason } };
}

/** jwt_verify_lib's order: parse, issuer, time, audience, then the signature. */
async function verifyOne(f: Found, jwks: JwksCache): Promise<One> {
  const parts = f.token.split('.');
  if (parts.length !== 3) return fail(JWT_STATUS.badFormat, `token in ${describe(f.location)} is not a JWS compact token`);
  let header: JWSHeaderParameters;
  let payload: JWTPayload;
  const { decodeJwt, decodeProtectedHeader } = await loadJose();
  try { header = decodeProtectedHeader(f.token) as JWSHeaderParameters; } catch { return fail(JWT_STATUS.headerParse, `token in ${describe(f.location)} has an unreadable header`); }
  if (typeof header.alg !== 'string') return fail(JWT_STATUS.badAlg, 'token header has no alg');
  try { payload = decodeJwt(f.token); } catch { return fail(JWT_STATUS.payloadParse, `token in ${describe(f.location)} has an unreadable payload`); }
  const checked = checkClaims(f.rules, payload, describe(f.location));
  if ('fail' in checked) return checked;
  const rule = checked.rule;
  const keys = await jwks.keysFor(rule);
  if ('error' in keys) return fail(JWT_STATUS.fetchFail, `JWKS for ${rule.issuer} unavailable: ${keys.error}`);
  return (await signatureOk(f.token, header, keys.lookup)) ?? { payload, rule };
}

/** The claims-only steps of jwt_verify_lib, in its order: issuer, time, audience. */
function checkClaims(rules: readonly CompiledJwtRule[], payload: JWTPayload, where: string): { rule: CompiledJwtRule } | ReturnType<typeof fail> {
  const rule = rules.find((r) => r.issuer === '' || r.issuer === payload.iss);
  if (!rule) return fail(JWT_STATUS.unknownIssuer, `issuer ${JSON.stringify(payload.iss ?? '')} is not configured for ${where} (expected ${rules.map((r) => r.issuer).join(', ')})`);
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.nbf === 'number' && payload.nbf > now + CLOCK_SKEW_S) return fail(JWT_STATUS.notYetValid, `nbf ${payload.nbf} is in the future`);
  if (typeof payload.exp === 'number' && payload.exp + CLOCK_SKEW_S < now) return fail(JWT_STATUS.expired, `token of ${payload.iss} expired at ${new Date(payload.exp * 1000).toISOString()}`);
  if (!audienceAllowed(rule.audiences, payload.aud)) return fail(JWT_STATUS.audience, `aud ${JSON.stringify(payload.aud ?? null)} is not in [${rule.audiences.join(', ')}] (${rule.policy})`, 403);
  return { rule };
}

/**
 * What jwt_authn would hand RBAC for a token carrying `claims` whose signature verified: the same
 * issuer, time and audience checks and the same outcome as a real token, for `egressway check
 * --claims`. Every rule that applies is a candidate, since no token location is known.
 */
export function assumeVerified(rules: readonly CompiledJwtRule[], claims: Readonly<Record<string, unknown>>): JwtOutcome {
  const payload = claims as JWTPayload;
  const checked = checkClaims(rules, payload, 'the asserted claims');
  if ('fail' in checked) return checked.fail;
  return { kind: 'ok', principal: principalOf(payload), claims: rbacClaims(payload, checked.rule), edits: { remove: [], set: claimHeaders(payload, checked.rule) }, policy: checked.rule.policy };
}

/** outputClaimToHeaders: the rule's headers for the payload's scalar claims. */
function claimHeaders(payload: JWTPayload, rule: CompiledJwtRule): [string, string][] {
  const out: [string, string][] = [];
  for (const o of rule.outputClaimToHeaders) {
    const v = payload[o.claim];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push([o.header, String(v)]);
  }
  return out;
}

/**
 * The claims RBAC reads (request.auth.claims, audiences, presenter) from a verified payload, with the
 * rule's space-delimited claims split. The listener and `check --claims` both go through here.
 */
function rbacClaims(payload: JWTPayload, rule: CompiledJwtRule): Readonly<Record<string, unknown>> {
  return splitSpaceDelimited(payload, rule.spaceDelimitedClaims);
}

/** request.auth.principal: `iss/sub`, as Istio builds it from the verified payload. */
function principalOf(payload: JWTPayload): string {
  return `${payload.iss ?? ''}/${payload.sub ?? ''}`;
}

async function signatureOk(token: string, header: JWSHeaderParameters, lookup: KeyLookup): Promise<ReturnType<typeof fail> | undefined> {
  let candidates: unknown[];
  try {
    candidates = [await lookup(header, { payload: '', signature: '' } as FlattenedJWSInput)];
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') {
      candidates = [];
      for await (const k of err as AsyncIterable<unknown>) candidates.push(k);
    } else if (code === 'ERR_JOSE_NOT_SUPPORTED') return fail(JWT_STATUS.algNotImplemented, `alg ${header.alg} is not supported`);
    else return fail(JWT_STATUS.noKey, `no key in the JWKS matches kid ${JSON.stringify(header.kid ?? null)} alg ${header.alg}`);
  }
  const { compactVerify } = await loadJose();
  for (const key of candidates) {
    try {
      await compactVerify(token, key as Parameters<typeof compactVerify>[1] & object);
      return undefined;
    } catch { /* try the next key */ }
  }
  return fail(JWT_STATUS.verification, `signature does not verify with the JWKS (kid ${JSON.stringify(header.kid ?? null)})`);
}

// Envoy's CheckAudience ignores an http(s):// scheme and a trailing slash on both sides.
function normAud(a: string): string {
  return a.replace(/^https?:\/\//, '').replace(/\/$/, '');
}

function audienceAllowed(allowed: readonly string[], aud: JWTPayload['aud']): boolean {
  if (allowed.length === 0) return true;
  const got = (Array.isArray(aud) ? aud : aud === undefined ? [] : [aud]).map(normAud);
  return allowed.some((a) => got.includes(normAud(a)));
}

function describe(l: JwtLocation): string {
  return l.kind === 'header' ? `header ${l.name}` : l.kind === 'param' ? `query parameter ${l.name}` : `cookie ${l.name}`;
}


