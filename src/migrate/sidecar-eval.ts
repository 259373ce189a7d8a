// The OLD side of `migrate --verify`: what a sidecar-era mesh did with a request, read straight from
// the input resources with sidecar and egress-gateway semantics, never from migrate's own reading of
// them (that would agree with the output by construction). Covered: the client sidecar's mesh
// VirtualService, the hop through an egress gateway (Istio Gateway + gateway-bound VirtualService, or
// a Gateway API Gateway + HTTPRoute), the AuthorizationPolicies selecting that gateway, and the
// DestinationRule and ServiceEntry port of the final host (TLS origination, targetPort, fixed hosts).
import type { AsmEgressSource, AsmEgressTrafficPolicySpec } from '../config/kinds/asm-egress-policy.ts';
import type { AuthorizationPolicySpec, Rule } from '../config/kinds/authorization-policy.ts';
import type { ClientTLSSettings, DestinationRuleSpec } from '../config/kinds/destination-rule.ts';
import type { NetworkingGatewaySpec } from '../config/kinds/networking-gateway.ts';
import type { ServiceEntrySpec } from '../config/kinds/service-entry.ts';
import type { HTTPRoute as VsHttpRoute, VirtualServiceSpec } from '../config/kinds/virtual-service.ts';
import type { Resource } from '../config/resource.ts';
import { hostMatches } from '../analyze/context.ts';
import { parseDurationMs } from '../config/kinds/virtual-service-rules.ts';
import { certSource } from './outcome.ts';
import type { Outcome, Probe, Scheme } from './outcome.ts';

const TLS_PROTOCOLS = new Set(['HTTPS', 'TLS']);
const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC']);

export interface OldMesh {
  readonly resources: readonly Resource[];
  /** meshConfig outboundTrafficPolicy.mode; Istio's default is ALLOW_ANY. */
  readonly outbound: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** `label=value` -> `ns/sa`, the identities behind ASM workloadSelectors (--service-account-for). */
  readonly accounts?: ReadonlyMap<string, string>;
}

interface Hop {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs?: number;
}

type Gw = Resource<NetworkingGatewaySpec>;
type Vs = Resource<VirtualServiceSpec>;
type HttpRoute = Resource<{ parentRefs?: { group?: string; kind?: string; name: string; namespace?: string; port?: number }[]; hostnames?: string[]; rules?: { timeouts?: { request?: string }; backendRefs?: { group?: string; kind?: string; name: string; namespace?: string; port?: number; weight?: number }[] }[] }>;

const of = <S>(m: OldMesh, group: string, kind: string) => m.resources.filter((r) => r.group === group && r.kind === kind) as Resource<S>[];

/** Is this destination host an egress gateway's Service? (Istio's tasks use istio-egressgateway.) */
export function isEgressGatewayHost(host: string, m?: OldMesh): boolean {
  if (host.includes('egressgateway') && (host.endsWith('.svc') || host.includes('.svc.'))) return true;
  // Gateway API: the Deployment's Service is <gateway>-<class> in the Gateway's namespace (istio's naming).
  return !!m && apiGateways(m).some((g) => host === `${g.metadata.name}-istio.${g.metadata.namespace}.svc.cluster.local` || host === `${g.metadata.name}-istio`);
}

export function evaluateOld(m: OldMesh, p: Probe): Outcome {
  const asm = evaluateAsm(m, p);
  if (asm) return asm;
  const se = entryFor(m, p.host, p.port);
  if (!se) {
    return m.outbound === 'ALLOW_ANY'
      ? { allow: true, scheme: p.http ? 'http' : 'tcp', host: p.host, port: p.port }
      : { allow: false, why: 'no ServiceEntry, REGISTRY_ONLY' };
  }
  const first = meshHop(m, p);
  let hop: Hop = first;
  let timeouts = [first.timeoutMs];
  if (isEgressGatewayHost(first.host, m)) {
    const viaGateway = gatewayHop(m, p, first.port);
    if (!viaGateway) return { allow: false, why: `the egress gateway has no route for ${p.host}:${first.port}` };
    if (!gatewayAllows(m, viaGateway.selector, p, first.port)) return { allow: false, why: 'egress gateway AuthorizationPolicy' };
    hop = viaGateway.hop;
    timeouts = [...timeouts, hop.timeoutMs];
  }
  return upstream(m, p, hop, timeouts);
}

