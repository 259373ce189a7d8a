// The subset of Istio MeshConfig Egressway reads (--mesh-config): outboundTrafficPolicy,
// serviceEntryVisibility, extensionProviders (envoyExtAuthzHttp, for CUSTOM policies),
// pathNormalization and defaultConfig.gatewayTopology.numTrustedProxies (also accepted at the top level).
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import type { ExtensionProviderConfig } from '../compile/authn.ts';
import type { ServiceEntryVisibility } from '../compile/compile.ts';
import type { PathNormalization } from '../model/policy.ts';
import type { OutboundTrafficPolicy } from '../model/snapshot.ts';

export interface MeshConfig {
  readonly outboundTrafficPolicy?: { readonly mode?: OutboundTrafficPolicy };
  readonly serviceEntryVisibility?: ServiceEntryVisibility;
  readonly extensionProviders?: readonly ExtensionProviderConfig[];
  readonly defaultConfig?: { readonly gatewayTopology?: { readonly numTrustedProxies?: number } };
  readonly gatewayTopology?: { readonly numTrustedProxies?: number };
  readonly pathNormalization?: { readonly normalization?: string };
}

const NORMALIZATIONS = ['DEFAULT', 'NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];

/** pathNormalization.normalization, DEFAULT (and absent) being BASE; readMeshConfig() has validated it. */
export function meshPathNormalization(m: MeshConfig): PathNormalization {
  const n = m.pathNormalization?.normalization;
  return n === undefined || n === 'DEFAULT' ? 'BASE' : n as PathNormalization;
}

/** gatewayTopology.numTrustedProxies, from proxy defaultConfig (where Istio keeps it) or the top level. */
export function meshNumTrustedProxies(m: MeshConfig): number | undefined {
  return m.defaultConfig?.gatewayTopology?.numTrustedProxies ?? m.gatewayTopology?.numTrustedProxies;
}

export async function readMeshConfig(file: string): Promise<MeshConfig> {
  let text: string;
  let mesh: MeshConfig;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read --mesh-config ${file}: ${(err as Error).message}`);
  }
  try {
    const doc = parse(text) ?? {};
    // Accept the istio ConfigMap's `mesh:` key as well as a bare MeshConfig.
    mesh = (typeof doc.mesh === 'string' ? parse(doc.mesh) : doc) as MeshConfig ?? {};
  } catch (err) {
    throw new Error(`--mesh-config ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const n = mesh.pathNormalization?.normalization;
  if (n !== undefined && !NORMALIZATIONS.includes(n)) {
    throw new Error(`--mesh-config ${file}: pathNormalization.normalization ${JSON.stringify(n)} is not one of ${NORMALIZATIONS.join(', ')}`);
  }
  return mesh;
}
