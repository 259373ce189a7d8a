// compile(resources, options) -> { snapshot, diagnostics }. PURE: no I/O, no clock, no env.
// Inputs are sorted so equal inputs give byte-equal snapshots (and golden files stay stable).
import { createHash } from 'node:crypto';
import type { Resource } from '../config/resource.ts';
import type { GatewaySpec } from '../config/kinds/gateway.ts';
import type { ServiceEntrySpec } from '../config/kinds/service-entry.ts';
import type { VirtualServiceSpec } from '../config/kinds/virtual-service.ts';
import { hasErrors, type Diagnostic } from '../model/diagnostic.ts';
import type { PathNormalization } from '../model/policy.ts';
import type { Binding, OutboundTrafficPolicy, Snapshot } from '../model/snapshot.ts';
import { resolveWaypoint, type BindingContext, type Visibility } from './binding.ts';
import { matchSelector, type LabelSelector } from './label-selector.ts';
import type { ExtensionProviderConfig } from './authn.ts';
import { compileDestinationRules } from './destination-rules.ts';
import { compileAuthz } from './policies.ts';
import { compileServices } from './services.ts';
import { compileRoutes, defaultRule } from './routes.ts';
import { convertRetry } from './routes-common.ts';
import type { HTTPRetry } from '../config/kinds/virtual-service.ts';
import { compileTcpRoutes, withTcpStatus } from './tcp-routes.ts';
import { compileWaypoints, isWaypoint, selectWaypoint } from './waypoints.ts';
import { CompileMemo, digestOf } from './memo.ts';
import { sortInput } from './sorted-input.ts';

// A caller that compiles again and again (a config source) keeps one CompileMemo and passes it to
// every compile; the result is the same as without it, only faster when most resources are the
// same objects as last time (memo.ts says what is reused under which key).
export { CompileMemo };

export interface ServiceEntryVisibility {
  readonly defaultVisibility?: Visibility;
  readonly policies?: readonly {
    readonly visibility: Visibility;
    readonly matchingRules?: readonly { readonly namespaceSelector?: LabelSelector }[];
  }[];
}

export interface CompileOptions {
  /** `namespace/name` of the waypoint this process serves; else the only one in the config. */
  readonly waypoint?: string;
  readonly outboundTrafficPolicy?: OutboundTrafficPolicy;
  readonly serviceEntryVisibility?: ServiceEntryVisibility;
  /** Istio's root namespace, where GatewayClass-targeted AuthorizationPolicies live. Default istio-system. */
  readonly rootNamespace?: string;
  /** meshConfig extensionProviders (envoyExtAuthzHttp providers for CUSTOM AuthorizationPolicies). */
  readonly extensionProviders?: readonly ExtensionProviderConfig[];
  /** meshConfig gatewayTopology.numTrustedProxies: X-Forwarded-For hops trusted for remoteIpBlocks. */
  readonly numTrustedProxies?: number;
  /** meshConfig pathNormalization.normalization (BASE when absent). */
  readonly pathNormalization?: PathNormalization;
  /** meshConfig defaultHttpRetryPolicy: the retries of a route that sets none (and of the default route). */
  readonly defaultHttpRetryPolicy?: HTTPRetry;
  /** meshConfig defaultVirtualServiceExportTo: the exportTo of a VirtualService without one. Default ["*"]. */
  readonly defaultVirtualServiceExportTo?: readonly string[];
  /** meshConfig defaultDestinationRuleExportTo: the exportTo of a DestinationRule without one. Default ["*"]. */
  readonly defaultDestinationRuleExportTo?: readonly string[];
}

export interface CompileResult {
  /** Absent when any diagnostic is an error: a bad config never becomes a snapshot. */
  readonly snapshot?: Snapshot;
  readonly diagnostics: readonly Diagnostic[];
}

