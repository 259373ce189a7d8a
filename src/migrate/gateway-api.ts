// The Gateway API form of Istio's "Egress Gateways" task: a Gateway of class `istio` deployed as the
// egress gateway, an HTTPRoute parented to the ServiceEntry that sends mesh traffic to the gateway's
// Service, and an HTTPRoute on the gateway that forwards to the external host (where timeouts,
// retries and header edits live). The waypoint replaces both hops: the gateway route's policy moves to
// one HTTPRoute parented to the ServiceEntry; the two hops and the gateway are dropped.
import type { HTTPRouteRule, HTTPRouteSpec } from '../config/kinds/http-route.ts';
import type { GatewaySpec } from '../config/kinds/gateway.ts';
import type { Resource } from '../config/resource.ts';
import { hostMatches } from '../analyze/context.ts';
import { ref } from './intent.ts';
import type { Finding, RoutePolicy } from './intent.ts';

type Route = Resource<HTTPRouteSpec>;
type Gw = Resource<GatewaySpec>;

export interface GatewayApiEgress {
  /** Gateways of class `istio` (egress gateways; waypoints have class istio-waypoint). */
  readonly gateways: readonly Gw[];
  /** The gateway-side route policy per ServiceEntry host. */
  route(hosts: readonly string[]): RoutePolicy | undefined;
  readonly dropped: readonly Finding[];
  readonly warnings: readonly Finding[];
}

export function readGatewayApiEgress(resources: readonly Resource[]): GatewayApiEgress {
  const gateways = resources.filter((r) => r.group === 'gateway.networking.k8s.io' && r.kind === 'Gateway' && (r.spec as GatewaySpec).gatewayClassName === 'istio') as Gw[];
  const routes = resources.filter((r) => r.group === 'gateway.networking.k8s.io' && r.kind === 'HTTPRoute') as Route[];
  const onGateway = (r: Route) => (r.spec.parentRefs ?? []).some((p) => (p.kind ?? 'Gateway') === 'Gateway' && gateways.some((g) => g.metadata.name === p.name && g.metadata.namespace === (p.namespace ?? r.metadata.namespace)));
  const toGateway = (r: Route) => (r.spec.rules ?? []).some((rule) => (rule?.backendRefs ?? []).some((b) => !!b && (b.kind ?? 'Service') === 'Service' && gateways.some((g) => b.name === `${g.metadata.name}-istio`)));
  const dropped: Finding[] = [];
  const warnings: Finding[] = [];
  for (const g of gateways) dropped.push({ what: ref(g), why: 'the waypoint replaces this egress gateway (gatewayClassName istio): its listeners\' hosts are now the ServiceEntries bound to the waypoint' });
  for (const r of routes) {
    if (toGateway(r)) dropped.push({ what: ref(r), why: 'mesh -> egress gateway routing is implicit in ambient: the ServiceEntry label istio.io/use-waypoint sends its traffic through the waypoint' });
    else if (onGateway(r)) dropped.push({ what: ref(r), why: 'its timeouts, retries and request header edits move to an HTTPRoute parented to the ServiceEntry' });
  }
  const gatewayRoutes = routes.filter(onGateway);
  return {
    gateways, dropped, warnings,
    route(hosts) {
      for (const r of gatewayRoutes) {
        if (r.spec.hostnames?.length && !r.spec.hostnames.some((h) => hosts.some((x) => hostMatches(h, x) || hostMatches(x, h)))) continue;
        const rule = (r.spec.rules ?? []).find((x) => !!x);
        if (!rule) continue;
        if ((r.spec.rules ?? []).length > 1 || rule.matches?.length || rule.filters?.some((f) => f?.type !== 'RequestHeaderModifier')) {
          warnings.push({ what: ref(r), why: 'only the first rule\'s timeouts, retries and RequestHeaderModifier are carried over; matches and other filters must be added to the new HTTPRoute by hand' });
        }
        return policyOf(rule);
      }
      return undefined;
    },
  };
}

function policyOf(rule: HTTPRouteRule): RoutePolicy | undefined {
  const t = rule.timeouts;
  const retry = rule.retry;
  const mod = rule.filters?.find((f) => f?.type === 'RequestHeaderModifier')?.requestHeaderModifier;
  const pairs = (l?: readonly { name: string; value: string }[]) => (l?.length ? Object.fromEntries(l.map((h) => [h.name, h.value])) : undefined);
  const headers = mod ? JSON.parse(JSON.stringify({ set: pairs(mod.set), add: pairs(mod.add), remove: mod.remove })) : undefined;
  const policy: RoutePolicy = {
    ...(t?.request ? { timeout: t.request } : {}),
    ...(retry ? { retries: { attempts: retry.attempts, ...(retry.codes?.length ? { retryOn: retry.codes.join(',') } : {}), ...(t?.backendRequest ? { perTryTimeout: t.backendRequest } : {}) } } : {}),
    ...(headers ? { requestHeaders: headers } : {}),
  };
  return Object.keys(policy).length ? policy : undefined;
}
