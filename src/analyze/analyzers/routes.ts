// Route analyzers. VirtualService: IST0101 (missing gateway, host or subset), IST0130 / IST0131
// (unreachable.ts) and EGW0019 (not used by a waypoint that serves its host: gateways, exportTo).
// HTTPRoute: IST0101 (missing parent or backend), EGW0014 (parent not bound to a waypoint) and EGW0017
// (a match repeated across rules; Gateway API orders by specificity, so only an equal match shadows).
import type { HTTPRouteSpec } from '../../config/kinds/http-route.ts';
import type { VirtualServiceSpec } from '../../config/kinds/virtual-service.ts';
import type { Resource } from '../../config/resource.ts';
import type { Path } from '../../config/schema.ts';
import type { Diagnostic } from '../../model/diagnostic.ts';
import { entriesForHost, finding, isBound, isClusterLocal } from '../context.ts';
import type { Context } from '../context.ts';
import { analyzeUnreachable } from './unreachable.ts';
import { meshScope } from '../../compile/vs-scope.ts';

export function analyzeRoutes(ctx: Context): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const vs of ctx.virtualServices) {
    references(ctx, vs, out);
    analyzeUnreachable(vs, out);
  }
  notForWaypoint(ctx, out);
  httpRoutes(ctx, out);
  return out;
}

/**
 * EGW0019: a VirtualService that covers a host a waypoint serves (it has route status there) but
 * that the waypoint leaves out for its gateways or exportTo, as compile decides (vs-scope.ts).
 */
function notForWaypoint(ctx: Context, out: Diagnostic[]): void {
  const byKey = new Map(ctx.virtualServices.map((v) => [`${v.metadata.namespace}/${v.metadata.name}`, v]));
  for (const snap of ctx.snapshots) {
    const wp = snap.waypoint;
    for (const st of snap.routeStatus.virtualServices) {
      const vs = byKey.get(`${st.namespace}/${st.name}`);
      if (!vs || st.ignored.length === 0) continue;
      const scope = meshScope(vs, wp.namespace, ctx.defaultVirtualServiceExportTo);
      if (!('reason' in scope)) continue;
      const gateways = scope.reason.startsWith('bound to gateways');
      const hosts = [...new Set(st.ignored.map((i) => i.cluster.split('|').at(-1)))].join(', ');
      out.push(finding(vs, 'VirtualServiceNotForWaypoint', ['spec', gateways ? 'gateways' : 'exportTo'],
        `waypoint ${wp.namespace}/${wp.name} serves ${hosts} but does not use this VirtualService: ${scope.reason}`,
        gateways ? 'add "mesh" to spec.gateways (or drop gateways) for the waypoint to route with it' : `add "${wp.namespace}" (or "*") to spec.exportTo`));
    }
  }
}

function references(ctx: Context, vs: Resource<VirtualServiceSpec>, out: Diagnostic[]): void {
  (vs.spec.gateways ?? []).forEach((g, i) => gateway(ctx, vs, g, ['spec', 'gateways', i], out));
  for (const kind of ['http', 'tls', 'tcp'] as const) {
    (vs.spec[kind] ?? []).forEach((rule, i) => (rule.match ?? []).forEach((m, j) => (m?.gateways ?? []).forEach((g, k) => gateway(ctx, vs, g, ['spec', kind, i, 'match', j, 'gateways', k], out))));
  }
  (vs.spec.http ?? []).forEach((rule, i) => {
    (rule.route ?? []).forEach((d, j) => destination(ctx, vs, d.destination, ['spec', 'http', i, 'route', j, 'destination'], out));
    if (rule.mirror) destination(ctx, vs, rule.mirror, ['spec', 'http', i, 'mirror'], out);
  });
  for (const kind of ['tls', 'tcp'] as const) {
    (vs.spec[kind] ?? []).forEach((rule, i) => (rule.route ?? []).forEach((d, j) => destination(ctx, vs, d.destination, ['spec', kind, i, 'route', j, 'destination'], out)));
  }
}

/**
 * A `gateways:` entry names an Istio Gateway or a Gateway API Gateway (waypoints included): `name`
 * (the VirtualService's namespace), `namespace/name`, or the legacy `name.namespace.svc...` form.
 */
function gateway(ctx: Context, vs: Resource, g: string, path: Path, out: Diagnostic[]): void {
  if (g === 'mesh') return;
  const [ns, name] = g.includes('/') ? g.split('/', 2) : g.includes('.') ? [g.split('.')[1], g.split('.')[0]] : [vs.metadata.namespace, g];
  const found = [...ctx.gateways, ...ctx.kubeGateways].some((gw) => gw.metadata.namespace === ns && gw.metadata.name === name);
  if (!found) out.push(finding(vs, 'ReferencedResourceNotFound', path, `Referenced gateway not found: "${g}"`, `add the Gateway ${ns}/${name} (networking.istio.io or gateway.networking.k8s.io), or fix the name`));
}

