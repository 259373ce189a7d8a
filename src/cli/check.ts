// `egressway check`: explains what the waypoint would do with one request, without sending it. It runs
// the data plane's own code: planRoute() for the route, authzRequest() + decide() for policy and
// authorizeDecided() for CUSTOM providers (asked only with --ext-authz call) and the final verdict.
// Exit code: 0 allowed, 1 denied (by policy, routing or a CUSTOM provider), 2 usage or config error.
import { InvalidArgumentError, type Command } from 'commander';
import { compile } from '../compile/compile.ts';
import { loadConfig } from '../config/load.ts';
import { authorizeDecided, authzRequest, type Verdict } from '../dataplane/authorize.ts';
import { FAILURES } from '../dataplane/errors.ts';
import { replyBody } from '../dataplane/local-reply.ts';
import { planRoute, type Plan } from '../dataplane/plan.ts';
import { formatDiagnostic, hasErrors } from '../model/diagnostic.ts';
import { parseSpiffe } from '../model/identity.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { decide, type Decision } from '../policy/decide.ts';
import { normalizePath } from '../policy/normalize-path.ts';
import { collect, oneOf, parseWaypointRef } from './args.ts';
import { extAuthzRuntime, headerList, reportCalls, type ExtAuthzCallReport, type ExtAuthzMode } from './check-ext-authz.ts';
import { meshNumTrustedProxies, readMeshConfig } from './mesh-config.ts';

interface CheckFlags {
  config: string[];
  from?: string;
  method: string;
  header?: string[];
  sourceIp: string;
  requestPrincipal?: string;
  meshConfig?: string;
  waypoint?: string;
  extAuthz: ExtAuthzMode;
  output: 'text' | 'json';
}

export function registerCheck(program: Command): void {
  program.command('check')
    .description('explain how the waypoint would route and authorize a request, without sending it')
    .argument('<url>', 'http://host[:port]/path (https:// is checked as a CONNECT tunnel)')
    .requiredOption('-c, --config <path>', 'config file or directory (repeatable)', collect)
    .option('--from <spiffe-id>', 'the client identity, e.g. spiffe://cluster.local/ns/shop/sa/cart')
    .option('-X, --method <method>', 'HTTP method', 'GET')
    .option('-H, --header <name:value>', 'request header (repeatable)', collect)
    .option('--source-ip <ip>', 'client address (source.ip, ipBlocks)', '10.0.0.1')
    .option('--request-principal <iss/sub>', 'act as if a validated JWT with this iss/sub came with the request')
    .option('--mesh-config <file>', 'Istio MeshConfig YAML (extensionProviders, gatewayTopology)')
    .option('--waypoint <namespace/name>', 'which waypoint Gateway to check as', parseWaypointRef)
    // A mode rather than a boolean: the default (skip) is spelled out in --help, and the network call
    // is asked for by name; commander's --no-* pairs have surprised us before (agent --no-proxy).
    .option('--ext-authz <mode>', 'CUSTOM providers: skip (stays offline; the verdict assumes they allow) | call (asks them as the waypoint does, sending them the request headers they select)', oneOf(['skip', 'call'] as const), 'skip')
    .option('-o, --output <format>', 'text | json', (v) => { if (v !== 'text' && v !== 'json') throw new InvalidArgumentError('must be text or json'); return v; }, 'text')
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(async (url: string, flags: CheckFlags) => process.exit(await check(url, flags)));
}

export interface CheckReport {
  readonly request: { readonly method: string; readonly url: string; readonly from: string | null; readonly sourceIp: string; readonly requestPrincipal: string | null };
  readonly serviceEntry: string | null;
  readonly binding: { readonly resource: string; readonly bound: boolean; readonly reason: string; readonly message: string } | null;
  readonly route: { readonly kind: Plan['kind']; readonly routeName: string; readonly cluster: string; readonly message?: string };
  readonly policies: Decision['trace'];
  readonly customProviders: readonly string[];
  readonly extAuthz: { readonly mode: ExtAuthzMode; readonly calls: readonly ExtAuthzCallReport[] };
  readonly decision: {
    readonly allow: boolean; readonly action: string; readonly reason: string;
    /** Envoy's response_code_details and response flags, as the waypoint logs them ('' and '-' on allow). */
    readonly details: string; readonly flags: string;
    readonly dryRun?: Decision['dryRun'];
    /** On deny: what the client gets. */
    readonly response?: { readonly status: number; readonly headers: readonly (readonly [string, string])[]; readonly body: string };
    /** On allow: headers CUSTOM providers add to the upstream request and to the client's response. */
    readonly upstreamHeaders?: readonly (readonly [string, string])[];
    readonly downstreamHeaders?: readonly (readonly [string, string])[];
  };
}

