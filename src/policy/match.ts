// Matching one compiled rule against one request. Matchers were built at compile time; here we only
// read attributes (each parsed at most once per request, in RequestView) and compare.
import { cidrContains, parseIp } from '../model/cidr.ts';
import type { Ip } from '../model/cidr.ts';
import type { Constraint, CompiledRule, Matcher, StringMatcher } from '../model/policy.ts';
import type { AuthzRequest } from './request.ts';

/** The request plus lazily parsed attributes, shared by every rule of one decide() call. */
export interface RequestView {
  readonly req: AuthzRequest;
  readonly tcp: boolean;
  ips: Partial<Record<'source.ip' | 'remote.ip' | 'destination.ip', Ip | null>>;
  pathNoQuery?: string;
}

export function viewOf(req: AuthzRequest): RequestView {
  return { req, tcp: req.protocol === 'tcp', ips: {} };
}

export interface RuleResult {
  readonly matched: boolean;
  readonly why: string;
}

/**
 * Rule = (any from) AND (any to) AND (all when). `dropHttp`: the policy is ALLOW and the traffic is
 * TCP, where Istio drops a rule that names an HTTP-only attribute (it can never match). Otherwise, on
 * TCP, HTTP-only constraints are left out, so they count as matched (DENY, AUDIT, CUSTOM).
 */
export function matchRule(rule: CompiledRule, v: RequestView, dropHttp: boolean): RuleResult {
  if (v.tcp && dropHttp && rule.http) {
    return { matched: false, why: `${rule.name}: uses HTTP-only ${rule.httpFields.join(', ')}; on TCP traffic Istio never matches it in an ALLOW policy` };
  }
  const from = rule.from ? anyOf(rule.from, v) : undefined;
  if (from && !from.ok) return { matched: false, why: `${rule.name}: no from matched (${from.why})` };
  const to = rule.to ? anyOf(rule.to, v) : undefined;
  if (to && !to.ok) return { matched: false, why: `${rule.name}: no to matched (${to.why})` };
  const failed = rule.when.find((c) => !matchConstraint(c, v));
  if (failed) return { matched: false, why: `${rule.name}: ${explain(failed, v)}` };
  return { matched: true, why: `${rule.name} matched` };
}

function anyOf(entries: readonly (readonly Constraint[])[], v: RequestView): { ok: boolean; why: string } {
  const reasons: string[] = [];
  for (const entry of entries) {
    const failed = entry.find((c) => !matchConstraint(c, v));
    if (!failed) return { ok: true, why: '' };
    reasons.push(explain(failed, v));
  }
  return { ok: false, why: reasons.join('; ') };
}

function explain(c: Constraint, v: RequestView): string {
  const actual = describeAttribute(c, v);
  const list = c.matchers.map((m) => m.raw).join(', ');
  return c.negate ? `${c.field}: ${actual} is in [${list}]` : `${c.field}: ${actual} not in [${list}]`;
}

function describeAttribute(c: Constraint, v: RequestView): string {
  const a = attribute(c, v);
  if (c.attribute === 'request.jwt') return v.req.claims ? `iss=${String(v.req.claims.iss)} sub=${String(v.req.claims.sub)}` : 'no request principal';
  // `namespaces` reads the mTLS principal, as in Istio: the explanation names what is missing.
  if (a === undefined || a === null) return `no ${c.attribute === 'source.namespace' ? 'source.principal' : c.attribute}${typeof c.arg === 'string' ? `[${c.arg}]` : ''}`;
  if (Array.isArray(a)) return JSON.stringify(a);
  return JSON.stringify(typeof a === 'object' ? String(c.attribute) : a);
}

export function matchConstraint(c: Constraint, v: RequestView): boolean {
  // Istio leaves HTTP-only values out of the generated policy on TCP: the constraint is vacuous.
  if (v.tcp && c.http) return true;
  const value = attribute(c, v);
  let hit = false;
  for (const m of c.matchers) if ((hit = matchValue(m, value, v))) break;
  return c.negate ? !hit : hit;
}

type Value = string | number | Ip | readonly string[] | null | undefined;

function attribute(c: Constraint, v: RequestView): Value {
  const r = v.req;
  switch (c.attribute) {
    case 'source.principal': return r.principal;
    // Istio matches namespaces as a regex on the mTLS principal; a plaintext client identified by pod
    // IP (opt-in) gets a stand-in that only the namespace regex (`.*/ns/<ns>/.*`) can match.
    case 'source.namespace': return r.principal ?? (r.plaintextNamespace !== undefined ? `pod-ip/ns/${r.plaintextNamespace}/` : undefined);
    case 'source.trustDomain': return r.principal === undefined ? undefined : r.principal.split('/', 1)[0];
    case 'source.ip': case 'remote.ip': case 'destination.ip': return ip(c.attribute, v);
    case 'host': return r.host;
    case 'method': return r.method;
    case 'path': return (v.pathNoQuery ??= stripQuery(r.path ?? ''));
    case 'destination.port': return r.destinationPort;
    case 'connection.sni': return r.sni;
    case 'request.headers': return r.headers?.[c.arg as string];
    case 'request.auth.principal': return r.requestPrincipal;
    case 'request.auth.audiences': return claimList(r.claims?.aud);
    case 'request.auth.presenter': return claimList(r.claims?.azp);
    case 'request.auth.claims': return claimList(claimAt(r.claims, c.arg as readonly string[]));
    case 'request.jwt': return r.claims ? null : undefined;
    default: return undefined;
  }
}

function ip(key: 'source.ip' | 'remote.ip' | 'destination.ip', v: RequestView): Ip | null {
  const cached = v.ips[key];
  if (cached !== undefined) return cached;
  const text = key === 'source.ip' ? v.req.sourceIp : key === 'remote.ip' ? (v.req.remoteIp ?? v.req.sourceIp) : v.req.destinationIp;
  return (v.ips[key] = text ? parseIp(text) ?? null : null);
}

function stripQuery(path: string): string {
  const q = path.search(/[?#]/);
  return q < 0 ? path : path.slice(0, q);
}

function claimAt(claims: Readonly<Record<string, unknown>> | undefined, path: readonly string[]): unknown {
  let cur: unknown = claims;
  for (const k of path) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

function claimList(value: unknown): readonly string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((x): x is string => typeof x === 'string');
  return undefined;
}

function matchValue(m: Matcher, value: Value, v: RequestView): boolean {
  switch (m.kind) {
    case 'cidr': return value !== null && typeof value === 'object' && 'family' in value && cidrContains(m.cidr, value);
    case 'port': return value === m.port;
    case 'jwt-principal': {
      const claims = v.req.claims;
      return !!claims && matchString(m.iss, asString(claims.iss)) && matchString(m.sub, asString(claims.sub));
    }
    case 'regex': return typeof value === 'string' && m.regex.test(value);
    default:
      if (Array.isArray(value)) return value.some((x) => matchString(m, x));
      return matchString(m, typeof value === 'string' ? value : undefined);
  }
}

function asString(x: unknown): string | undefined {
  return typeof x === 'string' ? x : undefined;
}

export function matchString(m: StringMatcher, raw: string | undefined): boolean {
  if (raw === undefined) return false;
  const s = m.ignoreCase ? raw.toLowerCase() : raw;
  switch (m.kind) {
    case 'presence': return s.length > 0;
    case 'exact': return s === m.value;
    case 'prefix': return s.startsWith(m.value);
    case 'suffix': return s.endsWith(m.value);
  }
}
