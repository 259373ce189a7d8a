// Reads the Istio sidecar-era egress patterns (the "egress gateway" and "egress TLS origination"
// tasks): ServiceEntry + networking Gateway selecting the egress gateway + VirtualService mesh ->
// gateway -> external + DestinationRules (subsets, ISTIO_MUTUAL to the gateway, TLS origination) +
// AuthorizationPolicies selecting the egress gateway.
import type { AuthorizationPolicySpec } from '../config/kinds/authorization-policy.ts';
import type { ClientTLSSettings, DestinationRuleSpec, TrafficPolicy } from '../config/kinds/destination-rule.ts';
import type { NetworkingGatewaySpec } from '../config/kinds/networking-gateway.ts';
import type { ServiceEntrySpec } from '../config/kinds/service-entry.ts';
import type { HTTPRoute, VirtualServiceSpec } from '../config/kinds/virtual-service.ts';
import type { Resource } from '../config/resource.ts';
import { hostMatches, isClusterLocal } from '../analyze/context.ts';
import { readGatewayApiEgress } from './gateway-api.ts';
import type { GatewayApiEgress } from './gateway-api.ts';
import { ref } from './intent.ts';
import type { Extraction, Finding, Intent, IntentPort, RoutePolicy, Sources } from './intent.ts';

const of = <S>(rs: readonly Resource[], group: string, kind: string) => rs.filter((r) => r.group === group && r.kind === kind) as Resource<S>[];
const isGatewayHost = (h: string) => h.includes('egressgateway') && h.includes('.svc');

export function extractSidecar(resources: readonly Resource[], accounts: ReadonlyMap<string, string>): Extraction {
  void accounts;
  const dropped: Finding[] = [];
  const warnings: Finding[] = [];
  const gateways = of<NetworkingGatewaySpec>(resources, 'networking.istio.io', 'Gateway');
  const vss = of<VirtualServiceSpec>(resources, 'networking.istio.io', 'VirtualService');
  const drs = of<DestinationRuleSpec>(resources, 'networking.istio.io', 'DestinationRule');
  const aps = of<AuthorizationPolicySpec>(resources, 'security.istio.io', 'AuthorizationPolicy');
  const egressLabels = gateways.map((g) => g.spec.selector ?? {});
  for (const g of gateways) dropped.push({ what: ref(g), why: `the waypoint replaces the egress gateway deployment (selector ${JSON.stringify(g.spec.selector ?? {})}); its servers' hosts are now the ServiceEntries bound to the waypoint` });
  const gatewayAps = aps.filter((ap) => ap.spec.selector && egressLabels.some((l) => Object.entries(ap.spec.selector!.matchLabels ?? {}).every(([k, v]) => l[k] === v)));
  const api = readGatewayApiEgress(resources);
  dropped.push(...api.dropped);
  const intents = of<ServiceEntrySpec>(resources, 'networking.istio.io', 'ServiceEntry').map((se) => {
    const hosts = se.spec.hosts ?? [];
    const mine = vss.filter((vs) => (vs.spec.hosts ?? []).some((h) => hosts.some((x) => hostMatches(h, x))));
    const hostDrs = drs.filter((dr) => hosts.some((h) => hostMatches(dr.spec.host, h)));
    const intent: Intent = {
      namespace: se.metadata.namespace, name: se.metadata.name, hosts,
      ports: ports(se, mine, hostDrs), resolution: se.spec.resolution ?? 'NONE',
      ...(se.spec.endpoints?.length ? { endpoints: se.spec.endpoints } : {}),
      ...(se.spec.addresses?.length ? { addresses: se.spec.addresses } : {}),
      ...sourcesOf(gatewayAps, hosts, warnings),
      ...routeFor(mine, hosts, api, warnings),
      ...fixedHost(se, vss, warnings),
      ...poolsOf(hostDrs, warnings),
      from: ref(se),
    };
    return intent;
  });
  warnings.push(...api.warnings);
  for (const i of intents) for (const p of i.ports) tlsMaterialWarnings(i, p, warnings);
  intents.push(...orphanRules(resources, drs, warnings));
  for (const vs of vss) dropped.push({ what: ref(vs), why: 'mesh -> egress gateway -> external routing is implicit in ambient: the ServiceEntry label istio.io/use-waypoint sends its traffic through the waypoint' });
  for (const dr of drs) if (!orphan(resources, dr)) dropped.push({ what: ref(dr), why: drWhy(dr) });
  for (const ap of gatewayAps) dropped.push({ what: ref(ap), why: 'its sources are carried over as an AuthorizationPolicy with targetRefs to each ServiceEntry (selector policies do not apply at a waypoint)' });
  return { intents, dropped, warnings };
}

