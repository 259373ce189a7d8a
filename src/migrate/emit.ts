// Intents -> ambient resources (plain objects, in apply order): the waypoint Gateway unless one is
// reused, then per intent a ServiceEntry bound to it, a DestinationRule only for TLS origination or
// carried pools, an AuthorizationPolicy only when callers were restricted, an HTTPRoute only for
// timeouts, retries and header edits.
import { parseDurationMs } from '../config/kinds/virtual-service-rules.ts';
import type { Finding, Intent, RoutePolicy } from './intent.ts';

export interface Waypoint {
  readonly namespace: string;
  readonly name: string;
  readonly existing: boolean;
}

type Doc = Record<string, unknown>;
const meta = (namespace: string, name: string, labels?: Record<string, string>) => ({ name, namespace, ...(labels ? { labels } : {}) });

export function emit(intents: readonly Intent[], wp: Waypoint, warnings: Finding[]): Doc[] {
  const docs: Doc[] = [];
  if (!wp.existing) docs.push(waypointGateway(wp, intents.some((i) => i.namespace !== wp.namespace)));
  for (const intent of intents) {
    if (intent.carryOnly) {
      docs.push({ apiVersion: 'networking.istio.io/v1', kind: intent.carryOnly.kind, metadata: meta(intent.namespace, intent.name), spec: JSON.parse(JSON.stringify(intent.carryOnly.spec)) });
      continue;
    }
    docs.push(serviceEntry(intent, wp));
    const dr = destinationRule(intent);
    if (dr) docs.push(dr);
    if (intent.sources) docs.push(authorizationPolicy(intent));
    if (intent.route) docs.push(httpRoute(intent, intent.route, warnings));
  }
  return docs;
}

function waypointGateway(wp: Waypoint, crossNamespace: boolean): Doc {
  const listener = { name: 'mesh', port: 15008, protocol: 'HBONE', ...(crossNamespace ? { allowedRoutes: { namespaces: { from: 'All' } } } : {}) };
  return { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: meta(wp.namespace, wp.name, { 'istio.io/waypoint-for': 'service' }), spec: { gatewayClassName: 'istio-waypoint', listeners: [listener] } };
}

function serviceEntry(i: Intent, wp: Waypoint): Doc {
  const labels: Record<string, string> = { 'istio.io/use-waypoint': wp.name };
  if (i.namespace !== wp.namespace) labels['istio.io/use-waypoint-namespace'] = wp.namespace;
  const ports = i.ports.map((p) => ({ number: p.number, name: p.name, protocol: p.protocol, ...(p.originateTlsTo && p.originateTlsTo !== p.number ? { targetPort: p.originateTlsTo } : {}) }));
  return {
    apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: meta(i.namespace, i.name, labels),
    spec: { hosts: i.hosts, ...(i.addresses ? { addresses: i.addresses } : {}), ports, location: 'MESH_EXTERNAL', resolution: i.resolution, ...(i.endpoints ? { endpoints: i.endpoints } : {}) },
  };
}

function destinationRule(i: Intent): Doc | undefined {
  const tls = i.ports.filter((p) => p.originateTlsTo).map((p) => ({ port: { number: p.number }, tls: JSON.parse(JSON.stringify(p.tls ?? { mode: 'SIMPLE' })) }));
  if (tls.length === 0 && !i.trafficPolicy) return undefined;
  const trafficPolicy = { ...(i.trafficPolicy ?? {}), ...(tls.length ? { portLevelSettings: tls } : {}) };
  return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: meta(i.namespace, i.name), spec: { host: i.hosts[0], trafficPolicy } };
}

function authorizationPolicy(i: Intent): Doc {
  const s = i.sources!;
  const from = [...(s.namespaces.length ? [{ source: { namespaces: s.namespaces } }] : []), ...(s.principals.length ? [{ source: { principals: s.principals } }] : [])];
  // No source left (every selector unmapped): an ALLOW policy with no rules denies every caller.
  return {
    apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: meta(i.namespace, i.name),
    spec: { targetRefs: [{ kind: 'ServiceEntry', group: 'networking.istio.io', name: i.name }], action: 'ALLOW', ...(from.length ? { rules: [{ from }] } : {}) },
  };
}

/** Go duration -> Gateway API duration (integers of h, m, s, ms). */
function gatewayDuration(v: string | undefined): string | undefined {
  const ms = v === undefined ? undefined : parseDurationMs(v);
  if (ms === undefined) return undefined;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.round(ms)}ms`;
}

const RETRY_DEFAULTS = new Set(['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes']);
const RETRY_CODES: Record<string, number[]> = { '5xx': [500, 502, 503, 504], 'gateway-error': [502, 503, 504], 'retriable-4xx': [409] };

function httpRoute(i: Intent, r: RoutePolicy, warnings: Finding[]): Doc {
  const port = i.ports.find((p) => p.protocol.toUpperCase() === 'HTTP') ?? i.ports[0]!;
  const rule: Record<string, unknown> = {};
  const timeouts: Record<string, string> = {};
  const request = gatewayDuration(r.timeout);
  if (request) timeouts.request = request;
  if (r.retries) {
    const codes = new Set<number>();
    for (const item of (r.retries.retryOn ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
      if (/^\d{3}$/.test(item)) codes.add(Number(item));
      else if (RETRY_CODES[item]) { RETRY_CODES[item]!.forEach((c) => codes.add(c)); warnings.push({ what: `HTTPRoute ${i.namespace}/${i.name}`, why: `retryOn ${item} is approximated by retry.codes ${RETRY_CODES[item]!.join(', ')}` }); }
      else if (!RETRY_DEFAULTS.has(item)) warnings.push({ what: `HTTPRoute ${i.namespace}/${i.name}`, why: `retryOn ${item} has no HTTPRoute equivalent and is dropped` });
    }
    rule.retry = { attempts: r.retries.attempts ?? 2, ...(codes.size ? { codes: [...codes].sort() } : {}) };
    const perTry = gatewayDuration(r.retries.perTryTimeout);
    if (perTry) timeouts.backendRequest = perTry;
  }
  if (Object.keys(timeouts).length) rule.timeouts = timeouts;
  const h = r.requestHeaders;
  if (h) {
    const list = (m?: Readonly<Record<string, string>>) => (m ? Object.entries(m).map(([name, value]) => ({ name, value })) : undefined);
    const mod = JSON.parse(JSON.stringify({ set: list(h.set), add: list(h.add), remove: h.remove }));
    rule.filters = [{ type: 'RequestHeaderModifier', requestHeaderModifier: mod }];
  }
  rule.backendRefs = [{ kind: 'Hostname', group: 'networking.istio.io', name: i.hosts[0], port: port.number }];
  return {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: meta(i.namespace, i.name),
    spec: { parentRefs: [{ kind: 'ServiceEntry', group: 'networking.istio.io', name: i.name }], rules: [rule] },
  };
}