export function compile(input: readonly Resource[], options: CompileOptions = {}, memo: CompileMemo = new CompileMemo()): CompileResult {
  // Sorted once; a memo's next compile merges the changed resources into the last order (sorted-input.ts).
  const sortedInput = (memo.input = sortInput(memo.input, input, sortKey));
  if (sortedInput.merged) memo.counts.merged++;
  const resources = sortedInput.sorted;
  const byKind = sortedInput.byKind;
  const kind = (name: string) => byKind.get(name) ?? EMPTY;
  const kinds = (...names: string[]) => names.map(kind);
  // Stages read only their kinds: a pass over every resource costs ms at 10,000 (issue 16).
  const ofKinds = (...names: string[]) => kinds(...names).flat();
  memo.begin(globalKey(kinds('Gateway', 'GatewayClass', 'Namespace'), options));
  const diagnostics: Diagnostic[] = [];
  const gateways = kind('Gateway').filter(isWaypoint);
  const selected = selectWaypoint(gateways, options.waypoint);
  if (selected.diagnostic) return { diagnostics: [selected.diagnostic] };
  const self = selected.key!;
  const ctx = bindingContext(ofKinds('Namespace', 'GatewayClass'), gateways, self, options);
  // Each stage is reused whole when the resources it reads (by kind) and the stages it reads are the
  // same objects as last time (memo.ts): a changed AuthorizationPolicy recompiles policies only.
  const entries = kind('ServiceEntry').filter(isServiceEntry);
  const { bindingList, compiled } = memo.stage('services', kinds('ServiceEntry'), () => {
    const bindings = new Map<string, Binding>();
    for (const se of entries) {
      const { namespace, name, labels } = se.metadata;
      let binding = memo.bindings.get(se);
      if (!binding) memo.bindings.set(se, (binding = resolveWaypoint({ kind: 'ServiceEntry', namespace, name, labels }, 'service', ctx)));
      bindings.set(`${namespace}/${name}`, binding);
    }
    return { bindings, bindingList: [...bindings.values()], compiled: compileServices(entries, bindings, memo) };
  });
  diagnostics.push(...compiled.diagnostics);
  if (hasErrors(diagnostics)) return { diagnostics };
  const wp = ctx.waypoints.get(self)!;
  const drs = memo.stage('destinationRules', [...kinds('DestinationRule'), [compiled]], () =>
    compileDestinationRules(kind('DestinationRule'), compiled.clusters, compiled.hosts, { waypointNamespace: wp.namespace, rootNamespace: options.rootNamespace ?? 'istio-system', defaultExportTo: options.defaultDestinationRuleExportTo ?? ['*'] }));
  diagnostics.push(...drs.diagnostics);
  const authz = memo.stage('authz', [...kinds('AuthorizationPolicy', 'RequestAuthentication'), [compiled]], () => {
    const known = { gateways: kind('Gateway').filter((r) => r.group === 'gateway.networking.k8s.io').map((g) => `${g.metadata.namespace}/${g.metadata.name}`), serviceEntries: entries.map((e) => `${e.metadata.namespace}/${e.metadata.name}`) };
    return compileAuthz(ofKinds('AuthorizationPolicy', 'RequestAuthentication'), {
      waypoint: wp, services: compiled.services, rootNamespace: options.rootNamespace, known,
      extensionProviders: options.extensionProviders, numTrustedProxies: options.numTrustedProxies, pathNormalization: options.pathNormalization,
    }, memo);
  });
  diagnostics.push(...authz.diagnostics);
  // Routes resolve against the DestinationRule-applied clusters, so subsets exist to route to.
  const routes = memo.stage('routes', [...kinds('VirtualService', 'HTTPRoute', 'ReferenceGrant', 'ServiceEntry'), [drs]], () =>
    compileRoutes(ofKinds('VirtualService', 'HTTPRoute', 'ReferenceGrant', 'ServiceEntry', 'Gateway', 'Namespace'), { hosts: drs.hosts, clusters: drs.clusters, waypoint: wp }, memo, options.defaultVirtualServiceExportTo ?? ['*'], convertRetry(options.defaultHttpRetryPolicy)));
  diagnostics.push(...routes.diagnostics);
  // TCP chains: VirtualService tls/tcp rules, from the same selection (tcp-routes.ts); small, so whole.
  const tcp = memo.stage('tcpRoutes', [...kinds('VirtualService', 'ServiceEntry'), [drs]], () =>
    compileTcpRoutes(kind('VirtualService').filter(isVirtualService), drs.hosts, drs.clusters, wp.namespace, options.defaultVirtualServiceExportTo ?? ['*']));
  const routeStatus = memo.stage('routeStatus', [[routes], [tcp]], () => withTcpStatus(routes.routeStatus, tcp));
  // Compile-time errors (a regex RE2 refuses, for one) keep the last good snapshot too.
  if (hasErrors(diagnostics)) return { diagnostics };
  const snapshot: Snapshot = {
    version: versionOf(resources, options),
    waypoint: { namespace: wp.namespace, name: wp.name, trafficType: wp.trafficType },
    outboundTrafficPolicy: options.outboundTrafficPolicy ?? 'REGISTRY_ONLY',
    services: compiled.services,
    clusters: drs.clusters,
    hosts: drs.hosts,
    bindings: bindingList,
    unserved: compiled.unserved,
    authz: authz.authz,
    routes: routes.routes,
    tcpRoutes: tcp.tcpRoutes,
    defaultRoute: defaultRule(convertRetry(options.defaultHttpRetryPolicy)),
    routeStatus,
  };
  return { snapshot, diagnostics };
}