/** The final leg: the ServiceEntry port of the last hop's host and the DestinationRule's TLS for it. */
function upstream(m: OldMesh, p: Probe, hop: Hop, timeouts: readonly (number | undefined)[]): Outcome {
  const host = hop.host.startsWith('*') ? p.host : hop.host;
  const se = entryFor(m, host, hop.port);
  if (!se) {
    return m.outbound === 'ALLOW_ANY' ? { allow: true, scheme: p.http ? 'http' : 'tcp', host, port: hop.port } : { allow: false, why: `no ServiceEntry for ${host}:${hop.port}` };
  }
  const port = (se.spec.ports ?? []).find((x) => x?.number === hop.port)!;
  const protocol = (port.protocol ?? 'TCP').toUpperCase();
  // A DestinationRule that originates TLS on bytes the app already encrypted would wrap TLS in TLS in
  // sidecar mode; no Istio task relies on that and the waypoint never does it, so such bytes pass.
  const tls = !p.http && TLS_PROTOCOLS.has(protocol) ? undefined : tlsFor(m, host, hop.port);
  const scheme: Scheme = tls?.mode === 'SIMPLE' ? 'https' : tls?.mode === 'MUTUAL' ? 'mtls'
    : TLS_PROTOCOLS.has(protocol) ? 'tls' : HTTP_PROTOCOLS.has(protocol) ? 'http' : 'tcp';
  const endpoint = se.spec.endpoints?.find((e) => e?.address)?.address;
  const dialled = se.spec.resolution === 'NONE' || !endpoint ? host : endpoint;
  const known = timeouts.filter((t): t is number => t !== undefined);
  const originates = tls?.mode === 'SIMPLE' || tls?.mode === 'MUTUAL';
  return {
    allow: true, scheme, host: dialled, port: port.targetPort ?? hop.port,
    ...(p.http && known.length ? { timeoutMs: Math.min(...known) } : {}),
    ...(tls?.mode === 'MUTUAL' ? { clientCert: certSource(tls) } : {}),
    ...(originates && tls?.caCertificates ? { ca: tls.caCertificates } : {}),
  };
}

function entryFor(m: OldMesh, host: string, port: number): Resource<ServiceEntrySpec> | undefined {
  const matching = of<ServiceEntrySpec>(m, 'networking.istio.io', 'ServiceEntry')
    .filter((se) => (se.spec.hosts ?? []).some((h) => hostMatches(h, host)) && (se.spec.ports ?? []).some((x) => x?.number === port));
  // Most specific host first: an exact host beats a wildcard (Istio's host precedence).
  return matching.sort((a, b) => specificity(b, host) - specificity(a, host))[0];
}

function specificity(se: Resource<ServiceEntrySpec>, host: string): number {
  return Math.max(...(se.spec.hosts ?? []).filter((h) => hostMatches(h, host)).map((h) => (h.startsWith('*') ? h.length : 1000 + h.length)));
}

/** The DestinationRule for a host (exact beats wildcard), port-level TLS first. */
function tlsFor(m: OldMesh, host: string, port: number): ClientTLSSettings | undefined {
  const drs = of<DestinationRuleSpec>(m, 'networking.istio.io', 'DestinationRule')
    .filter((dr) => dr.spec.host && hostMatches(dr.spec.host, host))
    .sort((a, b) => (b.spec.host.startsWith('*') ? 0 : 1000 + b.spec.host.length) - (a.spec.host.startsWith('*') ? 0 : 1000 + a.spec.host.length));
  const tp = drs[0]?.spec.trafficPolicy;
  return tp?.portLevelSettings?.find((s) => s?.port?.number === port)?.tls ?? tp?.tls;
}

