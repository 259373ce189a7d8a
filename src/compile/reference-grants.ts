// ReferenceGrants indexed for the route compiler: may an HTTPRoute in one namespace reference a
// backend in another? istiod's BackendAllowed (pilot/pkg/config/kube/gateway): a grant in the
// backend's namespace whose `from` names (HTTPRoute, the route's namespace) and whose `to` names
// the backend's group and kind, for every name or this one. PURE.
import type { Resource } from '../config/resource.ts';
import type { BackendRef } from '../config/kinds/http-route.ts';
import type { ReferenceGrantSpec } from '../config/kinds/reference-grant.ts';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

/** `fromNs|toNs|group/kind` -> allowed names, or '*' for all. */
export type GrantIndex = ReadonlyMap<string, ReadonlySet<string>>;

export function grantIndex(resources: readonly Resource[]): GrantIndex {
  const out = new Map<string, Set<string>>();
  for (const r of resources) {
    if (r.kind !== 'ReferenceGrant' || r.group !== GATEWAY_API_GROUP) continue;
    const spec = r.spec as ReferenceGrantSpec;
    for (const f of spec.from ?? []) {
      if (f.group !== GATEWAY_API_GROUP || f.kind !== 'HTTPRoute') continue; // grants for other referrers
      for (const t of spec.to ?? []) {
        const key = `${f.namespace}|${r.metadata.namespace}|${t.group ?? ''}/${t.kind}`;
        const names = out.get(key) ?? out.set(key, new Set()).get(key)!;
        names.add(t.name ?? '*');
      }
    }
  }
  return out;
}

/** A same-namespace reference needs no grant; a cross-namespace one needs a matching grant. */
export function backendAllowed(grants: GrantIndex, routeNamespace: string, b: BackendRef): boolean {
  if (b.namespace === undefined || b.namespace === routeNamespace) return true;
  const names = grants.get(`${routeNamespace}|${b.namespace}|${b.group ?? ''}/${b.kind ?? 'Service'}`);
  return !!names && (names.has('*') || names.has(b.name));
}

/** istiod's InvalidDestinationPermit message, reported as ResolvedRefs=False RefNotPermitted. */
export function refNotPermitted(routeNamespace: string, b: BackendRef): string {
  return `backendRef ${b.name}/${b.namespace} not accessible to a HTTPRoute in namespace "${routeNamespace}" (missing a ReferenceGrant?)`;
}