function isVirtualService(r: Resource): r is Resource<VirtualServiceSpec> {
  return r.group === 'networking.istio.io';
}

function isServiceEntry(r: Resource): r is Resource<ServiceEntrySpec> {
  return r.kind === 'ServiceEntry' && r.group === 'networking.istio.io';
}

function bindingContext(
  resources: readonly Resource[], gateways: readonly Resource<GatewaySpec>[], self: string, options: CompileOptions,
): BindingContext {
  const nsLabels = new Map<string, Readonly<Record<string, string>>>();
  for (const r of resources) if (r.kind === 'Namespace' && r.group === '') nsLabels.set(r.metadata.name, r.metadata.labels);
  // Each Gateway's own class (istio-waypoint, or a third-party waypoint's such as egressway).
  const classes = new Map(resources.filter((r) => r.kind === 'GatewayClass' && r.group === 'gateway.networking.k8s.io').map((r) => [r.metadata.name, r.metadata.labels]));
  const classLabels = (name: string) => classes.get(name) ?? {};
  // Kubernetes sets kubernetes.io/metadata.name on every namespace; selectors rely on it.
  const namespaceLabels = (ns: string) => ({ ...(nsLabels.get(ns) ?? {}), 'kubernetes.io/metadata.name': ns });
  const vis = options.serviceEntryVisibility;
  return {
    self,
    waypoints: compileWaypoints(gateways, classLabels, self),
    namespaceLabels,
    visibility: (ns) => {
      const labels = namespaceLabels(ns);
      // First matching policy wins, evaluated against the ServiceEntry's namespace labels.
      for (const p of vis?.policies ?? []) {
        if ((p.matchingRules ?? []).some((m) => matchSelector(m.namespaceSelector, labels))) return p.visibility;
      }
      return vis?.defaultVisibility ?? 'PUBLIC';
    },
  };
}

const EMPTY: readonly Resource[] = [];

// istiod orders conflicting configs by creation time, then namespace/name. The key is creation time,
// then kind/namespace/name, in one string ("\0" sorts before any character, so a shorter timestamp
// still sorts first); resources are immutable, so it is built once per resource (the comparator
// built four strings per comparison: 10% of a 10,000-resource compile).
const SORT_KEYS = new WeakMap<Resource, string>();

function sortKey(r: Resource): string {
  let k = SORT_KEYS.get(r);
  if (k === undefined) SORT_KEYS.set(r, (k = `${r.metadata.creationTimestamp ?? ''}\0${keyOf(r)}`));
  return k;
}

function keyOf(r: Resource): string {
  return `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}

// The inputs every binding (and so everything after it) depends on: options, Gateways,
// GatewayClasses and Namespaces, each kind in sorted order.
function globalKey(lists: readonly (readonly Resource[])[], options: CompileOptions): string {
  const parts = [JSON.stringify(options)];
  for (const list of lists) for (const r of list) parts.push(digestOf(r));
  return parts.join('\n');
}

// The digests in one update: the same hash as one update per resource, at a fraction of the calls.
function versionOf(resources: readonly Resource[], options: CompileOptions): string {
  const digests = new Array<string>(resources.length);
  for (let i = 0; i < resources.length; i++) digests[i] = digestOf(resources[i]!);
  return createHash('sha256').update(JSON.stringify(options)).update(digests.join('')).digest('hex').slice(0, 16);
}
