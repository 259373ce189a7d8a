// Analyzers istioctl runs that ambient egress users hit (reference §6.5):
// Each is a port of istioctl's analyzer of the same code (pkg/config/analysis/analyzers/...):
// - IST0109 ConflictingMeshGatewayVirtualServiceHosts (virtualservice/conflictingmeshgatewayhosts.go):
//   mesh-bound VirtualServices grouped by "<exportTo scope>/<FQDN host>"; a group of two or more is
//   reported on each member. Scopes compare as strings, as Istio's do: exportTo ["*"] and ["ns"]
//   never clash;
// - IST0112 VirtualServiceDestinationPortSelectorRequired (virtualservice/destinationhosts.go): any
//   VirtualService (mesh or gateway) whose route or mirror destination names no port while the
//   ServiceEntry found for its host has more than one port;
// - IST0166 IneffectiveSelector (k8sgateway/workloadselector.go): a policy without targetRef(s) whose
//   selector labels are all on a Pod of a Kubernetes Gateway (a Pod carrying the gateway-name label)
//   in its namespace. Without Pods in the input, nothing is said, as istioctl says nothing;
// - IST0171 NegativeConditionStatus (conditions/conditions.go): a `status.conditions` entry with
//   status False on a Service, ServiceEntry or AuthorizationPolicy (not route parent status).
import type { VirtualServiceSpec } from '../../config/kinds/virtual-service.ts';
import type { Resource } from '../../config/resource.ts';
import type { Path } from '../../config/schema.ts';
import type { Diagnostic } from '../../model/diagnostic.ts';
import { entriesForHost, finding } from '../context.ts';
import type { Context } from '../context.ts';

type VS = Resource<VirtualServiceSpec>;

export function analyzeMesh(ctx: Context): Diagnostic[] {
  const out: Diagnostic[] = [];
  conflictingMeshHosts(ctx, out);
  for (const vs of ctx.virtualServices) portSelectorRequired(ctx, vs, out);
  ineffectiveSelectors(ctx, out);
  for (const r of ctx.all) negativeConditions(r, out);
  return out;
}

const id = (r: Resource) => `${r.metadata.namespace}/${r.metadata.name}`;
const meshBound = (vs: VS) => !vs.spec.gateways?.length || vs.spec.gateways.includes('mesh');

/** util.ConvertHostToFQDN: short names gain "<ns>.svc.cluster.local"; wildcards and dotted names stay. */
function istioFqdn(host: string, ns: string): string {
  return host.startsWith('*') || host.includes('.') ? host : `${host}.${ns}.svc.cluster.local`;
}

/** The exportTo scopes initMeshGatewayHosts files a VirtualService's hosts under. */
function hostScopes(vs: VS): string[] {
  const exportTo = vs.spec.exportTo ?? [];
  if (exportTo.length === 0 || exportTo.includes('*')) return ['*'];
  return [...new Set(exportTo.map((e) => (e === '.' ? vs.metadata.namespace : e)))];
}

function conflictingMeshHosts(ctx: Context, out: Diagnostic[]): void {
  const byScopedHost = new Map<string, VS[]>();
  for (const vs of ctx.virtualServices.filter(meshBound)) {
    for (const scope of hostScopes(vs)) {
      for (const h of vs.spec.hosts ?? []) {
        const key = `${scope}/${istioFqdn(h, vs.metadata.namespace)}`;
        byScopedHost.set(key, [...(byScopedHost.get(key) ?? []), vs]);
      }
    }
  }
  for (const [scopedHost, list] of byScopedHost) {
    if (list.length < 2) continue;
    const names = list.map(id).join(',');
    for (const vs of list) {
      out.push(finding(vs, 'ConflictingMeshGatewayVirtualServiceHosts', ['metadata', 'name'], `The VirtualServices ${names} associated with mesh gateway define the same host ${scopedHost} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`, 'merge the VirtualServices into one, or keep them apart with exportTo'));
    }
  }
}

function portSelectorRequired(ctx: Context, vs: VS, out: Diagnostic[]): void {
  const check = (d: { host?: string; port?: { number?: number } } | undefined, path: Path) => {
    if (!d?.host || d.port?.number !== undefined) return;
    const se = entriesForHost(ctx, d.host)[0];
    const ports = (se?.spec.ports ?? []).map((p) => p.number);
    if (ports.length <= 1) return;
    out.push(finding(vs, 'VirtualServiceDestinationPortSelectorRequired', path, `This VirtualService routes to a service "${d.host}" that exposes multiple ports [${ports.join(' ')}]. Specifying a port in the destination is required to disambiguate.`, 'add destination.port.number'));
  };
  for (const kind of ['http', 'tcp', 'tls'] as const) {
    (vs.spec[kind] ?? []).forEach((rule, i) => (rule.route ?? []).forEach((d, j) => check(d.destination, ['spec', kind, i, 'route', j, 'destination'])));
  }
  (vs.spec.http ?? []).forEach((rule, i) => check(rule.mirror, ['spec', 'http', i, 'mirror']));
}

// constants.GatewayNameLabel: Istio labels a Kubernetes Gateway's pods (waypoints included) with it.
const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
const SELECTOR_KINDS = ['security.istio.io/AuthorizationPolicy', 'security.istio.io/RequestAuthentication', 'telemetry.istio.io/Telemetry', 'extensions.istio.io/WasmPlugin'];

interface SelectorPolicy { selector?: { matchLabels?: Record<string, string> }; targetRef?: unknown; targetRefs?: readonly unknown[] }

function ineffectiveSelectors(ctx: Context, out: Diagnostic[]): void {
  const gatewayPods = ctx.all.filter((r) => r.group === '' && r.kind === 'Pod' && r.metadata.labels?.[GATEWAY_NAME_LABEL] !== undefined);
  if (gatewayPods.length === 0) return;
  for (const r of ctx.all.filter((x) => SELECTOR_KINDS.includes(`${x.group}/${x.kind}`))) {
    const spec = (r.spec ?? {}) as SelectorPolicy;
    if (spec.targetRef !== undefined || spec.targetRefs?.length || !spec.selector) continue;
    const wanted = Object.entries(spec.selector.matchLabels ?? {});
    for (const pod of gatewayPods.filter((p) => p.metadata.namespace === r.metadata.namespace)) {
      const labels = pod.metadata.labels ?? {};
      if (!wanted.every(([k, v]) => labels[k] === v)) continue;
      const gateway = labels[GATEWAY_NAME_LABEL];
      out.push(finding(r, 'IneffectiveSelector', ['spec', 'selector'], `Ineffective selector on Kubernetes Gateway ${gateway}. Use the TargetRef field instead.`, `replace selector with targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: ${gateway}}]`));
    }
  }
}

interface Condition { readonly type?: string; readonly status?: string; readonly reason?: string; readonly message?: string }
const CONDITION_KINDS = ['/Service', 'networking.istio.io/ServiceEntry', 'security.istio.io/AuthorizationPolicy'];

function negativeConditions(r: Resource, out: Diagnostic[]): void {
  if (!CONDITION_KINDS.includes(`${r.group}/${r.kind}`)) return;
  const list = (r.status as { conditions?: unknown } | undefined)?.conditions;
  if (!Array.isArray(list)) return;
  list.forEach((c: Condition | null, i) => {
    if (c?.status !== 'False') return;
    out.push(finding(r, 'NegativeConditionStatus', ['status', 'conditions', i], `A condition with a negative status is present: type=${c.type ?? ''}, reason=${c.reason ?? ''}, message=${c.message ?? ''}.`, 'fix what the condition reports, then re-export the object'));
  });
}
