// AuthorizationPolicy analyzers: targetRefs to a missing ServiceEntry (IST0101) or one bound to no
// waypoint (EGW0014), HTTP fields in a rule that applies to TCP or TLS ports (EGW0015: Istio drops
// the rule from ALLOW, and ignores the fields in DENY), a DENY rule with no condition (EGW0018), and
// from.source.namespaces naming no namespace of the input (IST0101).
import type { AuthorizationPolicySpec, Rule } from '../../config/kinds/authorization-policy.ts';
import { isHttpProtocol, parseProtocol } from '../../config/kinds/protocol.ts';
import type { ServiceEntrySpec } from '../../config/kinds/service-entry.ts';
import type { Resource } from '../../config/resource.ts';
import type { Diagnostic } from '../../model/diagnostic.ts';
import { finding, isBound } from '../context.ts';
import type { Context } from '../context.ts';

type AP = Resource<AuthorizationPolicySpec>;

export function analyzePolicies(ctx: Context): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const ap of ctx.policies) {
    const targets = targetEntries(ctx, ap, out);
    (ap.spec.rules ?? []).forEach((rule, i) => {
      opaquePorts(ap, rule, i, targets, out);
      denyAll(ap, rule, i, out);
      sourceNamespaces(ctx, ap, rule, i, out);
    });
  }
  return out;
}

function targetEntries(ctx: Context, ap: AP, out: Diagnostic[]): Resource<ServiceEntrySpec>[] {
  const ns = ap.metadata.namespace;
  const refs = ap.spec.targetRef ? [{ ref: ap.spec.targetRef, path: ['spec', 'targetRef'] }] : (ap.spec.targetRefs ?? []).map((ref, i) => ({ ref, path: ['spec', 'targetRefs', i] }));
  const found: Resource<ServiceEntrySpec>[] = [];
  for (const { ref, path } of refs) {
    if (ref.kind !== 'ServiceEntry' || ref.group !== 'networking.istio.io') continue;
    const se = ctx.serviceEntries.find((s) => s.metadata.namespace === ns && s.metadata.name === ref.name);
    if (!se) {
      out.push(finding(ap, 'ReferencedResourceNotFound', path, `Referenced ServiceEntry not found: "${ns}/${ref.name}"`, `create ServiceEntry ${ref.name} in namespace ${ns} (targetRefs cannot cross namespaces)`));
    } else {
      found.push(se);
      if (!isBound(ctx, ns, ref.name)) out.push(finding(ap, 'TargetNotBound', path, `target ServiceEntry ${ns}/${ref.name} is bound to no waypoint, so this policy is never enforced`, 'label the ServiceEntry (or its namespace) istio.io/use-waypoint'));
    }
  }
  return found;
}

/** The HTTP-only fields a rule names (Istio's generator treats these as L7). */
export function httpFields(rule: Rule): string[] {
  const fields = new Set<string>();
  for (const t of rule.to ?? []) for (const f of ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const) if (t.operation?.[f]?.length) fields.add(`to.operation.${f}`);
  for (const f of rule.from ?? []) for (const k of ['requestPrincipals', 'notRequestPrincipals'] as const) if (f.source?.[k]?.length) fields.add(`from.source.${k}`);
  for (const c of rule.when ?? []) if (c.key.startsWith('request.')) fields.add(`when ${c.key}`);
  return [...fields];
}

function opaquePorts(ap: AP, rule: Rule, i: number, targets: readonly Resource<ServiceEntrySpec>[], out: Diagnostic[]): void {
  const fields = httpFields(rule);
  if (fields.length === 0) return;
  const scoped = new Set((rule.to ?? []).flatMap((t) => t.operation?.ports ?? []).map(Number));
  for (const se of targets) {
    const opaque = (se.spec.ports ?? []).filter((p) => (scoped.size === 0 || scoped.has(p.number)) && !isHttpProtocol(parseProtocol(p.protocol)) && parseProtocol(p.protocol) !== 'UNSET');
    if (opaque.length === 0) continue;
    const ports = opaque.map((p) => `${p.number}/${p.protocol}`).join(', ');
    const effect = (ap.spec.action ?? 'ALLOW') === 'DENY' ? 'the fields are ignored there, so the rule denies every connection' : 'Istio drops the rule there, so it never allows a connection';
    out.push(finding(ap, 'L7FieldsOnOpaquePort', ['spec', 'rules', i], `rule #${i} uses HTTP fields (${fields.join(', ')}) but applies to ${se.metadata.name} port(s) ${ports}, which the waypoint sees only as TCP/TLS: ${effect}`, 'scope the rule with to.operation.ports to the HTTP ports, or send plain HTTP and let a DestinationRule originate TLS'));
  }
}

function denyAll(ap: AP, rule: Rule, i: number, out: Diagnostic[]): void {
  if (ap.spec.action !== 'DENY') return;
  if (rule.from?.length || rule.to?.length || rule.when?.length) return;
  out.push(finding(ap, 'DenyAll', ['spec', 'rules', i], `DENY rule #${i} has no from, to or when, so it denies every request to ${ap.spec.targetRefs?.map((t) => `${t.kind} ${t.name}`).join(', ') || 'its target'}`, 'add conditions to the rule, or delete the policy if blocking everything is not intended'));
}

/** Istio's namespace matching in policies: exact, `*`, or one `*` at the start or the end. */
function namespaceMatches(pattern: string, ns: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) return ns.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return ns.startsWith(pattern.slice(0, -1));
  return pattern === ns;
}

// IST0101 for from.source.namespaces naming no namespace. Only when the input lists Namespace
// objects: from files alone, a namespace that is not there may well exist in the cluster.
function sourceNamespaces(ctx: Context, ap: AP, rule: Rule, i: number, out: Diagnostic[]): void {
  if (!ctx.hasNamespaceObjects) return;
  (rule.from ?? []).forEach((f, j) => (f.source?.namespaces ?? []).forEach((ns, k) => {
    if ([...ctx.namespaces].some((known) => namespaceMatches(ns, known))) return;
    out.push(finding(ap, 'ReferencedResourceNotFound', ['spec', 'rules', i, 'from', j, 'source', 'namespaces', k], `Referenced namespace not found: "${ns}"`, `create namespace ${ns}, or fix the name`));
  }));
}
