// migrate(): sidecar-era egress resources -> ambient resources + a report. PURE over loaded resources.
import { analyze } from '../analyze/analyze.ts';
import { isWaypoint } from '../compile/waypoints.ts';
import { validateResource } from '../config/kinds/index.ts';
import { TOOL_KINDS } from '../analyze/load.ts';
import { parseDocuments } from '../config/parse.ts';
import type { Resource } from '../config/resource.ts';
import { hasErrors } from '../model/diagnostic.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import { stringify } from 'yaml';
import { KUBECTL_YAML } from '../config/yaml-schema.ts';
import { extractAsm } from './asm.ts';
import { emit } from './emit.ts';
import type { Waypoint } from './emit.ts';
import { ref } from './intent.ts';
import type { Finding, Intent } from './intent.ts';
import { extractSidecar } from './sidecar.ts';
import { verify } from './verify.ts';
import type { VerifyRow } from './verify.ts';

export interface MigrateOptions {
  /** `app=sleep-a` -> `ns/sa`. */
  readonly serviceAccounts?: ReadonlyMap<string, string>;
  /** `namespace/name` of the waypoint to create when the input has none. Default istio-egress/waypoint. */
  readonly waypoint?: string;
  readonly verify?: boolean;
  /** meshConfig outboundTrafficPolicy.mode of the old mesh (Istio's default ALLOW_ANY), for --verify. */
  readonly outboundTrafficPolicy?: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** File name the output is checked under (diagnostics name it). */
  readonly outputName?: string;
}

export interface MigrateResult {
  readonly yaml: string;
  readonly inputCount: number;
  readonly outputCount: number;
  readonly created: readonly string[];
  readonly dropped: readonly Finding[];
  readonly warnings: readonly Finding[];
  /** analyze on the output: must hold no error. */
  readonly analysis: readonly Diagnostic[];
  readonly verify?: readonly VerifyRow[];
}

const MIGRATED_KINDS = new Set(['ServiceEntry', 'Gateway', 'VirtualService', 'DestinationRule', 'AuthorizationPolicy', 'ASMEgressTrafficPolicy', 'HTTPRoute']);

export function migrate(input: readonly Resource[], options: MigrateOptions = {}): MigrateResult {
  const accounts = options.serviceAccounts ?? new Map();
  const sorted = [...input].sort((a, b) => `${a.kind}/${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.namespace}/${b.metadata.name}`));
  const existing = sorted.find(isWaypoint);
  const wp: Waypoint = existing
    ? { namespace: existing.metadata.namespace, name: existing.metadata.name, existing: true }
    : { namespace: (options.waypoint ?? 'istio-egress/waypoint').split('/')[0]!, name: (options.waypoint ?? 'istio-egress/waypoint').split('/')[1]!, existing: false };
  const sidecar = extractSidecar(sorted, accounts);
  const asm = extractAsm(sorted, accounts);
  const intents: Intent[] = [...sidecar.intents, ...asm.intents];
  const dropped = [...sidecar.dropped, ...asm.dropped];
  const warnings = [...sidecar.warnings, ...asm.warnings];
  for (const r of sorted) {
    if (r.kind === 'HTTPRoute' && !dropped.some((d) => d.what === ref(r))) {
      warnings.push({ what: ref(r), why: 'not part of an egress-gateway pattern; copy it over by hand if it still applies (an HTTPRoute parented to a ServiceEntry works at the waypoint unchanged)' });
    }
    if (!MIGRATED_KINDS.has(r.kind) || r.kind === 'Gateway' || r.kind === 'HTTPRoute' || (r.kind === 'AuthorizationPolicy' && !r.spec)) continue;
    if (r.kind === 'AuthorizationPolicy' && !dropped.some((d) => d.what === ref(r)) && !warnings.some((w) => w.what === ref(r))) {
      warnings.push({ what: ref(r), why: 'not an egress-gateway policy; copy it over by hand if it still applies' });
    }
  }
  const docs = emit(intents, wp, warnings);
  const yaml = docs.map((d) => stringify(d, KUBECTL_YAML)).join('---\n');
  const { resources: output, diagnostics: outputDiagnostics } = parseOutput(yaml, options.outputName ?? 'migrated.yaml');
  const check = [...output, ...(existing ? [existing] : [])];
  const inputCount = sorted.filter((r) => MIGRATED_KINDS.has(r.kind) && !isWaypoint(r)).length;
  return {
    yaml, inputCount, outputCount: docs.length,
    created: docs.map((d) => { const m = d.metadata as { namespace: string; name: string }; return `${d.kind} ${m.namespace}/${m.name}`; }),
    dropped, warnings,
    analysis: analyze(check, outputDiagnostics).filter((d) => d.level !== 'info'),
    ...(options.verify ? { verify: verify(sorted, check, { outbound: options.outboundTrafficPolicy, accounts }) } : {}),
  };
}

/** The output goes through the same parse and validation as any input, so a bad emit shows up as diagnostics. */
function parseOutput(yaml: string, file: string): { resources: Resource[]; diagnostics: Diagnostic[] } {
  const parsed = parseDocuments(yaml, file);
  const out: Resource[] = [];
  const diagnostics = [...parsed.diagnostics];
  for (const r of parsed.resources) {
    if (TOOL_KINDS.has(`${r.group}/${r.kind}`)) continue;
    const v = validateResource(r);
    diagnostics.push(...v.diagnostics);
    if (v.known && !hasErrors(v.diagnostics)) out.push(r);
  }
  return { resources: out, diagnostics };
}
