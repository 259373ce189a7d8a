// Authorization at the listener, in the order of a waypoint's HTTP filter chain (reference §2.2):
// ext-authz (CUSTOM) -> jwt_authn (RequestAuthentication) -> RBAC (DENY, ALLOW). The common case
// (no policy and no RequestAuthentication on the destination) returns undefined without building a
// request. It stays synchronous unless a token must be verified or a CUSTOM provider asked.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Identity } from '../model/identity.ts';
import type { PolicySet } from '../model/policy.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { customDenied, decide, type CustomCall, type Decision } from '../policy/decide.ts';
import { checkExtAuthz, type ExtAuthzCheck, type ExtAuthzResult } from '../policy/ext-authz.ts';
import { JwksCache } from '../policy/jwks-cache.ts';
import { authenticate, type JwtOutcome } from '../policy/jwt.ts';
import type { AuthzRequest, HeaderEdits } from '../policy/request.ts';
import type { ExtAuthzHttpProvider } from '../model/authn.ts';
import type { RequestRecord } from '../telemetry/record.ts';
import { FAILURES, type FailureCode } from './errors.ts';
import { sendLocal } from './grpc-reply.ts';
import type { TunnelResponder } from './local-reply.ts';
import type { Plan } from './plan.ts';
import { markFailure } from './record.ts';
import { remoteIpFromXff } from './xff.ts';

function isEmpty(p: PolicySet | undefined): boolean {
  return !p || (p.custom.length + p.deny.length + p.allow.length + p.audit.length + p.dryRunDeny.length + p.dryRunAllow.length + p.jwt.length === 0);
}

export interface AuthzInput {
  readonly protocol: 'http' | 'tcp';
  readonly sourceIp: string;
  readonly identity: Identity | null | undefined;
  /** A plaintext client's pod namespace (IP lookup), for `namespaces` only; ignored with an mTLS identity. */
  readonly plaintextNamespace?: string;
  readonly host: string;
  readonly port: number;
  readonly method?: string;
  readonly path?: string;
  readonly headers?: IncomingHttpHeaders;
  /**
   * The request's header fields as received, [name, value, ...]. When given, policy reads every
   * value of a repeated field joined with ',' (Envoy's view); Node's `headers` keeps only the first
   * `user-agent`, `authorization`, ... while the upstream gets them all.
   */
  readonly rawHeaders?: readonly string[];
  /** Envoy `destination.ip`: the address the client dialled (the VIP or ServiceEntry address in a tunnel's authority). */
  readonly destinationIp?: string;
  /** Envoy `connection.sni`: the SNI of the client's TLS ClientHello, when one was read. */
  readonly sni?: string;
}

/** The outcome of every authorization step for one request, with what to send on deny. */
export interface Verdict {
  readonly allow: boolean;
  /** RBAC's decision (with its trace and dry-run result); absent when authentication failed first. */
  readonly decision?: Decision;
  readonly code?: FailureCode;
  readonly status: number;
  readonly body: string;
  readonly details: string;
  readonly reason: string;
  /** Extra response headers on deny (WWW-Authenticate, the provider's headersToDownstreamOnDeny). */
  readonly headers: readonly (readonly [string, string])[];
  /** On allow: header changes for the upstream request (token stripped, payload, ext-authz headers). */
  readonly upstream?: HeaderEdits;
  readonly requestPrincipal?: string;
}

/** Long-lived state authorization needs: the JWKS cache and the ext-authz client. */
export interface AuthzRuntime {
  readonly jwks: JwksCache;
  readonly extAuthz: (p: ExtAuthzHttpProvider, c: ExtAuthzCheck) => Promise<ExtAuthzResult>;
}

export const defaultRuntime: AuthzRuntime = { jwks: new JwksCache(), extAuthz: checkExtAuthz };

/** The policies and RequestAuthentication rules that apply to the plan's destination. */
export function policySetFor(snap: Snapshot, plan: Plan): PolicySet {
  return plan.kind === 'forward' ? snap.authz.services.get(plan.destination.service.key) ?? snap.authz.waypoint : snap.authz.waypoint;
}

/** Whether any policy or RequestAuthentication applies to the destination (else authorize() is undefined). */
export function hasAuthorization(snap: Snapshot, plan: Plan): boolean {
  return !isEmpty(policySetFor(snap, plan));
}

const readsSni = new WeakMap<PolicySet, boolean>();

