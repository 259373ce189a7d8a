// The subset of Istio MeshConfig Egressway reads (--mesh-config): outboundTrafficPolicy,
// serviceEntryVisibility, extensionProviders (envoyExtAuthzHttp, for CUSTOM policies) and
// defaultConfig.gatewayTopology.numTrustedProxies (also accepted at the top level).
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import type { ExtensionProviderConfig } from '../compile/authn.ts';
import type { ServiceEntryVisibility } from '../compile/compile.ts';
import type { OutboundTrafficPolicy } from '../model/snapshot.ts';

export interface MeshConfig {
  readonly outboundTrafficPolicy?: { readonly mode?: OutboundTrafficPolicy };
  readonly serviceEntryVisibility?: ServiceEntryVisibility;
  readonly extensionProviders?: readonly ExtensionProviderConfig[];
  readonly defaultConfig?: { readonly gatewayTopology?: { readonly numTrustedProxies?: number } };
  readonly gatewayTopology?: { readonly numTrustedProxies?: number };
}

/** gatewayTopology.numTrustedProxies, from proxy defaultConfig (where Istio keeps it) or the top level. */
export function meshNumTrustedProxies(m: MeshConfig): number | undefined {
  return m.defaultConfig?.gatewayTopology?.numTrustedProxies ?? m.gatewayTopology?.numTrustedProxies;
}

export async function readMeshConfig(file: string): Promise<MeshConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read --mesh-config ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text) ?? {};
  } catch (err) {
    throw new Error(`--mesh-config ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return meshConfigOf(doc, file);
}

const MESH_FIELDS = ['outboundTrafficPolicy', 'serviceEntryVisibility', 'extensionProviders', 'defaultConfig', 'gatewayTopology', 'rootNamespace', 'trustDomain', 'accessLogFile', 'accessLogEncoding', 'enableTracing', 'defaultProviders', 'pathNormalization', 'meshMTLS', 'discoverySelectors'];

/**
 * The MeshConfig inside whichever form a user has at hand: a bare MeshConfig, the `istio` ConfigMap
 * (`data.mesh`, or a bare `mesh:` string), an IstioOperator (`spec.meshConfig`), or Helm values
 * (`meshConfig:`). Any other object is refused by name, never read as an empty MeshConfig.
 */
export function meshConfigOf(doc: unknown, file: string): MeshConfig {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`--mesh-config ${file}: expected a MeshConfig mapping, got ${Array.isArray(doc) ? 'a list' : typeof doc}`);
  const d = doc as Record<string, unknown>;
  const sub = (v: unknown, where: string): MeshConfig => {
    if (typeof v === 'string') return meshConfigOf(parse(v) ?? {}, `${file} ${where}`);
    return meshConfigOf(v ?? {}, `${file} ${where}`);
  };
  if (d.kind === 'ConfigMap') return sub((d.data as Record<string, unknown> | undefined)?.mesh, 'data.mesh');
  if (d.kind === 'IstioOperator') {
    const spec = d.spec as Record<string, unknown> | undefined;
    if (!spec?.meshConfig) throw new Error(`--mesh-config ${file}: IstioOperator has no spec.meshConfig; put the MeshConfig fields under spec.meshConfig`);
    return sub(spec.meshConfig, 'spec.meshConfig');
  }
  if (typeof d.kind === 'string') throw new Error(`--mesh-config ${file}: a ${d.kind} holds no MeshConfig; pass a MeshConfig, the istio ConfigMap or an IstioOperator`);
  if (typeof d.mesh === 'string') return sub(d.mesh, 'mesh');
  if (d.meshConfig !== undefined && !MESH_FIELDS.some((f) => f in d)) return sub(d.meshConfig, 'meshConfig');
  return d as MeshConfig;
}
