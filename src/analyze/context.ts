// What every analyzer reads: resources by kind, and the binding facts, taken from compile() so that
// analyze and the waypoint can never disagree about which ServiceEntry is bound where.
import { compile } from '../compile/compile.ts';
import type { CompileOptions } from '../compile/compile.ts';
import { isWaypoint } from '../compile/waypoints.ts';
import { diagnosticAt } from '../config/diag.ts';
import type { AuthorizationPolicySpec } from '../config/kinds/authorization-policy.ts';
import type { DestinationRuleSpec } from '../config/kinds/destination-rule.ts';
import type { GatewaySpec } from '../config/kinds/gateway.ts';
import type { HTTPRouteSpec } from '../config/kinds/http-route.ts';
import type { NetworkingGatewaySpec } from '../config/kinds/networking-gateway.ts';
import type { ServiceEntrySpec } from '../config/kinds/service-entry.ts';
import type { VirtualServiceSpec } from '../config/kinds/virtual-service.ts';
import type { Resource } from '../config/resource.ts';
import type { Path } from '../config/schema.ts';
import { CODES } from '../model/codes.ts';
import type { CodeName } from '../model/codes.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { Binding, Snapshot } from '../model/snapshot.ts';

export interface AnalyzeOptions extends CompileOptions {
  /** istiod's PILOT_ENABLE_IP_AUTOALLOCATE as meshConfig would set it; default true. */
  readonly ipAutoAllocate?: boolean;
}

export interface Context {
  readonly serviceEntries: readonly Resource<ServiceEntrySpec>[];
  /** Gateway API Gateways (waypoints included); VirtualService `gateways:` may name them. */
  readonly kubeGateways: readonly Resource<GatewaySpec>[];
  /** Namespaces known from the input: Namespace objects and every resource's namespace. */
  readonly namespaces: ReadonlySet<string>;
  /** True when the input has Namespace objects, so a namespace not among them can be called missing. */
  readonly hasNamespaceObjects: boolean;
  /** Every resource the analyzers see, valid or rejected by a rule. */
  readonly all: readonly Resource[];
  readonly destinationRules: readonly Resource<DestinationRuleSpec>[];
  readonly virtualServices: readonly Resource<VirtualServiceSpec>[];
  readonly httpRoutes: readonly Resource<HTTPRouteSpec>[];
  readonly policies: readonly Resource<AuthorizationPolicySpec>[];
  readonly gateways: readonly Resource<NetworkingGatewaySpec>[];
  /** ServiceEntry `ns/name` -> its binding: bound to some waypoint if any compile bound it. */
  readonly bindings: ReadonlyMap<string, Binding>;
  /** One snapshot per waypoint Gateway in the config. */
  readonly snapshots: readonly Snapshot[];
  readonly compileDiagnostics: readonly Diagnostic[];
  /** meshConfig defaultVirtualServiceExportTo, as compile used it. */
  readonly defaultVirtualServiceExportTo: readonly string[];
}

const of = <S>(resources: readonly Resource[], group: string, kind: string) =>
  resources.filter((r) => r.group === group && r.kind === kind) as Resource<S>[];

export function buildContext(resources: readonly Resource[], options: CompileOptions = {}, rejected: readonly Resource[] = []): Context {
  const sorted = [...resources].sort((a, b) => key(a).localeCompare(key(b)));
  const all = [...resources, ...rejected].sort((a, b) => key(a).localeCompare(key(b)));
  const nsObjects = all.filter((r) => r.group === '' && r.kind === 'Namespace');
  const waypoints = sorted.filter(isWaypoint).map((g) => `${g.metadata.namespace}/${g.metadata.name}`);
  const bindings = new Map<string, Binding>();
  const snapshots: Snapshot[] = [];
  const compileDiagnostics: Diagnostic[] = [];
  for (const wp of waypoints) {
    const out = compile(sorted, { ...options, waypoint: wp });
    compileDiagnostics.push(...out.diagnostics);
    if (!out.snapshot) continue;
    snapshots.push(out.snapshot);
    for (const b of out.snapshot.bindings) {
      const k = `${b.resource.namespace}/${b.resource.name}`;
      if (b.servedHere || !bindings.has(k)) bindings.set(k, { ...b, servedHere: b.servedHere || (bindings.get(k)?.servedHere ?? false) });
    }
  }
  return {
    serviceEntries: of(all, 'networking.istio.io', 'ServiceEntry'),
    destinationRules: of(all, 'networking.istio.io', 'DestinationRule'),
    virtualServices: of(all, 'networking.istio.io', 'VirtualService'),
    httpRoutes: of(all, 'gateway.networking.k8s.io', 'HTTPRoute'),
    policies: of(all, 'security.istio.io', 'AuthorizationPolicy'),
    gateways: of(all, 'networking.istio.io', 'Gateway'),
    kubeGateways: of(all, 'gateway.networking.k8s.io', 'Gateway'),
    namespaces: new Set([...nsObjects.map((n) => n.metadata.name), ...all.map((r) => r.metadata.namespace).filter(Boolean)]),
    hasNamespaceObjects: nsObjects.length > 0,
    all,
    bindings, snapshots, compileDiagnostics,
    defaultVirtualServiceExportTo: options.defaultVirtualServiceExportTo ?? ['*'],
  };
}

function key(r: Resource): string {
  return `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}

/** True when some waypoint in the config serves the ServiceEntry. */
export function isBound(ctx: Context, ns: string, name: string): boolean {
  return ctx.bindings.get(`${ns}/${name}`)?.servedHere ?? false;
}

/** A finding at a field, with the catalogue's level unless one is given. */
export function finding(r: Resource, code: CodeName, path: Path, message: string, hint: string, level = CODES[code].level): Diagnostic {
  return diagnosticAt(r, { code: CODES[code].code, level, path, message, hint });
}

/** Istio host matching: exact (case-insensitive), or a `*.suffix` pattern covering the host. */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (p === h || p === '*') return true;
  if (p.startsWith('*.')) return h.endsWith(p.slice(1)) || (h.startsWith('*.') && h.endsWith(p.slice(1)));
  return false;
}

/** Kubernetes Service names (`x.ns.svc.cluster.local`, short names) live outside the files analyzed. */
export function isClusterLocal(host: string): boolean {
  return host.endsWith('.svc.cluster.local') || host.endsWith('.svc') || !host.includes('.');
}

export function entriesForHost(ctx: Context, host: string): Resource<ServiceEntrySpec>[] {
  return ctx.serviceEntries.filter((se) => (se.spec.hosts ?? []).some((h) => hostMatches(h, host) || hostMatches(host, h)));
}
