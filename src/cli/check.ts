// `egressway check`: explains what the waypoint would do with one request, without sending it. It runs
// the data plane's own code: planRoute() for the route and authzRequest() + decide() for policy.
// Exit code: 0 allowed, 1 denied (by policy or routing), 2 usage or config error.
import { InvalidArgumentError, type Command } from 'commander';
import { compile } from '../compile/compile.ts';
import { loadConfig } from '../config/load.ts';
import { authzRequest } from '../dataplane/authorize.ts';
import { planRoute, type Plan } from '../dataplane/plan.ts';
import { formatDiagnostic, hasErrors } from '../model/diagnostic.ts';
import { parseSpiffe } from '../model/identity.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { decide, type Decision } from '../policy/decide.ts';
import { normalizePath } from '../policy/normalize-path.ts';
import { collect, parseWaypointRef } from './args.ts';
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
  readonly decision: { readonly allow: boolean; readonly action: string; readonly reason: string; readonly details: string; readonly dryRun?: Decision['dryRun'] };
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
  const report = explain(out.snapshot, target, { ...f, path, headers, identity });
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

export function explain(snap: Snapshot, t: Target, r: CheckFlags & { path: string; headers: Record<string, string>; identity: ReturnType<typeof parseSpiffe> }): CheckReport {
  const tcp = t.scheme === 'https';
  const plan = planRoute(snap, t.host, t.port, tcp ? 'connect' : 'http');
  const service = plan.kind === 'forward' ? plan.destination.service.key : null;
  const b = service ? snap.bindings.find((x) => `${x.resource.namespace}/${x.resource.name}` === service && x.resource.kind === 'ServiceEntry') : undefined;
  const request = { method: tcp ? 'CONNECT' : r.method.toUpperCase(), url: `${t.scheme}://${t.authority}${tcp ? '' : r.path}`, from: r.identity?.uri ?? null, sourceIp: r.sourceIp, requestPrincipal: r.requestPrincipal ?? null };
  const route = plan.kind === 'reject'
    ? { kind: plan.kind, routeName: plan.routeName, cluster: plan.clusterName, message: plan.message }
    : { kind: plan.kind, routeName: plan.routeName, cluster: plan.kind === 'forward' ? plan.cluster.name : plan.clusterName };
  const base = { request, serviceEntry: service, binding: b ? { resource: `${b.resource.kind}/${b.resource.namespace}/${b.resource.name}`, bound: b.bound, reason: b.reason, message: b.message } : null, route };
  if (plan.kind === 'reject') {
    return { ...base, policies: [], customProviders: [], decision: { allow: false, action: 'ROUTE', reason: `refused before authorization: ${plan.message}`, details: plan.code } };
  }
  const req = authzRequest(snap, plan, {
    protocol: tcp ? 'tcp' : 'http', sourceIp: r.sourceIp, identity: r.identity,
    host: t.authority, port: t.port, method: request.method, path: r.path, headers: r.headers,
  });
  const claims = r.requestPrincipal ? splitPrincipal(r.requestPrincipal) : undefined;
  const d = decide(snap.authz, service ?? undefined, claims ? { ...req, requestPrincipal: r.requestPrincipal, claims } : req);
  return {
    ...base, policies: d.trace, customProviders: d.customProviders.map((c) => `${c.provider} (policy ${c.policy} rule ${c.rule})`),
    decision: { allow: d.allow, action: d.action, reason: d.reason, details: d.details, ...(d.dryRun ? { dryRun: d.dryRun } : {}) },
  };
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
  for (const c of r.customProviders) lines.push(`custom       ext-authz provider ${c} would be asked first; check does not call it`);
  lines.push(`decision     ${r.decision.allow ? 'ALLOW' : 'DENY'}: ${r.decision.reason}`);
  if (r.decision.details) lines.push(`details      ${r.decision.details}`);
  if (r.decision.dryRun) lines.push(`dry-run      ${r.decision.dryRun.wouldDeny ? 'would deny' : 'would allow'}${r.decision.dryRun.policy ? ` (${r.decision.dryRun.policy})` : ''}`);
  return `${lines.join('\n')}\n`;
}