/**
 * Whether a policy on the destination reads `connection.sni`: then a tunnel to a TLS port must read
 * the client's ClientHello before it can be authorized. Computed once per snapshot's policy set.
 */
export function needsSni(snap: Snapshot, plan: Plan): boolean {
  const set = policySetFor(snap, plan);
  let known = readsSni.get(set);
  if (known === undefined) {
    const all = [...set.custom, ...set.deny, ...set.allow, ...set.audit, ...set.dryRunDeny, ...set.dryRunAllow];
    known = all.some((p) => p.rules.some((r) => [...(r.from ?? []).flat(), ...(r.to ?? []).flat(), ...r.when].some((c) => c.attribute === 'connection.sni')));
    readsSni.set(set, known);
  }
  return known;
}

/** undefined when nothing applies to the destination; a Promise only when a network step is needed. */
export function authorize(snap: Snapshot, plan: Plan, input: AuthzInput & { readonly protocol: 'tcp' }, rt?: AuthzRuntime): Verdict | undefined;
export function authorize(snap: Snapshot, plan: Plan, input: AuthzInput, rt?: AuthzRuntime): Verdict | Promise<Verdict> | undefined;
export function authorize(snap: Snapshot, plan: Plan, input: AuthzInput, rt: AuthzRuntime = defaultRuntime): Verdict | Promise<Verdict> | undefined {
  const serviceKey = plan.kind === 'forward' ? plan.destination.service.key : undefined;
  const set = policySetFor(snap, plan);
  if (isEmpty(set)) return undefined;
  const req = authzRequest(snap, plan, input);
  if (input.protocol === 'tcp') return tcpVerdict(snap, decide(snap.authz, serviceKey, req));
  // jwt_authn: the token is checked before RBAC can read request.auth.*; no token passes with none.
  const jwt: JwtOutcome | Promise<JwtOutcome> = set!.jwt.length > 0
    ? authenticate(set!.jwt, { headers: input.headers ?? {}, path: input.path ?? '/' }, rt.jwks)
    : NO_TOKEN;
  if (jwt instanceof Promise) return jwt.then((j) => afterAuthn(snap, serviceKey, req, input, j, rt));
  return afterAuthn(snap, serviceKey, req, input, jwt, rt);
}

const NO_TOKEN: JwtOutcome = { kind: 'none' };

/**
 * Lower-cased names, every value of a repeated field joined with ',' (Envoy's getAllOfHeaderAsString);
 * HTTP/2 cookie crumbs with '; ', as Envoy's codec joins them (RFC 9113 §8.2.3).
 */
export function joinedHeaders(raw: readonly string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const prev = out[name];
    out[name] = prev === undefined ? raw[i + 1]! : `${prev}${name === 'cookie' ? '; ' : ','}${raw[i + 1]!}`;
  }
  return out;
}

export function authzRequest(snap: Snapshot, plan: Plan, input: AuthzInput): AuthzRequest {
  const xff = input.headers?.['x-forwarded-for'];
  return {
    protocol: input.protocol,
    sourceIp: input.sourceIp,
    remoteIp: remoteIpFromXff(Array.isArray(xff) ? xff.join(',') : xff, snap.authz.numTrustedProxies, input.sourceIp),
    principal: input.identity?.principal,
    ...(input.plaintextNamespace !== undefined && !input.identity ? { plaintextNamespace: input.plaintextNamespace } : {}),
    host: input.host,
    method: input.method,
    path: input.path,
    headers: input.rawHeaders ? joinedHeaders(input.rawHeaders) : input.headers as Readonly<Record<string, string | undefined>> | undefined,
    destinationPort: plan.kind === 'forward' ? plan.destination.port.number : input.port,
    ...(input.destinationIp !== undefined ? { destinationIp: input.destinationIp } : {}),
    ...(input.sni !== undefined ? { sni: input.sni } : {}),
  };
}

function afterAuthn(snap: Snapshot, key: string | undefined, req: AuthzRequest, input: AuthzInput, jwt: JwtOutcome, rt: AuthzRuntime): Verdict | Promise<Verdict> {
  const full = jwt.kind === 'ok' ? { ...req, requestPrincipal: jwt.principal, claims: jwt.claims } : req;
  const d = decide(snap.authz, key, full);
  if (d.customProviders.length === 0) return finish(d, jwt, input);
  // 1. CUSTOM: ext-authz runs first in the chain, so its deny wins over a bad token.
  return runCustom(snap, d, input, rt).then((c) => c.deny ?? finish(d, jwt, input, c.edits));
}

