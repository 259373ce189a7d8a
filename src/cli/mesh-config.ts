// --mesh-config: read a file holding Istio MeshConfig in any of its usual forms (see controlplane/mesh-config.ts).
import { readFile } from 'node:fs/promises';
import { yamlLib } from '../config/yaml-lib.ts';
import { KUBECTL_YAML } from '../config/yaml-schema.ts';
import { meshConfigOf, type MeshConfig } from '../controlplane/mesh-config.ts';

export { meshConfigOf, meshNumTrustedProxies, meshPathNormalization, type MeshConfig } from '../controlplane/mesh-config.ts';

export async function readMeshConfig(file: string): Promise<MeshConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read --mesh-config ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = yamlLib().parse(text, KUBECTL_YAML) ?? {};
  } catch (err) {
    throw new Error(`--mesh-config ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return meshConfigOf(doc, file);
}

