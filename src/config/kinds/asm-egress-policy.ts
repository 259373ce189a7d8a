// Alibaba Cloud ASM's ASMEgressTrafficPolicy (istio.alibabacloud.com/v1beta1, reference §1.8): one
// custom resource that ASM expands into the sidecar-era ServiceEntry + Gateway + VirtualService +
// DestinationRule set. Egressway's waypoint does not read it; `migrate` does, so it is registered only
// in src/analyze/kinds.ts. Field names follow ASM's CRD documentation ("CRD fields in an egress traffic
// policy"); `httpsUpgrade` is the per-destination HTTP -> HTTPS upgrade at the gateway.
import type { Diagnostic } from '../../model/diagnostic.ts';
import { checkLabelValue, checkQualifiedName, checkWildcardDomain, isDns1123Label } from '../names.ts';
import type { Resource } from '../resource.ts';
import { s } from '../schema.ts';
import { portInRange, portRangeMessage, validateKind } from './common.ts';
import type { ValidationOptions } from './common.ts';
import { parseProtocol } from './protocol.ts';

export const ASM_EGRESS_NAMESPACE = 'istio-egress';

export interface AsmEgressSource {
  readonly namespace?: string;
  /** Pod labels (a plain map, not a LabelSelector). */
  readonly workloadSelector?: Readonly<Record<string, string>>;
}

export interface AsmEgressDestination {
  readonly name?: string;
  readonly hosts: readonly string[];
  readonly port: { readonly name?: string; readonly number: number; readonly protocol: string };
  readonly byEgressGateway?: { readonly port?: number };
  readonly httpsUpgrade?: { readonly enabled?: boolean; readonly port?: number };
}

export interface AsmEgressRule {
  readonly from?: readonly AsmEgressSource[];
  readonly to?: readonly AsmEgressDestination[];
}

export interface AsmEgressTrafficPolicySpec {
  readonly byEgressGateway?: { readonly name: string };
  readonly egressRules?: readonly AsmEgressRule[];
}

const shape = {
  spec: s.object({
    byEgressGateway: s.object({ name: s.string() }, { required: ['name'] }),
    egressRules: s.array(s.object({
      from: s.array(s.object({ namespace: s.string(), workloadSelector: s.map(s.string()) })),
      to: s.array(s.object({
        name: s.string(),
        hosts: s.array(s.string()),
        port: s.object({ name: s.string(), number: s.integer(), protocol: s.string() }, { required: ['number', 'protocol'] }),
        byEgressGateway: s.object({ port: s.integer() }),
        httpsUpgrade: s.object({ enabled: s.boolean(), port: s.integer() }),
      }, { required: ['hosts', 'port'] })),
    })),
  }, { required: ['byEgressGateway'] }),
  status: s.object({}, { open: true }),
};

export function validateAsmEgressTrafficPolicy(r: Resource, options: ValidationOptions = {}): Diagnostic[] {
  return validateKind<AsmEgressTrafficPolicySpec>(r, shape, (spec, res, report) => {
    if (res.metadata.namespace !== ASM_EGRESS_NAMESPACE) {
      report.warn(['metadata', 'namespace'], `ASM only reads ASMEgressTrafficPolicy in namespace ${ASM_EGRESS_NAMESPACE}`, `move it to namespace ${ASM_EGRESS_NAMESPACE}`);
    }
    if (!spec.egressRules?.length) report.error(['spec', 'egressRules'], 'at least one egress rule is required', 'add egressRules: [{from: [...], to: [...]}]');
    spec.egressRules?.forEach((rule, i) => {
      const path = ['spec', 'egressRules', i];
      if (!rule.to?.length) report.error([...path, 'to'], 'an egress rule needs at least one destination in to', 'add to: [{hosts: [...], port: {...}}]');
      rule.from?.forEach((f, j) => {
        if (f.namespace === undefined) report.error([...path, 'from', j], 'from entries need a namespace', 'add namespace');
        else if (!isDns1123Label(f.namespace)) report.error([...path, 'from', j, 'namespace'], `invalid namespace ${JSON.stringify(f.namespace)}`, 'use a namespace name');
        for (const [k, v] of Object.entries(f.workloadSelector ?? {})) {
          const p = checkQualifiedName(k) ?? checkLabelValue(v);
          if (p) report.error([...path, 'from', j, 'workloadSelector', k], p, 'fix the label key or value syntax');
        }
      });
      rule.to?.forEach((t, j) => {
        const tp = [...path, 'to', j];
        if (!t.hosts.length) report.error([...tp, 'hosts'], 'hosts must not be empty', 'add the external host names');
        t.hosts.forEach((h, k) => { const p = checkWildcardDomain(h); if (p) report.error([...tp, 'hosts', k], p, 'use a DNS name'); });
        if (!portInRange(t.port.number)) report.error([...tp, 'port', 'number'], portRangeMessage(t.port.number), 'use a port between 1 and 65535');
        const proto = parseProtocol(t.port.protocol);
        if (proto === 'UNSUPPORTED' || proto === 'UNSET') report.error([...tp, 'port', 'protocol'], `unsupported protocol: ${t.port.protocol}`, 'use HTTP, HTTPS, TLS or TCP');
        if (t.httpsUpgrade?.enabled && proto !== 'HTTP') report.error([...tp, 'httpsUpgrade'], `httpsUpgrade needs an HTTP port; port ${t.port.number} is ${t.port.protocol}`, 'set port.protocol: HTTP, or remove httpsUpgrade');
        const gp = t.byEgressGateway?.port;
        if (gp !== undefined && !portInRange(gp)) report.error([...tp, 'byEgressGateway', 'port'], portRangeMessage(gp), 'use a port between 1 and 65535');
      });
    });
  }, options);
}