async function check(url: string, f: CheckFlags): Promise<number> {
  const usage = (m: string) => { process.stderr.write(`error: ${m}\n`); return 2; };
  const target = parseTarget(url);
  if (!target) return usage(`"${url}" is not an http:// or https:// URL`);
  const identity = f.from ? parseSpiffe(f.from) : undefined;
  if (f.from && !identity) return usage(`--from ${f.from} is not spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`);
  const headers: Record<string, string> = {};
  for (const h of f.header ?? []) {
    const at = h.indexOf(':');
    if (at <= 0) return usage(`-H ${h} is not name:value`);
    headers[h.slice(0, at).trim().toLowerCase()] = h.slice(at + 1).trim();
  }
  let mesh = {};
  try {
    if (f.meshConfig) mesh = await readMeshConfig(f.meshConfig);
  } catch (err) {
    return usage((err as Error).message);
  }
  const loaded = await loadConfig(f.config);
  const out = compile(loaded.resources, { waypoint: f.waypoint, extensionProviders: (mesh as { extensionProviders?: [] }).extensionProviders, numTrustedProxies: meshNumTrustedProxies(mesh) ?? 0 });
  const diags = [...loaded.diagnostics, ...out.diagnostics];
  if (hasErrors(diags) || !out.snapshot) {
    for (const d of diags) if (d.level === 'error') process.stderr.write(`${formatDiagnostic(d)}\n`);
    return 2;
  }
  const normalized = normalizePath(target.path);
  const path = normalized.ok ? normalized.path : target.path;
  const report = await explain(out.snapshot, target, { ...f, path, headers, identity });
  process.stdout.write(f.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.decision.allow ? 0 : 1;
}

interface Target { readonly scheme: 'http' | 'https'; readonly host: string; readonly port: number; readonly path: string; readonly authority: string }

function parseTarget(url: string): Target | undefined {
  let u: URL;
  try { u = new URL(url); } catch { return undefined; }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  const scheme = u.protocol === 'http:' ? 'http' : 'https';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { scheme, host, port: Number(u.port || (scheme === 'http' ? 80 : 443)), path: `${u.pathname}${u.search}`, authority: u.host };
}

export async function explain(snap: Snapshot, t: Target, r: CheckFlags & { path: string; headers: Record<string, string>; identity: ReturnType<typeof parseSpiffe> }): Promise<CheckReport> {
  const tcp = t.scheme === 'https';
  const plan = planRoute(snap, t.host, t.port, tcp ? 'connect' : 'http');
  const service = plan.kind === 'forward' ? plan.destination.service.key : null;
  const b = service ? snap.bindings.find((x) => `${x.resource.namespace}/${x.resource.name}` === service && x.resource.kind === 'ServiceEntry') : undefined;
  const request = { method: tcp ? 'CONNECT' : r.method.toUpperCase(), url: `${t.scheme}://${t.authority}${tcp ? '' : r.path}`, from: r.identity?.uri ?? null, sourceIp: r.sourceIp, requestPrincipal: r.requestPrincipal ?? null };
  const route = plan.kind === 'reject'
    ? { kind: plan.kind, routeName: plan.routeName, cluster: plan.clusterName, message: plan.message }
    : { kind: plan.kind, routeName: plan.routeName, cluster: plan.kind === 'forward' ? plan.cluster.name : plan.clusterName };
  const base = { request, serviceEntry: service, binding: b ? { resource: `${b.resource.kind}/${b.resource.namespace}/${b.resource.name}`, bound: b.bound, reason: b.reason, message: b.message } : null, route };
  const extAuthz = { mode: r.extAuthz, calls: [] as ExtAuthzCallReport[] };
  if (plan.kind === 'reject') {
    const f = FAILURES[plan.code];
    return {
      ...base, policies: [], customProviders: [], extAuthz,
      decision: { allow: false, action: 'ROUTE', reason: `refused before authorization: ${plan.message}`, details: f.details, flags: f.flag, response: { status: f.status, headers: [], body: replyBody(plan.code, plan.message) } },
    };
  }
  const input = {
    protocol: tcp ? 'tcp' : 'http', sourceIp: r.sourceIp, identity: r.identity,
    host: t.authority, port: t.port, method: request.method, path: r.path, headers: r.headers,
  } as const;
  const req = authzRequest(snap, plan, input);
  const claims = r.requestPrincipal ? splitPrincipal(r.requestPrincipal) : undefined;
  const d = decide(snap.authz, service ?? undefined, claims ? { ...req, requestPrincipal: r.requestPrincipal, claims } : req);
  // --request-principal stands in for jwt_authn, so the rest runs from this decision, not authorize().
  const { rt, answers } = extAuthzRuntime(r.extAuthz);
  const v = await authorizeDecided(snap, d, input, rt);
  return {
    ...base, policies: d.trace, customProviders: d.customProviders.map((c) => `${c.provider} (policy ${c.policy} rule ${c.rule})`),
    extAuthz: { ...extAuthz, calls: reportCalls(snap, d.customProviders, answers, tcp) },
    decision: verdictReport(v, d),
  };
}

function verdictReport(v: Verdict, d: Decision): CheckReport['decision'] {
  const common = { allow: v.allow, action: v.decision?.action ?? d.action, reason: v.reason, details: v.details, ...(d.dryRun ? { dryRun: d.dryRun } : {}) };
  if (!v.allow) return { ...common, flags: FAILURES[v.code ?? 'rbac_denied'].flag, response: { status: v.status, headers: v.headers, body: v.body } };
  const up = v.upstream;
  return { ...common, flags: '-', ...(up?.set.length ? { upstreamHeaders: up.set } : {}), ...(up?.response?.length ? { downstreamHeaders: up.response } : {}) };
}

function splitPrincipal(p: string): Record<string, string> {
  const at = p.lastIndexOf('/');
  return at < 0 ? { iss: p, sub: '' } : { iss: p.slice(0, at), sub: p.slice(at + 1) };
}

export function formatReport(r: CheckReport): string {
  const lines = [
    `request      ${r.request.method} ${r.request.url}${r.request.from ? ` from ${r.request.from}` : ' (no client identity)'}${r.request.requestPrincipal ? ` with JWT ${r.request.requestPrincipal}` : ''}`,
    `serviceentry ${r.serviceEntry ?? '(none)'}`,
    `binding      ${r.binding ? `${r.binding.resource}: ${r.binding.bound ? 'bound' : 'not bound'} (${r.binding.reason}) ${r.binding.message}`.trimEnd() : '(none)'}`,
    `route        ${r.route.kind} ${r.route.routeName} -> ${r.route.cluster}${r.route.message ? `: ${r.route.message}` : ''}`,
    `policies     ${r.policies.length === 0 ? '(none apply)' : ''}`.trimEnd(),
  ];
  for (const p of r.policies) {
    lines.push(`  ${p.matched ? 'MATCH   ' : 'no match'} ${p.action}${p.dryRun ? ' (dry-run)' : ''} ${p.policy} [${p.scope}]${p.rule !== undefined ? ` rule ${p.rule}` : ''}`);
    for (const w of p.why) lines.push(`             ${w}`);
  }
  for (const c of r.extAuthz.calls) {
    lines.push(`custom       ext-authz provider ${c.provider} (policy ${c.policy} rule ${c.rule})${c.address ? ` at ${c.address}` : ''}: ${c.summary}`);
  }
  const dec = r.decision;
  lines.push(`decision     ${dec.allow ? 'ALLOW' : 'DENY'}: ${dec.reason}`);
  if (dec.details) lines.push(`details      ${dec.details}`);
  if (dec.response) {
    lines.push(`response     ${dec.response.status}, flags ${dec.flags}${dec.response.headers.length ? `, headers ${headerList(dec.response.headers)}` : ''}`);
    if (dec.response.body) lines.push(`body         ${JSON.stringify(dec.response.body.length > 200 ? `${dec.response.body.slice(0, 200)}...` : dec.response.body)}`);
  }
  if (dec.upstreamHeaders) lines.push(`upstream     + ${headerList(dec.upstreamHeaders)}`);
  if (dec.downstreamHeaders) lines.push(`downstream   + ${headerList(dec.downstreamHeaders)}`);
  if (r.decision.dryRun) lines.push(`dry-run      ${r.decision.dryRun.wouldDeny ? 'would deny' : 'would allow'}${r.decision.dryRun.policy ? ` (${r.decision.dryRun.policy})` : ''}`);
  return `${lines.join('\n')}\n`;
}