/** The client sidecar: the first mesh-bound VirtualService rule for the host and port. */
function meshHop(m: OldMesh, p: Probe): Hop {
  for (const vs of of<VirtualServiceSpec>(m, 'networking.istio.io', 'VirtualService')) {
    if (!(vs.spec.hosts ?? []).some((h) => hostMatches(h, p.host))) continue;
    const gateways = vs.spec.gateways ?? ['mesh'];
    if (!gateways.includes('mesh')) continue;
    const hop = vsHop(vs, p, p.port, (gs) => gs.includes('mesh'));
    if (hop) return hop;
  }
  for (const r of of<HttpRoute['spec']>(m, 'gateway.networking.k8s.io', 'HTTPRoute')) {
    const parented = (r.spec.parentRefs ?? []).some((ref) => ref.kind === 'ServiceEntry' && entryNamed(m, ref.namespace ?? r.metadata.namespace, ref.name, p.host));
    if (!parented || !p.http) continue;
    const hop = routeHop(r as HttpRoute, p.port);
    if (hop) return hop;
  }
  return { host: p.host, port: p.port };
}

function entryNamed(m: OldMesh, namespace: string, name: string, host: string): boolean {
  return of<ServiceEntrySpec>(m, 'networking.istio.io', 'ServiceEntry').some((se) => se.metadata.namespace === namespace && se.metadata.name === name && (se.spec.hosts ?? []).some((h) => hostMatches(h, host)));
}

/** First VirtualService rule (http, tls or tcp as the port speaks) that matches GET / on `port`. */
function vsHop(vs: Vs, p: Probe, port: number, onGateway: (gateways: readonly string[]) => boolean): Hop | undefined {
  const vsGateways = vs.spec.gateways ?? ['mesh'];
  const matches = (ms: readonly ({ gateways?: string[]; port?: number; uri?: unknown; sniHosts?: string[] } | null)[] | undefined) =>
    !ms?.length || ms.some((x) => !!x && onGateway(x.gateways ?? vsGateways) && (x.port === undefined || x.port === port)
      && (!x.sniHosts || x.sniHosts.some((h) => hostMatches(h, p.host))) && uriMatchesRoot(x.uri));
  const rules: readonly { match?: never; route?: { destination: { host: string; port?: { number?: number } }; weight?: number }[]; timeout?: string }[] =
    (p.http ? vs.spec.http ?? [] : [...(vs.spec.tls ?? []), ...(vs.spec.tcp ?? [])]) as never;
  for (const rule of rules) {
    if (!rule || !matches(rule.match)) continue;
    const dest = heaviest(rule.route ?? []);
    if (!dest) continue;
    const timeout = p.http && (rule as VsHttpRoute).timeout ? parseDurationMs((rule as VsHttpRoute).timeout!) : undefined;
    return { host: dest.destination.host, port: dest.destination.port?.number ?? port, ...(timeout !== undefined ? { timeoutMs: timeout } : {}) };
  }
  return undefined;
}

function uriMatchesRoot(uri: unknown): boolean {
  if (!uri || typeof uri !== 'object') return true;
  const u = uri as { exact?: string; prefix?: string; regex?: string };
  if (u.exact !== undefined) return u.exact === '/';
  if (u.prefix !== undefined) return '/'.startsWith(u.prefix);
  if (u.regex !== undefined) return new RegExp(`^(?:${u.regex})$`).test('/');
  return true;
}

function heaviest<T extends { weight?: number }>(route: readonly (T | null)[]): T | undefined {
  const live = route.filter((r): r is T => !!r);
  return live.length <= 1 ? live[0] : [...live].sort((a, b) => (b.weight ?? 0) - (a.weight ?? 0))[0];
}

