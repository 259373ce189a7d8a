// Loading for `analyze` and `migrate`: everything `run` loads (loadConfig), plus the kinds only these
// tools read: Istio's networking Gateway, ASM's ASMEgressTrafficPolicy, and core Pods (only their
// labels: IST0166 looks for Kubernetes Gateway pods, as istioctl does). They stay out of the
// runtime registry on purpose: the waypoint does not enforce them, so `run` keeps warning (EGW0002)
// that they are ignored rather than loading them silently.
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/load.ts';
import { parseDocuments } from '../config/parse.ts';
import type { Resource } from '../config/resource.ts';
import { validateAsmEgressTrafficPolicy } from '../config/kinds/asm-egress-policy.ts';
import { validateNetworkingGateway } from '../config/kinds/networking-gateway.ts';
import { WELL_SHAPED } from '../config/kinds/common.ts';
import { CODES } from '../model/codes.ts';
import { hasErrors } from '../model/diagnostic.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import { diagnosticAt } from '../config/diag.ts';

interface ToolKind {
  readonly versions: readonly string[];
  readonly validate: (r: Resource) => Diagnostic[];
}

export const TOOL_KINDS: ReadonlyMap<string, ToolKind> = new Map([
  ['networking.istio.io/Gateway', { versions: ['v1', 'v1beta1', 'v1alpha3'], validate: validateNetworkingGateway }],
  ['istio.alibabacloud.com/ASMEgressTrafficPolicy', { versions: ['v1beta1'], validate: validateAsmEgressTrafficPolicy }],
  ['/Pod', { versions: ['v1'], validate: () => [] }],
]);

export interface ToolLoad {
  readonly resources: readonly Resource[];
  /** Well-shaped resources that failed a rule: in analyze's context, never compiled. */
  readonly rejected: readonly Resource[];
  readonly diagnostics: readonly Diagnostic[];
  readonly files: readonly string[];
}

/** `defaultNamespace`: kubectl's -n, for documents that name no namespace. */
export async function loadForTools(paths: string[], defaultNamespace = 'default'): Promise<ToolLoad> {
  const base = await loadConfig(paths, {}, defaultNamespace);
  const extra: Resource[] = [];
  const rejected: Resource[] = [...(base.rejected ?? [])];
  const diagnostics: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const file of base.files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue; // loadConfig already reported it
    }
    for (const r of parseDocuments(text, file, defaultNamespace).resources) {
      const kind = TOOL_KINDS.get(`${r.group}/${r.kind}`);
      if (!kind) continue;
      const key = `${r.group}/${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
      if (!kind.versions.includes(r.version)) {
        diagnostics.push(diagnosticAt(r, { code: CODES.UnsupportedVersion.code, level: 'error', path: ['apiVersion'], message: `${r.kind} version ${r.apiVersion} is not supported (supported: ${kind.versions.join(', ')})`, hint: `use apiVersion ${r.group}/${kind.versions[0]}` }));
        seen.add(key);
        continue;
      }
      if (seen.has(key)) {
        diagnostics.push(diagnosticAt(r, { code: CODES.DuplicateResource.code, level: 'error', path: ['metadata', 'name'], message: `${r.kind} ${r.metadata.namespace}/${r.metadata.name} is defined twice; the first is used`, hint: 'delete one of the two documents, or rename one' }));
        continue;
      }
      seen.add(key);
      const found = kind.validate(r);
      diagnostics.push(...found);
      if (!hasErrors(found)) extra.push(r);
      else if (WELL_SHAPED.has(r)) rejected.push(r);
    }
  }
  // These kinds are known here, so the loader's "unknown kind" warning about them does not apply.
  const isToolKind = (d: Diagnostic) => d.code === CODES.UnknownKind.code && d.resource !== undefined
    && [...TOOL_KINDS.keys()].some((k) => k.endsWith(`/${d.resource!.kind}`)) && seen.has(keyOfDiag(d));
  const kept = base.diagnostics.filter((d) => !isToolKind(d));
  return { resources: [...base.resources, ...extra], rejected, diagnostics: [...kept, ...diagnostics], files: base.files };

  function keyOfDiag(d: Diagnostic): string {
    const k = [...TOOL_KINDS.keys()].find((x) => x.endsWith(`/${d.resource!.kind}`))!;
    return `${k}/${d.resource!.namespace}/${d.resource!.name}`;
  }
}
