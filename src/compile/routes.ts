// VirtualService and HTTPRoute -> one RouteTable per HTTP cluster this waypoint serves.
// Selection follows Istio at waypoints (reference §2.4, §2.5): a VirtualService applies when one of
// its hosts is the service host and it lives in the service's or the waypoint's namespace; an
// HTTPRoute applies through parentRefs to the ServiceEntry or to the waypoint Gateway. Without
// either, the route is the waypoint default: mesh default retries, no timeout.
import type { Resource } from '../config/resource.ts';
import type { VirtualServiceSpec } from '../config/kinds/virtual-service.ts';
import type { HTTPRouteSpec } from '../config/kinds/http-route.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import { CODES } from '../model/codes.ts';
import type { RouteRule, RouteTable } from '../model/route.ts';

export { DEFAULT_RETRY };
import type { Cluster, Destination, HostTable, Snapshot } from '../model/snapshot.ts';
import { DEFAULT_RETRY } from './routes-common.ts';
import { compileVirtualServiceRules } from './routes-virtual-service.ts';
import { compileHttpRouteRules } from './routes-http-route.ts';

export function defaultRule(): RouteRule {
  return { name: 'default', matches: [], action: { kind: 'forward', clusters: [], total: 0 }, retry: DEFAULT_RETRY, mirrors: [] };
}

/** What route compilers need to resolve a destination host to a cluster. */
export interface RouteContext {
  readonly hosts: HostTable;
  readonly clusters: ReadonlyMap<string, Cluster>;
  readonly diagnostics: Diagnostic[];
}

export function clusterFor(ctx: RouteContext, host: string, port: number, subset?: string): string | undefined {
  const dest = ctx.hosts.exact.get(host.toLowerCase())?.get(port);
  if (!dest) return undefined;
  if (!subset) return dest.cluster.name;
  const name = dest.cluster.name.replace('|http|', `|http/${subset}|`);
  return ctx.clusters.has(name) ? name : undefined;
}

export function routeDiagnostic(r: Resource, path: (string | number)[], message: string, hint: string, level: 'error' | 'warning' = 'warning'): Diagnostic {
  const loc = r.locate(path);
  return {
    code: level === 'error' ? CODES.SchemaValidationError.code : CODES.SchemaWarning.code, level, message, hint,
    resource: { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name },
    file: loc.file, line: loc.line, column: loc.column,
    path: path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').slice(1),
  };
}

function vsCovers(vsHost: string, seHost: string): boolean {
  const h = vsHost.toLowerCase();
  return h === seHost || (h.startsWith('*.') && seHost.endsWith(h.slice(1)));
}

function routesHttpRoute(r: Resource<HTTPRouteSpec>, d: Destination, waypoint: Snapshot['waypoint']): boolean {
  const ns = r.metadata.namespace;
  const hostnames = r.spec.hostnames ?? [];
  return (r.spec.parentRefs ?? []).some((p) => {
    const pns = p.namespace ?? ns;
    if (p.port !== undefined && p.port !== d.port.number) return false;
    if (p.sectionName && p.sectionName !== d.port.name) return false;
    if (p.kind === 'ServiceEntry' && p.group === 'networking.istio.io') return pns === d.service.namespace && p.name === d.service.name;
    if ((p.kind ?? 'Gateway') === 'Gateway' && (p.group ?? 'gateway.networking.k8s.io') === 'gateway.networking.k8s.io') {
      return pns === waypoint.namespace && p.name === waypoint.name && (hostnames.length === 0 || hostnames.some((h) => vsCovers(h, d.host)));
    }
    return false;
  });
}

export function compileRoutes(
  resources: readonly Resource[], snap: Pick<Snapshot, 'hosts' | 'clusters' | 'waypoint'>,
): { routes: Map<string, RouteTable>; diagnostics: Diagnostic[] } {
  const ctx: RouteContext = { hosts: snap.hosts, clusters: snap.clusters, diagnostics: [] };
  const vss = resources.filter((r): r is Resource<VirtualServiceSpec> => r.kind === 'VirtualService' && r.group === 'networking.istio.io');
  const hrs = resources.filter((r): r is Resource<HTTPRouteSpec> => r.kind === 'HTTPRoute' && r.group === 'gateway.networking.k8s.io');
  const routes = new Map<string, RouteTable>();
  const seen = new Set<string>();
  for (const table of [snap.hosts.exact, snap.hosts.wildcard]) {
    for (const ports of table.values()) {
      for (const d of ports.values()) {
        if (d.cluster.kind !== 'http' || seen.has(d.cluster.name)) continue;
        seen.add(d.cluster.name);
        const t = tableFor(d, vss, hrs, snap.waypoint, ctx);
        if (t) routes.set(d.cluster.name, t);
      }
    }
  }
  return { routes, diagnostics: ctx.diagnostics };
}

function tableFor(
  d: Destination, vss: readonly Resource<VirtualServiceSpec>[], hrs: readonly Resource<HTTPRouteSpec>[],
  waypoint: Snapshot['waypoint'], ctx: RouteContext,
): RouteTable | undefined {
  const httpRoutes = hrs.filter((r) => routesHttpRoute(r, d, waypoint));
  const virtualServices = vss.filter((r) =>
    (r.metadata.namespace === d.service.namespace || r.metadata.namespace === waypoint.namespace)
    && (r.spec.hosts ?? []).some((h) => vsCovers(h, d.host)) && (r.spec.http ?? []).length > 0);
  if (httpRoutes.length > 0) {
    for (const vs of virtualServices) {
      ctx.diagnostics.push(routeDiagnostic(vs, ['spec', 'hosts'], `ignored for ${d.host}:${d.port.number}: HTTPRoute ${httpRoutes.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).join(', ')} also routes it, and mixing the two is undefined in Istio`, 'route this host with either HTTPRoute or VirtualService, not both'));
    }
    return { source: httpRoutes.map((r) => `HTTPRoute ${r.metadata.namespace}/${r.metadata.name}`).join(', '), rules: compileHttpRouteRules(httpRoutes, d, ctx) };
  }
  if (virtualServices.length > 0) {
    // Several VirtualServices for one host are merged in order, as istiod merges them.
    const rules = virtualServices.flatMap((vs) => compileVirtualServiceRules(vs, d, ctx));
    return { source: virtualServices.map((r) => `VirtualService ${r.metadata.namespace}/${r.metadata.name}`).join(', '), rules };
  }
  return undefined;
}