function drWhy(dr: Resource<DestinationRuleSpec>): string {
  if (isGatewayHost(dr.spec.host)) return 'traffic to the egress gateway (subsets, ISTIO_MUTUAL) is replaced by HBONE: ztunnel gives client -> waypoint mTLS automatically';
  return 'rewritten for the waypoint: TLS origination moves to the ServiceEntry port (targetPort) and a DestinationRule keyed by the service port';
}

/** The DestinationRule TLS that applies to service port `port` (port-level settings win), if it originates. */
function originates(tp: TrafficPolicy | undefined, port: number): ClientTLSSettings | undefined {
  const tls = tp?.portLevelSettings?.find((p) => p?.port?.number === port)?.tls ?? tp?.tls;
  return tls?.mode === 'SIMPLE' || tls?.mode === 'MUTUAL' ? tls : undefined;
}

const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC']);

/**
 * The app-facing ports. An HTTP port gets TLS origination when the old mesh upgraded its traffic:
 * a VirtualService (mesh or gateway-bound) sends it on to another port of the same host that a
 * DestinationRule upgrades (the egress-gateway task), or a DestinationRule upgrades the port itself,
 * with the ServiceEntry's targetPort as the port dialled (the sidecar task). The TLS settings are
 * carried whole: mode, SNI, SANs, CA and client certificate.
 */
function ports(se: Resource<ServiceEntrySpec>, vss: readonly Resource<VirtualServiceSpec>[], drs: readonly Resource<DestinationRuleSpec>[]): IntentPort[] {
  const declared = (se.spec.ports ?? []).filter((p): p is NonNullable<typeof p> => !!p);
  const httpPorts = declared.filter((p) => HTTP_PROTOCOLS.has((p.protocol ?? '').toUpperCase()));
  const onward = new Map<number, number>();
  for (const vs of vss) {
    const appPort = (vs.spec.http ?? []).flatMap((r) => r?.match ?? []).find((m) => !!m && m.port !== undefined && (m.gateways ?? vs.spec.gateways ?? ['mesh']).includes('mesh'))?.port
      ?? httpPorts[0]?.number;
    for (const rule of vs.spec.http ?? []) {
      for (const d of rule?.route ?? []) {
        const to = d?.destination.port?.number;
        if (appPort === undefined || to === undefined || isGatewayHost(d.destination.host) || to === appPort) continue;
        if (!onward.has(appPort)) onward.set(appPort, to);
      }
    }
  }
  return declared.map((p) => {
    const base: IntentPort = { number: p.number, name: p.name, protocol: p.protocol ?? 'TCP' };
    if (!HTTP_PROTOCOLS.has(base.protocol.toUpperCase())) return base;
    const to = onward.get(p.number) ?? p.number;
    const tls = drs.map((dr) => originates(dr.spec.trafficPolicy, to)).find(Boolean);
    if (!tls) return base;
    const dialled = to === p.number ? p.targetPort ?? p.number : declared.find((x) => x.number === to)?.targetPort ?? to;
    return { ...base, originateTlsTo: dialled, tls };
  });
}

