// Route analyzers. VirtualService: IST0101 (missing gateway, host or subset), IST0130 / IST0131
// (rules and matches an earlier rule already covers, in VirtualService's first-match order).
// HTTPRoute: IST0101 (missing parent or backend), EGW0014 (parent not bound to a waypoint) and EGW0017
// (a match repeated across rules; Gateway API orders by specificity, so only an equal match shadows).
import type { HTTPRouteSpec } from '../../config/kinds/http-route.ts';
import type { HTTPMatchRequest, StringMatch, VirtualServiceSpec } from '../../config/kinds/virtual-service.ts';
import type { Resource } from '../../config/resource.ts';
import type { Path } from '../../config/schema.ts';
import type { Diagnostic } from '../../model/diagnostic.ts';
import { entriesForHost, finding, isBound, isClusterLocal } from '../context.ts';
import type { Context } from '../context.ts';

export function analyzeRoutes(ctx: Context): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const vs of ctx.virtualServices) {
    references(ctx, vs, out);
    shadowing(vs, out);
  }
  httpRoutes(ctx, out);
  return out;
}

function references(ctx: Context, vs: Resource<VirtualServiceSpec>, out: Diagnostic[]): void {
  (vs.spec.gateways ?? []).forEach((g, i) => {
    if (g === 'mesh') return;
    const [ns, name] = g.includes('/') ? g.split('/') : [vs.metadata.namespace, g];
    if (!ctx.gateways.some((gw) => gw.metadata.namespace === ns && gw.metadata.name === name)) {
      out.push(finding(vs, 'ReferencedResourceNotFound', ['spec', 'gateways', i], `Referenced gateway not found: "${g}"`, `add the networking.istio.io Gateway ${ns}/${name}, or fix the name`));
    }
  });
  (vs.spec.http ?? []).forEach((rule, i) => {
    (rule.route ?? []).forEach((d, j) => destination(ctx, vs, d.destination, ['spec', 'http', i, 'route', j, 'destination'], out));
    if (rule.mirror) destination(ctx, vs, rule.mirror, ['spec', 'http', i, 'mirror'], out);
  });
  for (const kind of ['tls', 'tcp'] as const) {
    (vs.spec[kind] ?? []).forEach((rule, i) => (rule.route ?? []).forEach((d, j) => destination(ctx, vs, d.destination, ['spec', kind, i, 'route', j, 'destination'], out)));
  }
}

function destination(ctx: Context, vs: Resource, d: { host: string; subset?: string }, path: Path, out: Diagnostic[]): void {
  if (isClusterLocal(d.host)) return;
  if (entriesForHost(ctx, d.host).length === 0) {
    out.push(finding(vs, 'ReferencedResourceNotFound', [...path, 'host'], `Referenced host not found: "${d.host}"`, `add a ServiceEntry with hosts: [${d.host}]`));
    return;
  }
  if (d.subset && !ctx.destinationRules.some((dr) => dr.spec.host === d.host && (dr.spec.subsets ?? []).some((s) => s.name === d.subset))) {
    out.push(finding(vs, 'ReferencedResourceNotFound', [...path, 'subset'], `Referenced host+subset in destinationrule not found: "${d.host}+${d.subset}"`, `define subset ${d.subset} in a DestinationRule for ${d.host}`));
  }
}

function canon(m: StringMatch | undefined): string {
  return m ? JSON.stringify([m.exact, m.prefix, m.regex]) : '';
}

/** True when every request `b` matches is matched by `a` (a is no more specific than b). */
function covers(a: HTTPMatchRequest, b: HTTPMatchRequest): boolean {
  const { name: _a, ...ra } = a;
  const { name: _b, ...rb } = b;
  for (const [k, v] of Object.entries(ra)) {
    if (k === 'uri') {
      const am = v as StringMatch;
      const bm = rb.uri;
      if (!bm) return false;
      if (am.prefix !== undefined && (bm.prefix ?? bm.exact)?.startsWith(am.prefix) && !a.ignoreUriCase === !b.ignoreUriCase) continue;
      if (canon(am) !== canon(bm)) return false;
      continue;
    }
    if (k === 'headers' || k === 'queryParams' || k === 'withoutHeaders') {
      const bh = (rb as Record<string, Record<string, StringMatch> | undefined>)[k] ?? {};
      if (!Object.entries(v as Record<string, StringMatch>).every(([h, m]) => bh[h] && canon(bh[h]) === canon(m))) return false;
      continue;
    }
    if (JSON.stringify(v) !== JSON.stringify((rb as Record<string, unknown>)[k])) return false;
  }
  return true;
}

const catchAll = (m: HTTPMatchRequest) => covers(m, {}) || (m.uri?.prefix === '/' && Object.keys(m).filter((k) => k !== 'name').length === 1);

function shadowing(vs: Resource<VirtualServiceSpec>, out: Diagnostic[]): void {
  const earlier: { rule: number; match: HTTPMatchRequest }[] = [];
  let catchAllAt: number | undefined;
  (vs.spec.http ?? []).forEach((rule, i) => {
    const path = ['spec', 'http', i];
    const matches = rule.match ?? [];
    if (catchAllAt !== undefined) {
      out.push(finding(vs, 'VirtualServiceUnreachableRule', path, `VirtualService rule #${i}${rule.name ? ` (${rule.name})` : ''} not used (only the last rule can have no matches; rule #${catchAllAt} matches every request)`, `move rule #${i} above rule #${catchAllAt}, or delete it`));
      return;
    }
    const covered = matches.map((m) => earlier.find((e) => covers(e.match, m)));
    if (matches.length > 0 && covered.every(Boolean)) {
      out.push(finding(vs, 'VirtualServiceUnreachableRule', path, `VirtualService rule #${i}${rule.name ? ` (${rule.name})` : ''} not used (all matches used by prior rules: #${[...new Set(covered.map((c) => c!.rule))].join(', #')})`, 'reorder the rules, most specific first, or delete this one'));
    } else {
      covered.forEach((c, j) => {
        if (c) out.push(finding(vs, 'VirtualServiceIneffectiveMatch', [...path, 'match', j], `VirtualService rule #${i} match #${j} is not used (rule #${c.rule} matches every request it matches)`, 'reorder the rules, most specific first, or delete this match'));
      });
    }
    if (matches.length === 0 || matches.some(catchAll)) catchAllAt = i;
    for (const m of matches) earlier.push({ rule: i, match: m });
  });
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
