// --verify: replays derived requests against the old intent and the new config (compile() +
// planRoute() + decide()) and compares the decision and the upstream scheme:port.
import { compile } from '../compile/compile.ts';
import type { Resource } from '../config/resource.ts';
import { originatesTls } from '../analyze/analyzers/service-entries.ts';
import { planRoute } from '../dataplane/plan.ts';
import { decide } from '../policy/decide.ts';
import type { Intent, IntentPort } from './intent.ts';

export interface VerifyRow {
  readonly caller: string;
  readonly target: string;
  readonly old: string;
  readonly now: string;
  readonly same: boolean;
}

const OUTSIDER = 'cluster.local/ns/not-listed/sa/default';
const TLS = new Set(['HTTPS', 'TLS']);

function callers(i: Intent): string[] {
  if (!i.sources) return [OUTSIDER];
  return [...i.sources.namespaces.map((n) => `cluster.local/ns/${n}/sa/default`), ...i.sources.principals, OUTSIDER];
}

function oldAllows(i: Intent, principal: string): boolean {
  if (!i.sources) return true;
  const ns = principal.split('/')[2];
  return i.sources.namespaces.includes(ns!) || i.sources.principals.includes(principal);
}

function oldUpstream(p: IntentPort): string {
  if (p.originateTlsTo) return `https:${p.originateTlsTo}`;
  return `${TLS.has(p.protocol.toUpperCase()) ? 'tls' : p.protocol.toUpperCase() === 'HTTP' ? 'http' : 'tcp'}:${p.number}`;
}

export function verify(intents: readonly Intent[], output: readonly Resource[]): VerifyRow[] {
  const compiled = compile(output, {});
  const snap = compiled.snapshot;
  const drs = output.filter((r) => r.kind === 'DestinationRule') as Resource<{ host: string }>[];
  const rows: VerifyRow[] = [];
  for (const i of intents) {
    for (const p of i.ports) {
      const http = p.protocol.toUpperCase() === 'HTTP';
      for (const caller of callers(i)) {
        const host = i.hosts[0]!;
        const old = `${oldAllows(i, caller) ? 'allow' : 'deny'} ${oldUpstream(p)}`;
        let now = 'deny (no snapshot: the new config does not compile)';
        if (snap) {
          const plan = planRoute(snap, host, p.number, http ? 'http' : 'connect');
          if (plan.kind !== 'forward') now = `deny (${plan.kind === 'reject' ? plan.code : plan.kind})`;
          else {
            const d = decide(snap.authz, plan.destination.service.key, { protocol: http ? 'http' : 'tcp', principal: caller, host, method: 'GET', path: '/', destinationPort: p.number });
            const tls = drs.some((dr) => dr.spec.host === host && originatesTls(dr.spec as never, p.number));
            const scheme = tls ? 'https' : TLS.has(plan.cluster.protocol) ? 'tls' : plan.cluster.kind === 'http' ? 'http' : 'tcp';
            now = `${d.allow ? 'allow' : 'deny'} ${scheme}:${plan.cluster.targetPort}`;
          }
        }
        rows.push({ caller: caller === OUTSIDER ? `${caller} (not listed)` : caller, target: `${host}:${p.number}`, old, now, same: old === now });
      }
    }
  }
  return rows;
}