/** Istio's ResolveShortnameToFQDN: a name without dots is a Service in the resource's namespace. */
export function fqdn(host: string, ns: string): string {
  return host.includes('.') || host === '*' ? host.toLowerCase() : `${host}.${ns}.svc.cluster.local`.toLowerCase();
}

function destination(ctx: Context, vs: Resource, d: { host: string; subset?: string }, path: Path, out: Diagnostic[]): void {
  const local = isClusterLocal(d.host);
  if (!local && entriesForHost(ctx, d.host).length === 0) {
    out.push(finding(vs, 'ReferencedResourceNotFound', [...path, 'host'], `Referenced host not found: "${d.host}"`, `add a ServiceEntry with hosts: [${d.host}]`));
    return;
  }
  // Subsets are checked for Kubernetes Services too: the DestinationRule is in the files even when
  // the Service is not.
  const host = fqdn(d.host, vs.metadata.namespace);
  if (d.subset && !ctx.destinationRules.some((dr) => fqdn(dr.spec.host, dr.metadata.namespace) === host && (dr.spec.subsets ?? []).some((s) => s.name === d.subset))) {
    out.push(finding(vs, 'ReferencedResourceNotFound', [...path, 'subset'], `Referenced host+subset in destinationrule not found: "${d.host}+${d.subset}"`, `define subset ${d.subset} in a DestinationRule for ${d.host}`));
  }
}

function httpRoutes(ctx: Context, out: Diagnostic[]): void {
  const byParent = new Map<string, { route: Resource<HTTPRouteSpec>; rule: number; match: string }[]>();
  for (const route of ctx.httpRoutes) {
    const ns = route.metadata.namespace;
    (route.spec.parentRefs ?? []).forEach((p, i) => {
      const path = ['spec', 'parentRefs', i];
      if (p.kind === 'ServiceEntry' && p.group === 'networking.istio.io') {
        const se = ctx.serviceEntries.find((s) => s.metadata.namespace === (p.namespace ?? ns) && s.metadata.name === p.name);
        if (!se) out.push(finding(route, 'ReferencedResourceNotFound', path, `Referenced ServiceEntry not found: "${p.namespace ?? ns}/${p.name}"`, 'create the ServiceEntry, or fix parentRefs'));
        else if (!isBound(ctx, se.metadata.namespace, se.metadata.name)) out.push(finding(route, 'TargetNotBound', path, `parent ServiceEntry ${se.metadata.namespace}/${p.name} is bound to no waypoint, so this route is never applied (route status: WaypointError)`, 'label the ServiceEntry (or its namespace) istio.io/use-waypoint'));
      }
      const key = `${p.group ?? 'gateway.networking.k8s.io'}/${p.kind ?? 'Gateway'}/${p.namespace ?? ns}/${p.name}/${p.sectionName ?? ''}`;
      (route.spec.rules ?? []).forEach((rule, j) => {
        for (const m of rule.matches?.length ? rule.matches : [{}]) {
          const list = byParent.get(key) ?? [];
          const match = JSON.stringify([route.spec.hostnames ?? [], m.path?.type ?? 'PathPrefix', m.path?.value ?? '/', m.method ?? '', sortBy(m.headers), sortBy(m.queryParams)]);
          const prior = list.find((x) => x.match === match);
          if (prior && !(prior.route === route && prior.rule === j)) {
            const where = prior.route === route ? `rule #${prior.rule}` : `HTTPRoute ${prior.route.metadata.namespace}/${prior.route.metadata.name} rule #${prior.rule}`;
            out.push(finding(route, 'ShadowedRouteRule', ['spec', 'rules', j, 'matches'], `a match of rule #${j} repeats one of ${where} for parent ${p.name}; the earlier rule always wins, so this one is never used`, 'delete the duplicate match, or make it more specific'));
          } else if (!prior) list.push({ route, rule: j, match });
          byParent.set(key, list);
        }
      });
    });
    backends(ctx, route, out);
  }
}

function sortBy(list: readonly { name: string }[] | undefined): unknown[] {
  return [...(list ?? [])].sort((a, b) => a.name.localeCompare(b.name));
}

function backends(ctx: Context, route: Resource<HTTPRouteSpec>, out: Diagnostic[]): void {
  (route.spec.rules ?? []).forEach((rule, i) => (rule.backendRefs ?? []).forEach((b, j) => {
    const path = ['spec', 'rules', i, 'backendRefs', j];
    if (b.kind === 'Hostname' && entriesForHost(ctx, b.name).length === 0) {
      out.push(finding(route, 'ReferencedResourceNotFound', path, `Referenced host not found: "${b.name}"`, `add a ServiceEntry with hosts: [${b.name}]`));
    }
    if (b.kind === 'ServiceEntry' && !ctx.serviceEntries.some((s) => s.metadata.namespace === (b.namespace ?? route.metadata.namespace) && s.metadata.name === b.name)) {
      out.push(finding(route, 'ReferencedResourceNotFound', path, `Referenced ServiceEntry not found: "${b.name}"`, 'create the ServiceEntry, or fix backendRefs'));
    }
  }));
}
