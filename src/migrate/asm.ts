// Reads ASM's ASMEgressTrafficPolicy (reference §1.8): each `to` destination becomes a ServiceEntry in
// the egress namespace, `httpsUpgrade` becomes TLS origination, and `from` becomes the policy's
// sources. A `workloadSelector` has no identity until the user maps it to a service account with
// --service-account-for; unmapped, the source is left out (fail closed) and reported, never guessed.
import type { AsmEgressTrafficPolicySpec } from '../config/kinds/asm-egress-policy.ts';
import type { Resource } from '../config/resource.ts';
import { ref } from './intent.ts';
import type { Extraction, Finding, Intent } from './intent.ts';

export function extractAsm(resources: readonly Resource[], accounts: ReadonlyMap<string, string>): Extraction {
  const dropped: Finding[] = [];
  const warnings: Finding[] = [];
  const byName = new Map<string, { intent: Intent; namespaces: Set<string>; principals: Set<string> }>();
  const policies = resources.filter((r) => r.group === 'istio.alibabacloud.com' && r.kind === 'ASMEgressTrafficPolicy') as Resource<AsmEgressTrafficPolicySpec>[];
  for (const p of policies) {
    dropped.push({ what: ref(p), why: `expanded into ServiceEntries and AuthorizationPolicies; the egress gateway ${p.spec.byEgressGateway?.name} is replaced by the waypoint` });
    (p.spec.egressRules ?? []).forEach((rule, i) => {
      const sources = sourcesOf(rule.from ?? [], accounts, `${ref(p)} egressRules[${i}]`, warnings);
      for (const [j, to] of (rule.to ?? []).entries()) {
        const name = to.name ?? `${p.metadata.name}-${i}-${j}`;
        const up = to.httpsUpgrade?.enabled ? { originateTlsTo: to.httpsUpgrade.port ?? 443, tls: { mode: 'SIMPLE' as const } } : {};
        const port = { number: to.port.number, name: to.port.name ?? to.port.protocol.toLowerCase(), protocol: to.port.protocol, ...up };
        const entry = byName.get(name) ?? { intent: { namespace: p.metadata.namespace, name, hosts: to.hosts, ports: [], resolution: 'DNS', from: ref(p) }, namespaces: new Set(), principals: new Set() };
        if (!entry.intent.ports.some((x) => x.number === port.number)) entry.intent = { ...entry.intent, ports: [...entry.intent.ports, port] };
        sources.namespaces.forEach((n) => entry.namespaces.add(n));
        sources.principals.forEach((n) => entry.principals.add(n));
        byName.set(name, entry);
        if (to.byEgressGateway?.port !== undefined && to.byEgressGateway.port !== to.port.number) {
          dropped.push({ what: `${ref(p)} egressRules[${i}].to[${j}].byEgressGateway.port`, why: `gateway port ${to.byEgressGateway.port} is not needed: clients reach the waypoint over HBONE (15008) and keep port ${to.port.number}` });
        }
      }
    });
  }
  const intents = [...byName.values()].map(({ intent, namespaces, principals }) => ({ ...intent, sources: { namespaces: [...namespaces].sort(), principals: [...principals].sort() } }));
  return { intents, dropped, warnings };
}

function sourcesOf(from: readonly { namespace?: string; workloadSelector?: Readonly<Record<string, string>> }[], accounts: ReadonlyMap<string, string>, where: string, warnings: Finding[]): { namespaces: string[]; principals: string[] } {
  const namespaces: string[] = [];
  const principals: string[] = [];
  for (const f of from) {
    const labels = Object.entries(f.workloadSelector ?? {});
    if (labels.length === 0) { if (f.namespace) namespaces.push(f.namespace); continue; }
    const mapped = labels.map(([k, v]) => accounts.get(`${k}=${v}`)).find(Boolean);
    if (mapped) principals.push(`cluster.local/ns/${mapped.split('/')[0]}/sa/${mapped.split('/')[1]}`);
    else {
      const sel = labels.map(([k, v]) => `${k}=${v}`).join(',');
      warnings.push({ what: `${where} from ${f.namespace}/{${sel}}`, why: `a workloadSelector has no identity in ambient; this source is NOT allowed by the new policy. Re-run with --service-account-for ${sel}=${f.namespace}/<service-account> to allow it` });
    }
  }
  return { namespaces, principals };
}
