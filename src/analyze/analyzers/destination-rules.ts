// DestinationRule analyzers: IST0128/IST0129 (TLS without caCertificates), IST0173 (subset selects
// no endpoint), IST0174 (host matches no ServiceEntry).
import type { ClientTLSSettings, DestinationRuleSpec } from '../../config/kinds/destination-rule.ts';
import type { Resource } from '../../config/resource.ts';
import type { Path } from '../../config/schema.ts';
import type { Diagnostic } from '../../model/diagnostic.ts';
import { entriesForHost, finding, isClusterLocal } from '../context.ts';
import type { Context } from '../context.ts';

type DR = Resource<DestinationRuleSpec>;

export function analyzeDestinationRules(ctx: Context): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const dr of ctx.destinationRules) {
    caCertificates(dr, out);
    const entries = entriesForHost(ctx, dr.spec.host);
    if (entries.length === 0) {
      if (!isClusterLocal(dr.spec.host)) out.push(finding(dr, 'UnknownDestinationRuleHost', ['spec', 'host'], `DestinationRule for non-existent service ${dr.spec.host}`, `add a ServiceEntry with hosts: [${dr.spec.host}], or fix the host`));
      continue;
    }
    subsets(dr, entries, out);
  }
  return out;
}

function unverified(tls: ClientTLSSettings | undefined): boolean {
  if (!tls || (tls.mode !== 'SIMPLE' && tls.mode !== 'MUTUAL')) return false;
  return !tls.caCertificates && !tls.credentialName;
}

function caCertificates(dr: DR, out: Diagnostic[]): void {
  const { namespace, name } = dr.metadata;
  const check = (tp: DestinationRuleSpec['trafficPolicy'], base: Path, where: string) => {
    if (unverified(tp?.tls)) {
      out.push(finding(dr, 'NoServerCertificateVerificationDestinationLevel', [...base, 'tls'], `DestinationRule ${name} in namespace ${namespace} has TLS mode set to ${tp!.tls!.mode} but no caCertificates are set to validate server identity for host: ${dr.spec.host}${where}`, 'set tls.caCertificates (or credentialName); without it the system CAs are used'));
    }
    (tp?.portLevelSettings ?? []).forEach((p, i) => {
      if (!unverified(p.tls)) return;
      out.push(finding(dr, 'NoServerCertificateVerificationPortLevel', [...base, 'portLevelSettings', i, 'tls'], `DestinationRule ${name} in namespace ${namespace} has TLS mode set to ${p.tls!.mode} but no caCertificates are set to validate server identity for host: ${dr.spec.host} at port ${p.port?.number}${where}`, 'set tls.caCertificates (or credentialName); without it the system CAs are used'));
    });
  };
  check(dr.spec.trafficPolicy, ['spec', 'trafficPolicy'], '');
  (dr.spec.subsets ?? []).forEach((s, i) => check(s.trafficPolicy, ['spec', 'subsets', i, 'trafficPolicy'], ` (subset ${s.name})`));
}

function subsets(dr: DR, entries: readonly Resource<{ endpoints?: readonly { labels?: Readonly<Record<string, string>> }[]; workloadSelector?: unknown }>[], out: Diagnostic[]): void {
  // Pods selected by a workloadSelector are not in the files; only inline endpoints can be checked.
  if (entries.some((se) => se.spec.workloadSelector !== undefined)) return;
  (dr.spec.subsets ?? []).forEach((s, i) => {
    const labels = Object.entries(s.labels ?? {});
    if (labels.length === 0) return;
    const selects = entries.some((se) => (se.spec.endpoints ?? []).some((e) => labels.every(([k, v]) => e.labels?.[k] === v)));
    if (selects) return;
    out.push(finding(dr, 'DestinationRuleSubsetNotSelectPods', ['spec', 'subsets', i, 'labels'], `The Subset ${s.name} defined in the DestinationRule does not select any endpoints of ${dr.spec.host}, which may cause 503 errors`, 'add labels to the ServiceEntry endpoints, or fix the subset labels'));
  });
}
