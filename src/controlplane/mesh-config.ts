// The subset of Istio MeshConfig Egressway reads: outboundTrafficPolicy, serviceEntryVisibility,
// defaultVirtualServiceExportTo, defaultDestinationRuleExportTo, defaultHttpRetryPolicy, extensionProviders (envoyExtAuthzHttp, for CUSTOM policies), pathNormalization and
// defaultConfig.gatewayTopology.numTrustedProxies (also accepted at the top level). Shared by the
// CLI's --mesh-config file and the Kubernetes source's istio-system/istio ConfigMap.
import { yamlLib } from '../config/yaml-lib.ts';
import { KUBECTL_YAML } from '../config/yaml-schema.ts';
import type { ExtensionProviderConfig } from '../compile/authn.ts';
import type { CompileOptions, ServiceEntryVisibility } from '../compile/compile.ts';
import type { PathNormalization } from '../model/policy.ts';
import type { OutboundTrafficPolicy } from '../model/snapshot.ts';
import type { HTTPRetry } from '../config/kinds/virtual-service.ts';
import { retryProblems } from '../config/kinds/virtual-service-http-rules.ts';

export interface MeshConfig {
  readonly outboundTrafficPolicy?: { readonly mode?: OutboundTrafficPolicy };
  readonly serviceEntryVisibility?: ServiceEntryVisibility;
  readonly extensionProviders?: readonly ExtensionProviderConfig[];
  readonly defaultConfig?: { readonly gatewayTopology?: { readonly numTrustedProxies?: number } };
  readonly gatewayTopology?: { readonly numTrustedProxies?: number };
  readonly pathNormalization?: { readonly normalization?: string };
  readonly defaultVirtualServiceExportTo?: readonly string[];
  readonly defaultDestinationRuleExportTo?: readonly string[];
  /** The retries of HTTP routes that set none; `{attempts: 0}` turns the waypoint's default retries off. */
  readonly defaultHttpRetryPolicy?: HTTPRetry;
}

const NORMALIZATIONS = ['DEFAULT', 'NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];

/** pathNormalization.normalization, DEFAULT (and absent) being BASE; meshConfigOf() has validated it. */
export function meshPathNormalization(m: MeshConfig): PathNormalization {
  const n = m.pathNormalization?.normalization;
  return n === undefined || n === 'DEFAULT' ? 'BASE' : n as PathNormalization;
}

/** gatewayTopology.numTrustedProxies, from proxy defaultConfig (where Istio keeps it) or the top level. */
export function meshNumTrustedProxies(m: MeshConfig): number | undefined {
  return m.defaultConfig?.gatewayTopology?.numTrustedProxies ?? m.gatewayTopology?.numTrustedProxies;
}

/** The compile options a MeshConfig sets (undefined where it is silent). */
export function meshCompileOptions(m: MeshConfig): Partial<CompileOptions> {
  return {
    outboundTrafficPolicy: m.outboundTrafficPolicy?.mode, serviceEntryVisibility: m.serviceEntryVisibility,
    extensionProviders: m.extensionProviders, numTrustedProxies: meshNumTrustedProxies(m), pathNormalization: meshPathNormalization(m),
    defaultVirtualServiceExportTo: m.defaultVirtualServiceExportTo, defaultDestinationRuleExportTo: m.defaultDestinationRuleExportTo,
    defaultHttpRetryPolicy: m.defaultHttpRetryPolicy,
  };
}

const MESH_FIELDS = ['outboundTrafficPolicy', 'serviceEntryVisibility', 'extensionProviders', 'defaultConfig', 'gatewayTopology', 'rootNamespace', 'trustDomain', 'accessLogFile', 'accessLogEncoding', 'enableTracing', 'defaultProviders', 'pathNormalization', 'meshMTLS', 'discoverySelectors', 'defaultVirtualServiceExportTo', 'defaultDestinationRuleExportTo', 'defaultServiceExportTo', 'defaultHttpRetryPolicy'];

/**
 * The MeshConfig inside whichever form a user has at hand: a bare MeshConfig, the `istio` ConfigMap
 * (`data.mesh`, or a bare `mesh:` string), an IstioOperator (`spec.meshConfig`), or Helm values
 * (`meshConfig:`). Any other object is refused by name, never read as an empty MeshConfig.
 */
export function meshConfigOf(doc: unknown, file: string): MeshConfig {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`--mesh-config ${file}: expected a MeshConfig mapping, got ${Array.isArray(doc) ? 'a list' : typeof doc}`);
  const d = doc as Record<string, unknown>;
  const sub = (v: unknown, where: string): MeshConfig => {
    if (typeof v === 'string') return meshConfigOf(yamlLib().parse(v, KUBECTL_YAML) ?? {}, `${file} ${where}`);
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
  const n = (d as MeshConfig).pathNormalization?.normalization;
  if (n !== undefined && !NORMALIZATIONS.includes(n)) {
    throw new Error(`--mesh-config ${file}: pathNormalization.normalization ${JSON.stringify(n)} is not one of ${NORMALIZATIONS.join(', ')}`);
  }
  for (const f of ['defaultVirtualServiceExportTo', 'defaultDestinationRuleExportTo'] as const) {
    const v = (d as MeshConfig)[f];
    if (v !== undefined && (!Array.isArray(v) || v.some((e) => typeof e !== 'string'))) {
      throw new Error(`--mesh-config ${file}: ${f} must be a list of strings such as ["*"] or ["."], got ${JSON.stringify(v)}`);
    }
  }
  checkRetryPolicy((d as MeshConfig).defaultHttpRetryPolicy, file);
  return d as MeshConfig;
}

/** defaultHttpRetryPolicy is an HTTPRetry: checked as a VirtualService's retries are. */
function checkRetryPolicy(p: unknown, file: string): void {
  if (p === undefined) return;
  const where = `--mesh-config ${file}: defaultHttpRetryPolicy`;
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new Error(`${where} must be a mapping such as {attempts: 0}, got ${JSON.stringify(p)}`);
  const problems = retryProblems(p as HTTPRetry);
  if (problems.length) throw new Error(`${where}: ${problems.join('; ')}`);
}
