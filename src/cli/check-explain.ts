// What the waypoint would do with one request, step by step, using the data plane's own code:
// planRoute() for the route, needsNormalization()/normalizePath() with the snapshot's meshConfig
// pathNormalization, authzRequest() for the attributes, authenticate() (jwt_authn; assumeVerified()
// for --claims), decide() for RBAC, and authorizeDecided() for CUSTOM providers and the verdict.
import { authorizeDecided, authzRequest, defaultRuntime, needsSni, policySetFor, type AuthzInput, type Verdict } from '../dataplane/authorize.ts';
import { FAILURES, type FailureCode } from '../dataplane/errors.ts';
import { replyBody } from '../dataplane/local-reply.ts';
import { frontedHost } from '../dataplane/admit.ts';
import { planRoute, type Plan } from '../dataplane/plan.ts';
import { matchRoute } from '../dataplane/route.ts';
import type { RouteTable, WeightedCluster } from '../model/route.ts';
import type { PolicySet } from '../model/policy.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { decide, type Decision } from '../policy/decide.ts';
import { assumeVerified, authenticate, type JwtOutcome } from '../policy/jwt.ts';
import { needsNormalization, normalizePath } from '../policy/normalize-path.ts';
import type { AuthzRequest } from '../policy/request.ts';
import { extAuthzRuntime, reportCalls, type ExtAuthzCallReport, type ExtAuthzMode } from './check-ext-authz.ts';
import type { CheckRequest } from './check-request.ts';

type Header = readonly [string, string];

export interface CheckReport {
  readonly request: {
    readonly method: string; readonly url: string; readonly protocol: 'http' | 'tls' | 'tcp';
    /** :authority (HTTP) or CONNECT authority (tunnels), as policies' `hosts` see it. */
    readonly authority: string;
    /** The path after pathNormalization, as policies and the upstream see it; null for tunnels. */
    readonly path: string | null;
    /** source.principal; `from` keeps the SPIFFE form of it for readers of older reports. */
    readonly principal: string | null; readonly from: string | null;
    readonly sourceIp: string; readonly destinationIp: string | null; readonly sni: string | null;
    /** request.auth.principal after jwt_authn (a verified token or --claims). */
    readonly requestPrincipal: string | null;
  };
  readonly serviceEntry: string | null;
  readonly binding: { readonly resource: string; readonly bound: boolean; readonly reason: string; readonly message: string } | null;
  readonly route: {
    readonly kind: Plan['kind']; readonly routeName: string; readonly cluster: string; readonly message?: string; readonly tcpRoute?: string;
    /** The VirtualService or HTTPRoute whose rule the request takes (HTTP only; absent: the default route). */
    readonly source?: string;
  };
  /** jwt_authn (RequestAuthentication) as the waypoint runs it before RBAC. */
  readonly authentication: {
    /** none: no token (or no RequestAuthentication); verified/asserted: a token or --claims gave a request principal; failed: 401/403; ignored: --claims where no RequestAuthentication applies. */
    readonly outcome: 'none' | 'verified' | 'asserted' | 'failed' | 'ignored';
    readonly summary: string;
    readonly policy?: string;
    readonly claims?: Readonly<Record<string, unknown>>;
  };
  readonly policies: Decision['trace'];
  readonly customProviders: readonly string[];
  readonly extAuthz: { readonly mode: ExtAuthzMode; readonly calls: readonly ExtAuthzCallReport[] };
  readonly decision: {
    readonly allow: boolean; readonly action: string; readonly reason: string;
    /** Envoy's response_code_details and response flags, as the waypoint logs them ('' and '-' on allow). */
    readonly details: string; readonly flags: string;
    readonly dryRun?: Decision['dryRun'];
    /** An AUDIT policy matched: the waypoint marks the request for audit (audit_policy in the access log). */
    readonly audit?: { readonly policy: string };
    /**
     * On deny: what the client gets. `closedAfterAccept`: a policy reads connection.sni, so the waypoint
     * answered the CONNECT with 200 to read the ClientHello, and the deny closes the tunnel.
     */
    readonly response?: { readonly status: number; readonly headers: readonly Header[]; readonly body: string; readonly closedAfterAccept?: true };
    /** On allow: headers jwt_authn and CUSTOM providers add to the upstream request and the client's response. */
    readonly upstreamHeaders?: readonly Header[];
    readonly downstreamHeaders?: readonly Header[];
  };
}