/**
 * The rest of authorize() for a Decision the caller made itself: `egressway check`, which runs
 * jwt_authn (authenticate(), or --claims in its place) and decide() on its own to report each step.
 * TCP gets tcpVerdict(); HTTP asks the CUSTOM providers through `rt` (runCustom) and then applies the
 * JWT outcome and RBAC, as afterAuthn() does. Not on the hot path: always a Promise, so the listeners
 * keep calling authorize().
 */
export async function authorizeDecided(snap: Snapshot, d: Decision, input: AuthzInput, rt: AuthzRuntime = defaultRuntime, jwt: JwtOutcome = NO_TOKEN): Promise<Verdict> {
  if (input.protocol === 'tcp') return tcpVerdict(snap, d);
  if (d.customProviders.length === 0) return finish(d, jwt, input);
  const c = await runCustom(snap, d, input, rt);
  return c.deny ?? finish(d, jwt, input, c.edits);
}

async function runCustom(snap: Snapshot, d: Decision, input: AuthzInput, rt: AuthzRuntime): Promise<{ deny?: Verdict; edits: HeaderEdits[] }> {
  const edits: HeaderEdits[] = [];
  // Every value of a repeated field, joined with ',', as Envoy's ext_authz sends them (the upstream gets them all).
  const headers = input.rawHeaders ? joinedHeaders(input.rawHeaders) : input.headers ?? {};
  const check: ExtAuthzCheck = { method: input.method ?? 'GET', path: input.path ?? '/', host: input.host, headers };
  for (const call of d.customProviders) {
    const p = snap.authz.providers.get(call.provider);
    if (!p) return { deny: badProvider(d, call), edits };
    const r = await rt.extAuthz(p, check);
    if (r.kind === 'allow') edits.push(r.upstream);
    else if (r.kind === 'deny') {
      const decision = customDenied(d, call);
      return { deny: deny('ext_authz_denied', r.status, r.body, decision.reason, r.headers, decision), edits };
    } else if (!p.failOpen) {
      const decision = customDenied(d, call, true);
      return { deny: deny('ext_authz_error', p.statusOnError, '', `${decision.reason}: ${r.reason}`, [], decision), edits };
    }
  }
  return { edits };
}

// Istio turns a CUSTOM policy whose provider is missing into an RBAC deny of the requests it matches.
function badProvider(d: Decision, call: CustomCall): Verdict {
  const [ns, name] = call.policy.split('/');
  const details = `rbac_access_denied_matched_policy[ns[${ns}]-policy[${name}]-rule[${call.rule}]]`;
  const reason = `denied: CUSTOM policy ${call.policy} names provider ${call.provider}, which meshConfig extensionProviders does not define`;
  return { ...deny('rbac_denied', 403, rbacBody(), reason, [], { ...d, allow: false, action: 'CUSTOM', details, reason }), details };
}

function tcpVerdict(snap: Snapshot, d: Decision): Verdict {
  // An HTTP ext-authz provider cannot check TCP: Istio ignores the CUSTOM policy on TCP chains.
  const bad = d.customProviders.find((c) => !snap.authz.providers.has(c.provider));
  if (bad) return badProvider(d, bad);
  return d.allow ? allowed(d) : rbacDeny(d);
}

function finish(d: Decision, jwt: JwtOutcome, input: AuthzInput, extra: readonly HeaderEdits[] = []): Verdict {
  // 2. jwt_authn: a token that fails verification is a 401 (403 for audiences), before RBAC.
  if (jwt.kind === 'fail') {
    const realm = `http://${input.host}${(input.path ?? '/').split('?')[0]!.slice(0, 256)}`;
    return { ...deny('jwt_denied', jwt.status, `${jwt.message}\n`, `${jwt.message}: ${jwt.reason}`, [['www-authenticate', `Bearer realm="${realm}", error="invalid_token"`]]), details: jwt.details };
  }
  // 3. RBAC: DENY, then ALLOW, then the default (decide()).
  if (!d.allow) return rbacDeny(d);
  const edits = jwt.kind === 'ok' ? [jwt.edits, ...extra] : extra;
  return { ...allowed(d), ...(edits.length ? { upstream: mergeEdits(edits) } : {}), ...(jwt.kind === 'ok' ? { requestPrincipal: jwt.principal } : {}) };
}

function rbacBody(): string {
  return `${FAILURES.rbac_denied.body}\n`;
}

