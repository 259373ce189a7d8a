// HTTPRoute status.parents for our controllerName only, as istiod's createRouteStatus writes its own:
// every entry of another controller is kept as it is (status.parents is an atomic list, so the
// apply carries them, guarded by the resourceVersion it read); ours are recomputed from the same
// verdicts the file mode reports (compile/route-status.ts). PURE.
import type { HTTPRouteSpec, ParentReference } from '../../config/kinds/http-route.ts';
import type { Resource } from '../../config/resource.ts';
import { parentConditions, parentVerdicts, refsError, type ParentVerdict, type StatusWorld } from '../../compile/route-status.ts';
import { conditionsMatch, mergeConditions, type Condition } from './conditions.ts';

export interface ParentStatus {
  readonly parentRef: ParentReference;
  readonly controllerName: string;
  readonly conditions: readonly Condition[];
}

/** How a parent relates to us: not ours, ours, or ours but refused with this condition. */
export type Ownership = undefined | { readonly denied?: { readonly reason: string; readonly message: string } };

export interface RouteParentsInput {
  readonly route: Resource<HTTPRouteSpec>;
  readonly generation: number;
  readonly current: readonly ParentStatus[];
  readonly controllerName: string;
  readonly world: StatusWorld;
  readonly owner: (ref: ParentVerdict['ref']) => Ownership;
  readonly now: string;
}

export interface RouteParentsResult {
  /** The whole list to write, or undefined when the current one already says this. */
  readonly parents?: readonly ParentStatus[];
  /** Gateway parents (namespace/name, sectionName) that accepted the route: listener attachedRoutes. */
  readonly attached: readonly { readonly gateway: string; readonly sectionName?: string }[];
}

export function routeParents(i: RouteParentsInput): RouteParentsResult {
  const mine: ParentStatus[] = [];
  const attached: { gateway: string; sectionName?: string }[] = [];
  const seen = new Set<string>();
  for (const p of i.route.spec.parentRefs ?? []) {
    const [v] = parentVerdicts({ ...i.route, spec: { ...i.route.spec, parentRefs: [p] } } as Resource<HTTPRouteSpec>, i.world);
    if (!v) continue;
    const own = i.owner(v.ref);
    const key = refString(p);
    if (!own || seen.has(key)) continue;
    seen.add(key);
    const verdict: ParentVerdict = own.denied ? { ...v, denied: own.denied } : v;
    const wanted = parentConditions(verdict, refsError(i.route, i.world, v.ref.kind === 'Gateway'))
      .map((c) => ({ ...c, observedGeneration: i.generation }));
    const old = i.current.find((c) => c.controllerName === i.controllerName && refString(c.parentRef) === key);
    mine.push({ parentRef: p, controllerName: i.controllerName, conditions: mergeConditions(old?.conditions, wanted, i.now) });
    if (!verdict.denied && v.ref.kind === 'Gateway') attached.push({ gateway: `${v.ref.namespace}/${v.ref.name}`, sectionName: v.ref.sectionName });
  }
  mine.sort((a, b) => (refString(a.parentRef) > refString(b.parentRef) ? -1 : 1));
  const others = i.current.filter((c) => c.controllerName !== i.controllerName);
  const currentMine = i.current.filter((c) => c.controllerName === i.controllerName);
  const same = currentMine.length === mine.length && mine.every((m, n) => refString(currentMine[n]!.parentRef) === refString(m.parentRef)
    && conditionsMatch(currentMine[n]!.conditions, m.conditions) && currentMine[n]!.conditions.length === m.conditions.length);
  return { attached, ...(same ? {} : { parents: [...others, ...mine] }) };
}

/** istiod's parentRefString: the reference as written (defaults filled by the API server). */
export function refString(r: ParentReference): string {
  return `${r.group ?? ''}/${r.kind ?? ''}/${r.name}/${r.sectionName ?? ''}/${r.port ?? 0}.${r.namespace ?? ''}`;
}
