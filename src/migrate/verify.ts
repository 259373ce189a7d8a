// --verify: replays requests against the OLD config with sidecar-era semantics, read straight from the
// input resources (sidecar-eval.ts), and against the NEW config through the waypoint's own compiled
// snapshot (waypoint-eval.ts), and compares verdict, scheme, dialled host and port, timeout and TLS
// material. The requests come from the input too: every ServiceEntry host and port, and every caller
// an input AuthorizationPolicy names, plus one caller no policy names.
import { compile } from '../compile/compile.ts';
import type { AsmEgressTrafficPolicySpec } from '../config/kinds/asm-egress-policy.ts';
import type { AuthorizationPolicySpec } from '../config/kinds/authorization-policy.ts';
import type { DestinationRuleSpec } from '../config/kinds/destination-rule.ts';
import type { ServiceEntrySpec } from '../config/kinds/service-entry.ts';
import type { Resource } from '../config/resource.ts';
import type { OutboundTrafficPolicy } from '../model/snapshot.ts';
import { formatOutcome, sameOutcome } from './outcome.ts';
import type { Probe } from './outcome.ts';
import { evaluateOld, isEgressGatewayHost } from './sidecar-eval.ts';
import { evaluateNew } from './waypoint-eval.ts';

export interface VerifyRow {
  readonly caller: string;
  readonly target: string;
  readonly old: string;
  readonly now: string;
  readonly same: boolean;
}

const OUTSIDER = 'cluster.local/ns/not-listed/sa/default';
const HTTP = new Set(['HTTP', 'HTTP2', 'GRPC']);

export interface VerifyOptions {
  /** meshConfig outboundTrafficPolicy.mode, for both sides (Istio's default: ALLOW_ANY). */
  readonly outbound?: OutboundTrafficPolicy;
  readonly accounts?: ReadonlyMap<string, string>;
}

export function verify(input: readonly Resource[], output: readonly Resource[], o: VerifyOptions = {}): VerifyRow[] {
  const outbound = o.outbound ?? 'ALLOW_ANY';
  const snap = compile(output, { outboundTrafficPolicy: outbound }).snapshot;
  const old = { resources: input, outbound, accounts: o.accounts };
  const rows: VerifyRow[] = [];
  for (const t of targets(input)) {
    for (const caller of callers(input, o.accounts)) {
      const p: Probe = { caller, ...t };
      const was = evaluateOld(old, p);
      const now = snap ? evaluateNew(snap, p) : { allow: false, why: 'the new config does not compile' };
      rows.push({ caller: caller === OUTSIDER ? `${caller} (not listed)` : caller, target: `${t.host}:${t.port}`, old: formatOutcome(was), now: formatOutcome(now), same: sameOutcome(was, now) });
    }
  }
  return rows;
}

/** Every app-facing host and port: ServiceEntry ports, and DestinationRule ports of hosts without one. */
function targets(input: readonly Resource[]): Omit<Probe, 'caller'>[] {
  const out = new Map<string, Omit<Probe, 'caller'>>();
  const add = (host: string, port: number, http: boolean) => {
    const concrete = host.startsWith('*.') ? `probe${host.slice(1)}` : host;
    out.set(`${concrete}:${port}`, { host: concrete, port, http });
  };
  const ses = input.filter((r) => r.kind === 'ServiceEntry') as Resource<ServiceEntrySpec>[];
  for (const se of ses) {
    for (const h of se.spec.hosts ?? []) for (const p of se.spec.ports ?? []) if (p) add(h, p.number, HTTP.has((p.protocol ?? '').toUpperCase()));
  }
  for (const dr of input.filter((r) => r.kind === 'DestinationRule') as Resource<DestinationRuleSpec>[]) {
    if (!dr.spec.host || isEgressGatewayHost(dr.spec.host) || ses.some((se) => (se.spec.hosts ?? []).includes(dr.spec.host))) continue;
    for (const s of dr.spec.trafficPolicy?.portLevelSettings ?? []) if (s?.port?.number) add(dr.spec.host, s.port.number, !s.tls);
  }
  for (const r of input.filter((x) => x.kind === 'ASMEgressTrafficPolicy') as Resource<AsmEgressTrafficPolicySpec>[]) {
    for (const rule of r.spec.egressRules ?? []) for (const to of rule.to ?? []) for (const h of to.hosts) add(h, to.port.number, HTTP.has(to.port.protocol.toUpperCase()));
  }
  return [...out.values()].sort((a, b) => `${a.host}:${a.port}`.localeCompare(`${b.host}:${b.port}`));
}

function callers(input: readonly Resource[], accounts: ReadonlyMap<string, string> | undefined): string[] {
  const set = new Set<string>();
  for (const ap of input.filter((r) => r.kind === 'AuthorizationPolicy' && r.spec) as Resource<AuthorizationPolicySpec>[]) {
    for (const rule of ap.spec.rules ?? []) {
      for (const f of rule?.from ?? []) {
        for (const n of f?.source?.namespaces ?? []) if (!n.includes('*')) set.add(`cluster.local/ns/${n}/sa/default`);
        for (const p of f?.source?.principals ?? []) if (!p.includes('*')) set.add(p);
      }
    }
  }
  for (const r of input.filter((x) => x.kind === 'ASMEgressTrafficPolicy') as Resource<AsmEgressTrafficPolicySpec>[]) {
    for (const rule of r.spec.egressRules ?? []) {
      for (const f of rule.from ?? []) {
        const labels = Object.entries(f.workloadSelector ?? {});
        if (labels.length === 0 && f.namespace) set.add(`cluster.local/ns/${f.namespace}/sa/default`);
        for (const [k, v] of labels) {
          const sa = accounts?.get(`${k}=${v}`);
          if (sa) set.add(`cluster.local/ns/${sa.split('/')[0]}/sa/${sa.split('/')[1]}`);
        }
      }
    }
  }
  return [...[...set].sort(), OUTSIDER];
}
