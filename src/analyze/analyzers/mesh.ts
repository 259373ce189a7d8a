// Analyzers istioctl runs that ambient egress users hit (reference §6.5):
// - IST0109 ConflictingMeshGatewayVirtualServiceHosts: two mesh-bound VirtualServices, visible
//   together, define the same host (the waypoint uses only one of them);
// - IST0112 VirtualServiceDestinationPortSelectorRequired: a gateway-bound VirtualService routes to
//   a ServiceEntry host with several ports and names no port;
// - IST0166 IneffectiveSelector: a policy's selector picks a Kubernetes Gateway's pods (by the
//   gateway-name label Istio puts on them), which a waypoint or gateway ignores: use targetRefs;
// - IST0171 NegativeConditionStatus: a status condition reported False (istio.io/WaypointBound,
//   Accepted, ResolvedRefs, ...), as exported objects carry it.
// Each stays silent when the files cannot tell (precision first).
import type { VirtualServiceSpec } from '../../config/kinds/virtual-service.ts';
import type { Resource } from '../../config/resource.ts';
import type { Path } from '../../config/schema.ts';
import type { Diagnostic } from '../../model/diagnostic.ts';
import { finding } from '../context.ts';
import type { Context } from '../context.ts';
import { fqdn } from './routes.ts';

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

function exportedTo(vs: VS): ReadonlySet<string> {
  const list = vs.spec.exportTo?.length ? vs.spec.exportTo : ['*'];
  return new Set(list.filter((e) => e !== '~').map((e) => (e === '.' ? vs.metadata.namespace : e)));
}

function visibleTogether(a: VS, b: VS): boolean {
  const [va, vb] = [exportedTo(a), exportedTo(b)];
  if (va.size === 0 || vb.size === 0) return false;
  return va.has('*') || vb.has('*') || [...va].some((ns) => vb.has(ns));
}

function conflictingMeshHosts(ctx: Context, out: Diagnostic[]): void {
  const byHost = new Map<string, { vs: VS; index: number }[]>();
  for (const vs of ctx.virtualServices.filter(meshBound)) {
    (vs.spec.hosts ?? []).forEach((h, index) => {
      const host = fqdn(h, vs.metadata.namespace);
      byHost.set(host, [...(byHost.get(host) ?? []), { vs, index }]);
    });
  }
  for (const [host, list] of byHost) {
    const clashing = list.filter((a) => list.some((b) => b.vs !== a.vs && visibleTogether(a.vs, b.vs)));
    if (clashing.length < 2) continue;
    const names = clashing.map((c) => id(c.vs)).join(',');
    for (const c of clashing) {
      out.push(finding(c.vs, 'ConflictingMeshGatewayVirtualServiceHosts', ['spec', 'hosts', c.index], `The VirtualServices ${names} associated with mesh gateway define the same host ${host} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`, 'merge the VirtualServices into one, or keep them apart with exportTo'));
    }
  }
}

function portSelectorRequired(ctx: Context, vs: VS, out: Diagnostic[]): void {
  // Mesh-bound routes are chosen per service port, so only gateway-bound ones need a port.
  if (!(vs.spec.gateways ?? []).some((g) => g !== 'mesh')) return;
  const check = (d: { host: string; port?: { number?: number } }, path: Path) => {
    if (d.port?.number !== undefined) return;
    const host = d.host.toLowerCase();
    const ports = new Set(ctx.serviceEntries.filter((se) => (se.spec.hosts ?? []).some((h) => h.toLowerCase() === host)).flatMap((se) => (se.spec.ports ?? []).map((p) => p.number)));
    if (ports.size <= 1) return;
    out.push(finding(vs, 'VirtualServiceDestinationPortSelectorRequired', path, `This VirtualService routes to a service "${d.host}" that exposes multiple ports [${[...ports].sort((a, b) => a - b).join(' ')}]. Specifying a port in the destination is required to disambiguate.`, 'add destination.port.number'));
  };
  for (const kind of ['http', 'tcp', 'tls'] as const) {
    (vs.spec[kind] ?? []).forEach((rule, i) => (rule.route ?? []).forEach((d, j) => check(d.destination, ['spec', kind, i, 'route', j, 'destination'])));
  }
}

// Istio labels a Kubernetes Gateway's pods (waypoints included) with the Gateway's name.
const GATEWAY_NAME_LABELS = ['gateway.networking.k8s.io/gateway-name', 'istio.io/gateway-name'];
const SELECTOR_KINDS = ['security.istio.io/AuthorizationPolicy', 'security.istio.io/RequestAuthentication', 'telemetry.istio.io/Telemetry', 'extensions.istio.io/WasmPlugin'];

function ineffectiveSelectors(ctx: Context, out: Diagnostic[]): void {
  for (const r of ctx.all.filter((x) => SELECTOR_KINDS.includes(`${x.group}/${x.kind}`))) {
    const labels = (r.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector?.matchLabels ?? {};
    for (const key of GATEWAY_NAME_LABELS) {
      const name = labels[key];
      const gw = name && ctx.kubeGateways.find((g) => g.metadata.namespace === r.metadata.namespace && g.metadata.name === name);
      if (!gw) continue;
      out.push(finding(r, 'IneffectiveSelector', ['spec', 'selector', 'matchLabels', key], `Ineffective selector on Kubernetes Gateway ${name}. Use the TargetRef field instead.`, `replace selector with targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: ${name}}]`));
      break;
    }
  }
}

interface Condition { readonly type?: string; readonly status?: string; readonly reason?: string; readonly message?: string }

function negativeConditions(r: Resource, out: Diagnostic[]): void {
  const status = r.status as { conditions?: unknown; parents?: unknown } | undefined;
  const report = (list: unknown, base: Path, where: string) => {
    if (!Array.isArray(list)) return;
    list.forEach((c: Condition, i) => {
      if (c?.status !== 'False' || !c.type) return;
      const detail = [c.reason, c.message].filter(Boolean).join(': ');
      out.push(finding(r, 'NegativeConditionStatus', [...base, i], `Condition ${c.type}${where} is False${detail ? `: ${detail}` : ''}`, 'fix what the condition reports, then re-export the object'));
    });
  };
  report(status?.conditions, ['status', 'conditions'], '');
  if (Array.isArray(status?.parents)) {
    status.parents.forEach((p: { parentRef?: { name?: string }; conditions?: unknown }, i) => report(p?.conditions, ['status', 'parents', i, 'conditions'], p?.parentRef?.name ? ` for parent ${p.parentRef.name}` : ''));
  }
}