export async function explain(snap: Snapshot, r: CheckRequest, mode: ExtAuthzMode): Promise<CheckReport> {
  const tunnel = r.kind !== 'http';
  const plan = planRoute(snap, r.host, r.port, tunnel ? 'connect' : 'http');
  const service = plan.kind === 'forward' ? plan.destination.service.key : null;
  const b = service ? snap.bindings.find((x) => `${x.resource.namespace}/${x.resource.name}` === service && x.resource.kind === 'ServiceEntry') : undefined;
  const normalized = tunnel || !needsNormalization(r.rawPath, snap.authz.pathNormalization) ? undefined : normalizePath(r.rawPath, snap.authz.pathNormalization);
  const path = tunnel ? null : normalized?.ok ? normalized.path : r.rawPath;
  const request = {
    method: r.method, url: r.url,
    protocol: r.kind, authority: r.authority, path, principal: r.principal ?? null, from: r.principal !== undefined ? `spiffe://${r.principal}` : null,
    sourceIp: r.sourceIp, destinationIp: r.destinationIp ?? null, sni: r.sni ?? null, requestPrincipal: null,
  };
  const base = {
    request, serviceEntry: service,
    binding: b ? { resource: `${b.resource.kind}/${b.resource.namespace}/${b.resource.name}`, bound: b.bound, reason: b.reason, message: b.message } : null,
    route: plan.kind === 'reject'
      ? { kind: plan.kind, routeName: plan.routeName, cluster: plan.clusterName, message: plan.message }
      : plan.kind === 'forward' && !tunnel && snap.routes.get(plan.cluster.name)
        ? httpRule(snap.routes.get(plan.cluster.name)!, plan.cluster.name, r, path ?? r.rawPath)
        : { kind: plan.kind, routeName: plan.routeName, cluster: plan.kind === 'forward' ? plan.cluster.name : plan.clusterName, ...(plan.kind === 'forward' && plan.tcpRoute ? { tcpRoute: plan.tcpRoute } : {}) },
    authentication: { outcome: 'none', summary: 'not reached' } as CheckReport['authentication'],
    policies: [], customProviders: [], extAuthz: { mode, calls: [] },
  } satisfies Partial<CheckReport>;
  if (plan.kind === 'reject') return { ...base, decision: refused(plan.code, plan.message, 'ROUTE', `refused before authorization: ${plan.message}`) };
  if (tunnel && plan.kind === 'forward' && plan.terminate) {
    return { ...base, decision: { allow: true, action: 'NONE', details: '', flags: '-', reason: `${r.host}:${r.port} is an HTTP port: the waypoint accepts the CONNECT without authorization and authorizes each request inside it; check those as http://${r.authority}/path` } };
  }
  // Check models the ambient form: HTTP inside a tunnel to the dialled address, where a Host naming
  // another destination is refused (421, no domain fronting) before normalisation and policy.
  const fronted = tunnel ? undefined : frontedHost(snap, { host: r.host, port: r.port }, r.authority);
  if (fronted) return { ...base, decision: refused('misdirected', fronted, 'ROUTE', `refused before authorization: ${fronted}`) };
  if (normalized && !normalized.ok) return { ...base, decision: refused('bad_path', normalized.reason, 'NORMALIZE', `refused before authorization: ${normalized.reason}`) };
  const input: AuthzInput = {
    protocol: tunnel ? 'tcp' : 'http', sourceIp: r.sourceIp, identity: undefined, host: r.authority, port: r.port,
    ...(tunnel ? {} : { method: r.method, path: path!, headers: r.headers }),
    ...(r.destinationIp !== undefined ? { destinationIp: r.destinationIp } : {}),
    ...(r.sni !== undefined ? { sni: r.sni } : {}),
  };
  // The principal is set here, not through an Identity: policies may list any principal string.
  const req: AuthzRequest = { ...authzRequest(snap, plan, input), principal: r.principal };
  const set = policySetFor(snap, plan);
  const { jwt, authentication } = await authn(set, r, path ?? '/', tunnel);
  const d = decide(snap.authz, service ?? undefined, jwt.kind === 'ok' ? { ...req, requestPrincipal: jwt.principal, claims: jwt.claims } : req);
  const { rt, answers } = extAuthzRuntime(mode);
  const v = await authorizeDecided(snap, d, input, rt, jwt);
  return {
    ...base, request: { ...request, requestPrincipal: jwt.kind === 'ok' ? jwt.principal : null }, authentication,
    policies: d.trace, customProviders: d.customProviders.map((c) => `${c.provider} (policy ${c.policy} rule ${c.rule})`),
    extAuthz: { mode, calls: reportCalls(snap, d.customProviders, answers, tunnel) },
    decision: tunnel && needsSni(snap, plan) ? closedAfterAccept(verdictReport(v, d)) : verdictReport(v, d),
  };
}