function routeHop(r: HttpRoute, port: number): Hop | undefined {
  for (const rule of r.spec.rules ?? []) {
    const ref = heaviest(rule?.backendRefs ?? []);
    if (!ref) continue;
    const timeout = rule.timeouts?.request ? parseDurationMs(rule.timeouts.request) : undefined;
    const host = ref.kind === 'Hostname' ? ref.name : ref.name.includes('.') ? ref.name : `${ref.name}.${ref.namespace ?? r.metadata.namespace}.svc.cluster.local`;
    return { host, port: ref.port ?? port, ...(timeout !== undefined ? { timeoutMs: timeout } : {}) };
  }
  return undefined;
}

const apiGateways = (m: OldMesh) => of<{ gatewayClassName?: string; listeners?: { port: number; hostname?: string }[] }>(m, 'gateway.networking.k8s.io', 'Gateway')
  .filter((g) => g.spec.gatewayClassName === 'istio');

/** The egress gateway: which Gateway serves host:port there, its route onward, and its pod labels. */
function gatewayHop(m: OldMesh, p: Probe, port: number): { hop: Hop; selector: Readonly<Record<string, string>> } | undefined {
  for (const gw of of<NetworkingGatewaySpec>(m, 'networking.istio.io', 'Gateway')) {
    const serves = (gw.spec.servers ?? []).some((s) => s?.port?.number === port && (s.hosts ?? []).some((h) => hostMatches(h.includes('/') ? h.split('/')[1]! : h, p.host)));
    if (!serves) continue;
    for (const vs of of<VirtualServiceSpec>(m, 'networking.istio.io', 'VirtualService')) {
      if (!(vs.spec.hosts ?? []).some((h) => hostMatches(h, p.host))) continue;
      const names = (gs: readonly string[]) => gs.some((g) => refersTo(g, vs.metadata.namespace, gw));
      if (!names(vs.spec.gateways ?? ['mesh'])) continue;
      const hop = vsHop(vs, p, port, names);
      if (hop) return { hop, selector: gw.spec.selector ?? {} };
    }
  }
  for (const gw of apiGateways(m)) {
    if (!(gw.spec.listeners ?? []).some((l) => l.port === port && (!l.hostname || hostMatches(l.hostname, p.host)))) continue;
    for (const r of of<HttpRoute['spec']>(m, 'gateway.networking.k8s.io', 'HTTPRoute')) {
      const parented = (r.spec.parentRefs ?? []).some((ref) => (ref.kind ?? 'Gateway') === 'Gateway' && ref.name === gw.metadata.name && (ref.namespace ?? r.metadata.namespace) === gw.metadata.namespace);
      if (!parented || (r.spec.hostnames?.length && !r.spec.hostnames.some((h) => hostMatches(h, p.host)))) continue;
      const hop = routeHop(r as HttpRoute, port);
      if (hop) return { hop, selector: { 'gateway.networking.k8s.io/gateway-name': gw.metadata.name } };
    }
  }
  return undefined;
}

/** `name`, `ns/name`, or a legacy FQDN, as VirtualService `gateways` entries are read. */
function refersTo(ref: string, vsNamespace: string, gw: Gw): boolean {
  if (ref.includes('/')) return ref === `${gw.metadata.namespace}/${gw.metadata.name}`;
  if (ref.includes('.')) return ref.split('.')[0] === gw.metadata.name && ref.split('.')[1] === gw.metadata.namespace;
  return ref === gw.metadata.name && vsNamespace === gw.metadata.namespace;
}