function sourcesOf(aps: readonly Resource<AuthorizationPolicySpec>[], hosts: readonly string[], warnings: Finding[]): { sources?: Sources } {
  if (aps.length === 0) return {};
  const namespaces = new Set<string>();
  const principals = new Set<string>();
  for (const ap of aps) {
    if ((ap.spec.action ?? 'ALLOW') !== 'ALLOW') {
      warnings.push({ what: ref(ap), why: `action ${ap.spec.action} is not carried over; write it as an AuthorizationPolicy with targetRefs to the ServiceEntry` });
      continue;
    }
    for (const rule of ap.spec.rules ?? []) {
      const scoped = (rule.to ?? []).flatMap((t) => t.operation?.hosts ?? []);
      if (scoped.length && !scoped.some((h) => hosts.some((x) => hostMatches(h, x)))) continue;
      if ((rule.to ?? []).some((t) => t.operation?.paths || t.operation?.methods) || rule.when?.length) {
        warnings.push({ what: ref(ap), why: 'only the sources (from) of its rules are carried over; paths, methods and when conditions must be added to the new AuthorizationPolicy by hand' });
      }
      for (const f of rule.from ?? []) {
        for (const n of f.source?.namespaces ?? []) namespaces.add(n);
        for (const p of f.source?.principals ?? []) principals.add(p);
      }
    }
  }
  return { sources: { namespaces: [...namespaces].sort(), principals: [...principals].sort() } };
}

function routeOf(vss: readonly Resource<VirtualServiceSpec>[], warnings: Finding[]): { route?: RoutePolicy } {
  let route: RoutePolicy | undefined;
  for (const vs of vss) {
    for (const [i, r] of (vs.spec.http ?? []).entries()) {
      lossy(vs, r, i, warnings);
      const headers = r.headers?.request;
      if (!route && (r.timeout || r.retries || headers)) {
        route = { ...(r.timeout ? { timeout: r.timeout } : {}), ...(r.retries ? { retries: r.retries } : {}), ...(headers ? { requestHeaders: headers } : {}) };
      }
    }
  }
  return route ? { route } : {};
}

function lossy(vs: Resource, r: HTTPRoute, i: number, warnings: Finding[]): void {
  const features = (['fault', 'mirror', 'mirrors', 'redirect', 'directResponse', 'rewrite', 'corsPolicy'] as const).filter((f) => r[f] !== undefined);
  if ((r.match ?? []).some((m) => m.sourceLabels)) features.push('match.sourceLabels' as never);
  if ((r.route ?? []).some((d) => d.destination.subset && !isGatewayHost(d.destination.host))) features.push('route subsets' as never);
  if (features.length) warnings.push({ what: `${ref(vs)} http[${i}]`, why: `${features.join(', ')} not carried over: write an HTTPRoute for it by hand (sourceLabels has no ambient equivalent)` });
}

function poolsOf(drs: readonly Resource<DestinationRuleSpec>[], warnings: Finding[]): { trafficPolicy?: Record<string, unknown> } {
  for (const dr of drs) {
    const { tls: _tls, portLevelSettings: _p, ...rest } = dr.spec.trafficPolicy ?? {};
    if (dr.spec.subsets?.some((s) => s.labels)) warnings.push({ what: ref(dr), why: 'subsets with labels are not carried over (the waypoint needs labelled ServiceEntry endpoints)' });
    if (Object.keys(rest).length) return { trafficPolicy: rest };
  }
  return {};
}

/** Certificates the old gateway had at hand must reach the waypoint: say where. */
function tlsMaterialWarnings(i: Intent, p: IntentPort, warnings: Finding[]): void {
  const t = p.tls;
  if (!t) return;
  const what = `ServiceEntry ${i.namespace}/${i.name} port ${p.number}`;
  if (t.credentialName) warnings.push({ what, why: `TLS origination reads Secret ${t.credentialName} from the waypoint's own namespace (it was the egress gateway's): copy the Secret there before applying` });
  const files = [t.clientCertificate, t.privateKey, t.caCertificates].filter(Boolean);
  if (files.length) warnings.push({ what, why: `TLS origination names files (${files.join(', ')}) that were mounted into the egress gateway: mount them into the waypoint pod at the same paths, or put them in a Secret and use credentialName` });
}