/** The rule of a VirtualService / HTTPRoute the request takes, as serve-http.ts picks it, and where it goes. */
function httpRule(table: RouteTable, planned: string, r: CheckRequest, path: string): CheckReport['route'] {
  const hit = matchRoute(table, { path, method: r.method, authority: r.authority, headers: r.headers, port: r.port });
  if (!hit) {
    return { kind: 'forward', routeName: '(none)', cluster: '(none)', source: table.source, message: `no rule matches ${r.method} ${path}: 404 NR (route_not_found), once authorized` };
  }
  const a = hit.rule.action;
  const route = { kind: 'forward' as const, routeName: hit.rule.name, source: table.source };
  if (a.kind === 'redirect') return { ...route, cluster: '(none)', message: `redirect ${a.status}` };
  if (a.kind === 'direct') return { ...route, cluster: '(none)', message: `direct response ${a.status}` };
  if (a.clusters.length === 0) return { ...route, cluster: planned };
  const to = (c: WeightedCluster) => c.cluster ?? `(no cluster for ${c.host}:${c.port}: ${a.clusterNotFoundStatus ?? 503}${a.clusterNotFoundStatus ? '' : ' NC'})`;
  if (a.clusters.length === 1) return { ...route, cluster: to(a.clusters[0]!) };
  return { ...route, cluster: a.clusters.map((c, i) => `${to(c)} ${+((100 * (c.upTo - (a.clusters[i - 1]?.upTo ?? 0))) / a.total).toFixed(1)}%`).join(', ') };
}

function closedAfterAccept(d: CheckReport['decision']): CheckReport['decision'] {
  return d.allow ? d : { ...d, response: { status: 200, headers: [], body: '', closedAfterAccept: true } };
}

const NO_TOKEN: JwtOutcome = { kind: 'none' };

/** jwt_authn: the waypoint's authenticate() on the request's tokens, or assumeVerified() for --claims. */
async function authn(set: PolicySet, r: CheckRequest, path: string, tunnel: boolean): Promise<{ jwt: JwtOutcome; authentication: CheckReport['authentication'] }> {
  const none = (summary: string, outcome: 'none' | 'ignored' = 'none') => ({ jwt: NO_TOKEN, authentication: { outcome, summary } });
  if (tunnel) return none('a tunnel carries no HTTP headers: request.auth.* is empty', r.claims ? 'ignored' : 'none');
  if (set.jwt.length === 0) {
    return r.claims
      ? none('--claims ignored: no RequestAuthentication applies to this destination, so the waypoint reads no token and request.auth.* is empty', 'ignored')
      : none('no RequestAuthentication applies to this destination: tokens are not read');
  }
  const jwt = r.claims ? assumeVerified(set.jwt, r.claims) : await authenticate(set.jwt, { headers: r.headers, path }, defaultRuntime.jwks);
  if (jwt.kind === 'none') return none('no token in the request: it passes authentication without a request principal');
  if (jwt.kind === 'fail') return { jwt, authentication: { outcome: 'failed', summary: `${jwt.message}: ${jwt.reason}` } };
  const how = r.claims ? 'the given claims stand in for a verified token' : 'token verified';
  return { jwt, authentication: { outcome: r.claims ? 'asserted' : 'verified', summary: `${how} (RequestAuthentication ${jwt.policy}): request principal ${jwt.principal}`, policy: jwt.policy, claims: jwt.claims } };
}

function refused(code: FailureCode, message: string, action: string, reason: string): CheckReport['decision'] {
  const f = FAILURES[code];
  return { allow: false, action, reason, details: f.details, flags: f.flag, response: { status: f.status, headers: [], body: replyBody(code, message) } };
}

function verdictReport(v: Verdict, d: Decision): CheckReport['decision'] {
  // What the waypoint records comes from the verdict's decision: none when jwt_authn failed first.
  const dd = v.decision;
  const common = {
    allow: v.allow, action: v.code === 'jwt_denied' ? 'AUTHN' : dd?.action ?? d.action, reason: v.reason, details: v.details,
    ...(dd?.dryRun ? { dryRun: dd.dryRun } : {}), ...(dd?.auditPolicy ? { audit: { policy: dd.auditPolicy } } : {}),
  };
  if (!v.allow) return { ...common, flags: FAILURES[v.code ?? 'rbac_denied'].flag, response: { status: v.status, headers: v.headers, body: v.body } };
  const up = v.upstream;
  return { ...common, flags: '-', ...(up?.set.length ? { upstreamHeaders: up.set } : {}), ...(up?.response?.length ? { downstreamHeaders: up.response } : {}) };
}
