// The API objects the controller reads, as the typed resources compile/ understands, and the
// bindings of ServiceEntries and Services to our waypoints. PURE given the cache contents.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { GatewaySpec } from '../../config/kinds/gateway.ts';
import type { Resource } from '../../config/resource.ts';
import { resolveWaypoint, type BindingContext, type WaypointGateway } from '../../compile/binding.ts';
import { compileWaypoints } from '../../compile/waypoints.ts';
import type { Binding } from '../../model/snapshot.ts';

export type Obj = KubernetesObject & {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  data?: Record<string, string>;
};

const NOWHERE = { file: '', line: 0, column: 0 };

export function toResource<S = unknown>(o: Obj, group: string, kind: string): Resource<S> {
  const m = o.metadata ?? {};
  return {
    apiVersion: o.apiVersion ?? '', group, version: (o.apiVersion ?? '').split('/').pop() ?? '', kind,
    metadata: {
      name: m.name ?? '', namespace: m.namespace ?? '', labels: m.labels ?? {}, annotations: m.annotations ?? {},
      ...(m.creationTimestamp ? { creationTimestamp: String(m.creationTimestamp) } : {}),
    },
    spec: (o.spec ?? {}) as S, status: o.status, source: NOWHERE, locate: () => NOWHERE,
  };
}

export function keyOf(o: KubernetesObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

/** Our waypoints as the binding rules see them (ready once status.addresses is set). */
export function ourWaypoints(gateways: readonly Resource<GatewaySpec>[], classLabels: (cls: string) => Readonly<Record<string, string>>): Map<string, WaypointGateway> {
  return compileWaypoints(gateways, classLabels, undefined);
}

export function bindingContext(waypoints: ReadonlyMap<string, WaypointGateway>, namespaces: ReadonlyMap<string, Readonly<Record<string, string>>>): BindingContext {
  return {
    self: '', waypoints,
    namespaceLabels: (ns) => ({ ...(namespaces.get(ns) ?? {}), 'kubernetes.io/metadata.name': ns }),
    // meshConfig serviceEntryVisibility is istiod's; with no istiod every ServiceEntry is PUBLIC.
    visibility: () => 'PUBLIC',
  };
}

export function bind(o: Obj, kind: 'ServiceEntry' | 'Service', ctx: BindingContext): Binding {
  const m = o.metadata ?? {};
  return resolveWaypoint({ kind, namespace: m.namespace ?? '', name: m.name ?? '', labels: m.labels ?? {} }, 'service', ctx);
}