/** AuthorizationPolicies selecting the gateway pods: CUSTOM ignored, DENY first, then ALLOW. */
function gatewayAllows(m: OldMesh, labels: Readonly<Record<string, string>>, p: Probe, port: number): boolean {
  const selects = (ap: Resource<AuthorizationPolicySpec>) => {
    const sel = ap.spec.selector?.matchLabels;
    return !!sel && Object.entries(sel).every(([k, v]) => labels[k] === v);
  };
  const aps = of<AuthorizationPolicySpec>(m, 'security.istio.io', 'AuthorizationPolicy').filter((ap) => ap.spec && selects(ap));
  const hit = (ap: Resource<AuthorizationPolicySpec>) => (ap.spec.rules ?? []).some((r) => !!r && ruleMatches(r, p, port));
  if (aps.some((ap) => ap.spec.action === 'DENY' && hit(ap))) return false;
  const allows = aps.filter((ap) => (ap.spec.action ?? 'ALLOW') === 'ALLOW');
  return allows.length === 0 || allows.some(hit);
}

function ruleMatches(r: Rule, p: Probe, port: number): boolean {
  const ns = p.caller.split('/')[2] ?? '';
  const any = (list: readonly string[] | undefined, v: string) => list === undefined || list.some((x) => glob(x, v));
  const none = (list: readonly string[] | undefined, v: string) => !list || !list.some((x) => glob(x, v));
  const fromOk = !r.from?.length || r.from.some((f) => !!f?.source && any(f.source.principals, p.caller) && any(f.source.namespaces, ns)
    && none(f.source.notPrincipals, p.caller) && none(f.source.notNamespaces, ns));
  const toOk = !r.to?.length || r.to.some((t) => !!t?.operation && any(t.operation.hosts, p.host) && any(t.operation.ports, String(port))
    && any(t.operation.methods, 'GET') && any(t.operation.paths, '/') && none(t.operation.notHosts, p.host));
  return fromOk && toOk && !r.when?.length;
}

/** Istio's string match: exact, `prefix*`, `*suffix`, or `*`. */
function glob(pattern: string, v: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return v.toLowerCase().startsWith(pattern.slice(0, -1).toLowerCase());
  if (pattern.startsWith('*')) return v.toLowerCase().endsWith(pattern.slice(1).toLowerCase());
  return pattern.toLowerCase() === v.toLowerCase();
}

/**
 * ASM's ASMEgressTrafficPolicy: a destination (hosts + port) is reachable through the egress gateway
 * only from the sources its rule lists; httpsUpgrade makes the gateway dial TLS on the upgrade port.
 * Undefined when no policy names host:port.
 */
function evaluateAsm(m: OldMesh, p: Probe): Outcome | undefined {
  let named = false;
  for (const pol of of<AsmEgressTrafficPolicySpec>(m, 'istio.alibabacloud.com', 'ASMEgressTrafficPolicy')) {
    for (const rule of pol.spec.egressRules ?? []) {
      for (const to of rule.to ?? []) {
        if (to.port.number !== p.port || !to.hosts.some((h) => hostMatches(h, p.host))) continue;
        named = true;
        if (!(rule.from ?? []).some((f) => asmSourceIs(f, p.caller, m.accounts))) continue;
        const protocol = to.port.protocol.toUpperCase();
        if (to.httpsUpgrade?.enabled) return { allow: true, scheme: 'https', host: p.host, port: to.httpsUpgrade.port ?? 443 };
        return { allow: true, scheme: TLS_PROTOCOLS.has(protocol) ? 'tls' : HTTP_PROTOCOLS.has(protocol) ? 'http' : 'tcp', host: p.host, port: p.port };
      }
    }
  }
  return named ? { allow: false, why: 'ASMEgressTrafficPolicy does not list this source' } : undefined;
}

function asmSourceIs(f: AsmEgressSource, caller: string, accounts: ReadonlyMap<string, string> | undefined): boolean {
  const labels = Object.entries(f.workloadSelector ?? {});
  if (labels.length === 0) return !!f.namespace && caller.split('/')[2] === f.namespace;
  return labels.some(([k, v]) => {
    const sa = accounts?.get(`${k}=${v}`);
    return !!sa && caller === `cluster.local/ns/${sa.split('/')[0]}/sa/${sa.split('/')[1]}`;
  });
}