/**
 * A wildcard ServiceEntry whose gateway-side route sends every matching host to one fixed host (the
 * "wildcard hosts, single hosting server" task: *.wikipedia.org -> www.wikipedia.org). The waypoint
 * keeps that destination with DNS resolution to the fixed host as the entry's endpoint.
 */
function fixedHost(se: Resource<ServiceEntrySpec>, vss: readonly Resource<VirtualServiceSpec>[], warnings: Finding[]): Partial<Pick<Intent, 'resolution' | 'endpoints'>> {
  const wildcard = (se.spec.hosts ?? []).find((h) => h.startsWith('*.'));
  if (!wildcard) return {};
  for (const vs of vss) {
    if (!(vs.spec.hosts ?? []).some((h) => hostMatches(h, wildcard) || hostMatches(wildcard, h))) continue;
    const rules = [...(vs.spec.http ?? []), ...(vs.spec.tls ?? []), ...(vs.spec.tcp ?? [])] as { route?: { destination: { host: string } }[] }[];
    for (const rule of rules) {
      const host = rule?.route?.map((d) => d?.destination.host).find((h) => !!h && !h.startsWith('*') && !isGatewayHost(h) && hostMatches(wildcard, h));
      if (!host) continue;
      warnings.push({ what: ref(se), why: `every ${wildcard} request went to ${host} through the egress gateway (${ref(vs)}); the new entry keeps that with resolution DNS and endpoint ${host}` });
      return { resolution: 'DNS', endpoints: [{ address: host }] };
    }
  }
  return {};
}

/** A DestinationRule for an external host that no ServiceEntry declares (nor an egress gateway host). */
function orphan(resources: readonly Resource[], dr: Resource<DestinationRuleSpec>): boolean {
  if (!dr.spec.host || isGatewayHost(dr.spec.host) || isClusterLocal(dr.spec.host)) return false;
  return !of<ServiceEntrySpec>(resources, 'networking.istio.io', 'ServiceEntry').some((se) => (se.spec.hosts ?? []).some((h) => hostMatches(h, dr.spec.host)));
}

/**
 * DestinationRules whose host has no ServiceEntry had no effect on egress in sidecar mode (unknown
 * hosts took PassthroughCluster or were blocked). They are carried over unchanged so nothing is lost,
 * with a warning that the waypoint sees the host only once a ServiceEntry for it is bound.
 */
function orphanRules(resources: readonly Resource[], drs: readonly Resource<DestinationRuleSpec>[], warnings: Finding[]): Intent[] {
  const out: Intent[] = [];
  for (const dr of drs.filter((d) => orphan(resources, d))) {
    warnings.push({ what: ref(dr), why: `no ServiceEntry declares ${dr.spec.host}, so this rule had no effect on egress and has none at the waypoint until one does: it is copied unchanged; add a ServiceEntry for ${dr.spec.host} labelled istio.io/use-waypoint to route it through the waypoint` });
    out.push({ namespace: dr.metadata.namespace, name: dr.metadata.name, hosts: [dr.spec.host], ports: [], resolution: 'DNS', from: ref(dr), carryOnly: { kind: 'DestinationRule', spec: dr.spec } });
  }
  return out;
}

/** The route policy that must survive: the VirtualServices' first, else the Gateway API egress route's. */
function routeFor(vss: readonly Resource<VirtualServiceSpec>[], hosts: readonly string[], api: GatewayApiEgress, warnings: Finding[]): { route?: RoutePolicy } {
  const fromVs = routeOf(vss, warnings);
  if (fromVs.route) return fromVs;
  const route = api.route(hosts);
  return route ? { route } : {};
}
