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
  try {
    const doc = parse(text) ?? {};
    // Accept the istio ConfigMap's `mesh:` key as well as a bare MeshConfig.
    return (typeof doc.mesh === 'string' ? parse(doc.mesh) : doc) as MeshConfig;
  } catch (err) {
    throw new Error(`--mesh-config ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}
