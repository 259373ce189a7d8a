// The subset of Istio MeshConfig Egressway reads (--mesh-config): outboundTrafficPolicy and
// serviceEntryVisibility. Later issues add extensionProviders.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import type { ServiceEntryVisibility } from '../compile/compile.ts';
import type { OutboundTrafficPolicy } from '../model/snapshot.ts';

export interface MeshConfig {
  readonly outboundTrafficPolicy?: { readonly mode?: OutboundTrafficPolicy };
  readonly serviceEntryVisibility?: ServiceEntryVisibility;
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