function rbacDeny(d: Decision): Verdict {
  return { ...deny('rbac_denied', 403, rbacBody(), d.reason, [], d), details: d.details };
}

function allowed(d: Decision): Verdict {
  return { allow: true, decision: d, status: 0, body: '', details: '', reason: d.reason, headers: [] };
}

function deny(code: FailureCode, status: number, body: string, reason: string, headers: readonly (readonly [string, string])[], decision?: Decision): Verdict {
  return { allow: false, code, status, body, reason, headers, details: FAILURES[code].details, ...(decision ? { decision } : {}) };
}

function mergeEdits(list: readonly HeaderEdits[]): HeaderEdits {
  return { remove: list.flatMap((e) => e.remove), set: list.flatMap((e) => e.set), response: list.flatMap((e) => e.response ?? []) };
}

/** Applies edits to the flat [name, value, ...] list forwardRequestHeaders built. */
export function applyHeaderEdits(headers: string[], edits: HeaderEdits): void {
  const drop = new Set([...edits.remove, ...edits.set.map(([k]) => k)]);
  for (let i = headers.length - 2; i >= 0; i -= 2) if (drop.has(headers[i]!.toLowerCase())) headers.splice(i, 2);
  for (const [k, v] of edits.set) headers.push(k, v);
}

/** Puts what authorization found into the request record: dry-run and AUDIT results, the JWT principal. */
export function noteVerdict(r: RequestRecord, v: Verdict): void {
  const dry = v.decision?.dryRun;
  if (dry) {
    r.dryRunResult = dry.wouldDeny ? 'deny' : 'allow';
    r.dryRunPolicy = dry.policy ?? 'none';
  }
  if (v.decision?.auditPolicy) r.auditPolicy = v.decision.auditPolicy;
  if (v.requestPrincipal) r.requestPrincipal = v.requestPrincipal;
}

/**
 * Continues with `allow(edits)` or `deny(verdict)`, synchronously when the verdict is. An async verdict
 * whose downstream went away meanwhile (`gone()`) is dropped: the close handler already recorded it.
 */
export function withAuthorization(result: Verdict | Promise<Verdict> | undefined, record: RequestRecord, gone: () => boolean,
  onDeny: (v: Verdict) => void, onAllow: (edits?: HeaderEdits) => void): void {
  const apply = (v: Verdict) => {
    noteVerdict(record, v);
    if (v.allow) onAllow(v.upstream);
    else onDeny(v);
  };
  if (result === undefined) return onAllow();
  if (!(result instanceof Promise)) return apply(result);
  result.then((v) => { if (!gone()) apply(v); }, (err: Error) => {
    if (!gone()) apply(deny('rbac_denied', 403, rbacBody(), `authorization failed: ${err.message}`, []));
  });
}

/** An HTTP deny as Envoy sends it: the verdict's status, body and headers. */
export function replyDenied(res: ServerResponse, r: RequestRecord, v: Verdict, close = false): void {
  markDenied(r, v);
  if (res.headersSent) return void res.destroy();
  const headers: Record<string, string | string[]> = {
    'content-type': 'text/plain; charset=utf-8',
    'x-egressway-flags': FAILURES[v.code!].flag, 'x-egressway-details': r.responseCodeDetails,
  };
  const fromProvider = new Map<string, string[]>();
  for (const [k, val] of v.headers) if (!k.startsWith('x-egressway')) fromProvider.set(k, [...(fromProvider.get(k) ?? []), val]);
  for (const [k, vals] of fromProvider) headers[k] = vals.length === 1 ? vals[0]! : vals;
  if (close) headers.connection = 'close';
  sendLocal(res, r, v.status, headers, v.body);
}

/** A deny on a raw socket (Upgrade) or tunnel stream. */
export function refuseDenied(respond: TunnelResponder, r: RequestRecord, v: Verdict): void {
  markDenied(r, v);
  if (respond.closesOnly) r.bytesSent = 0;
  respond.refuse(v.status, {
    'content-type': 'text/plain; charset=utf-8', ...Object.fromEntries(v.headers),
    'x-egressway-flags': FAILURES[v.code!].flag, 'x-egressway-details': r.responseCodeDetails,
  }, v.body);
}

function markDenied(r: RequestRecord, v: Verdict): void {
  markFailure(r, v.code ?? 'rbac_denied', v.reason, v.details);
  r.responseCode = v.status;
  r.bytesSent = Buffer.byteLength(v.body);
  r.connectionTerminationDetails = v.reason;
}
