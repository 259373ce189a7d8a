// Provisioning settings of one Gateway: the GatewayClass's parametersRef ConfigMap, then the
// Gateway's spec.infrastructure.parametersRef ConfigMap over it (key by key; `args` from both, the
// class's first), then the annotations. PURE: the caller looks the ConfigMaps up.
//
// ConfigMap keys (each value a string, as ConfigMaps hold; YAML for the structured ones):
//   replicas: "2"            image: ghcr.io/egressway/egressway:0.1.0
//   resources: "{requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 512Mi}}"
//   args: "[--log-level, debug]"      appended to `egressway run ...`
//   nodeSelector: "{kubernetes.io/os: linux}"    tolerations: "[{key: egress, operator: Exists}]"
import { parse as parseYaml } from 'yaml';
import { KUBECTL_YAML } from '../../config/yaml-schema.ts';

export interface Settings {
  /**
   * Set only when a parametersRef ConfigMap sets it. Left out, the Deployment's `replicas` is not
   * ours (Istio's waypoint template sets none either): Kubernetes starts it at 1 and a
   * HorizontalPodAutoscaler or `kubectl scale` owns it from then on, with no resync undoing them.
   */
  readonly replicas?: number;
  readonly image: string;
  readonly resources?: Readonly<Record<string, unknown>>;
  readonly args: readonly string[];
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly tolerations?: readonly unknown[];
  /** From ambient.istio.io/waypoint-inbound-binding: PROXY/<port> (Gateway, else GatewayClass). */
  readonly proxyProtocolPort?: number;
}

export interface ParamsError {
  readonly reason: 'InvalidParameters';
  readonly message: string;
}

export interface Ref {
  readonly group?: string;
  readonly kind?: string;
  readonly name?: string;
  readonly namespace?: string;
}

export interface ParamsInput {
  readonly classRef?: Ref;
  readonly gatewayRef?: Ref;
  readonly gatewayNamespace: string;
  readonly classAnnotations: Readonly<Record<string, string>>;
  readonly gatewayAnnotations: Readonly<Record<string, string>>;
  readonly defaultImage: string;
  /** ConfigMap data by namespace/name; undefined when it does not exist. */
  readonly configMap: (namespace: string, name: string) => Readonly<Record<string, string>> | undefined;
}

export const INBOUND_BINDING = 'ambient.istio.io/waypoint-inbound-binding';
// The waypoint's own listeners: admin, proxy, HBONE, stats, status.
const RESERVED_PORTS = new Set([15000, 15001, 15008, 15020, 15021]);
const KEYS = new Set(['replicas', 'image', 'resources', 'args', 'nodeSelector', 'tolerations']);

type Partial = { -readonly [K in keyof Settings]?: Settings[K] };

export function resolveSettings(i: ParamsInput): { settings?: Settings; error?: ParamsError } {
  const layers: Partial[] = [];
  for (const [ref, where, ns] of [[i.classRef, 'GatewayClass', i.classRef?.namespace], [i.gatewayRef, 'Gateway', i.gatewayNamespace]] as const) {
    if (!ref) continue;
    const r = fromRef(ref, where, ns, i.configMap);
    if (r.error) return { error: r.error };
    layers.push(r.layer!);
  }
  const binding = i.gatewayAnnotations[INBOUND_BINDING] ?? i.classAnnotations[INBOUND_BINDING];
  let proxyProtocolPort: number | undefined;
  if (binding !== undefined) {
    const m = /^PROXY\/(\d{1,5})$/.exec(binding.trim());
    const port = m ? Number(m[1]) : NaN;
    if (!(port >= 1 && port <= 65535)) return { error: invalid(`annotation ${INBOUND_BINDING}: "${binding}" is not PROXY/<port> (example: PROXY/15088)`) };
    if (RESERVED_PORTS.has(port)) return { error: invalid(`annotation ${INBOUND_BINDING}: port ${port} is taken by the waypoint (${[...RESERVED_PORTS].join(', ')}); use another, e.g. PROXY/15088`) };
    proxyProtocolPort = port;
  }
  const merged: Partial = {};
  for (const l of layers) Object.assign(merged, l, { args: [...(merged.args ?? []), ...(l.args ?? [])] });
  return {
    settings: {
      ...(merged.replicas !== undefined ? { replicas: merged.replicas } : {}), image: merged.image ?? i.defaultImage, args: merged.args ?? [],
      ...(merged.resources ? { resources: merged.resources } : {}), ...(merged.nodeSelector ? { nodeSelector: merged.nodeSelector } : {}),
      ...(merged.tolerations ? { tolerations: merged.tolerations } : {}), ...(proxyProtocolPort !== undefined ? { proxyProtocolPort } : {}),
    },
  };
}

function invalid(message: string): ParamsError {
  return { reason: 'InvalidParameters', message };
}

function fromRef(ref: Ref, where: string, ns: string | undefined, configMap: ParamsInput['configMap']): { layer?: Partial; error?: ParamsError } {
  if ((ref.group ?? '') !== '' || ref.kind !== 'ConfigMap') {
    return { error: invalid(`${where} parametersRef must be a ConfigMap (group "", kind ConfigMap), not ${ref.group || 'core'}/${ref.kind}`) };
  }
  if (!ns) return { error: invalid(`${where} parametersRef ConfigMap ${ref.name} has no namespace; set parametersRef.namespace`) };
  const data = configMap(ns, ref.name ?? '');
  if (!data) return { error: invalid(`${where} parametersRef ConfigMap ${ns}/${ref.name} not found`) };
  const at = `ConfigMap ${ns}/${ref.name}`;
  const unknown = Object.keys(data).filter((k) => !KEYS.has(k));
  if (unknown.length) return { error: invalid(`${at}: unknown key(s) ${unknown.join(', ')}; known: ${[...KEYS].join(', ')}`) };
  const layer: Partial = {};
  try {
    if (data.replicas !== undefined) {
      const n = Number(data.replicas);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`replicas "${data.replicas}" is not a whole number from 1 to 1000`);
      layer.replicas = n;
    }
    if (data.image !== undefined) {
      if (!/^\S+$/.test(data.image)) throw new Error(`image "${data.image}" is not an image reference`);
      layer.image = data.image;
    }
    if (data.resources !== undefined) layer.resources = yamlOf(data.resources, 'resources', 'object') as Record<string, unknown>;
    if (data.args !== undefined) {
      const args = yamlOf(data.args, 'args', 'array') as unknown[];
      if (!args.every((a) => typeof a === 'string' || typeof a === 'number')) throw new Error('args must be a list of strings');
      layer.args = args.map(String);
    }
    if (data.nodeSelector !== undefined) layer.nodeSelector = yamlOf(data.nodeSelector, 'nodeSelector', 'object') as Record<string, string>;
    if (data.tolerations !== undefined) layer.tolerations = yamlOf(data.tolerations, 'tolerations', 'array') as unknown[];
  } catch (err) {
    return { error: invalid(`${at}: ${(err as Error).message}`) };
  }
  return { layer };
}

function yamlOf(text: string, key: string, want: 'object' | 'array'): unknown {
  let v: unknown;
  try {
    v = parseYaml(text, KUBECTL_YAML);
  } catch (err) {
    throw new Error(`${key} is not YAML (${(err as Error).message.split('\n')[0]})`);
  }
  const ok = want === 'array' ? Array.isArray(v) : v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!ok) throw new Error(`${key} must be a YAML ${want === 'array' ? 'list' : 'map'}`);
  return v;
}
