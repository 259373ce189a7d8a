// One level-triggered pass over everything the controller owns, run by the leader only, debounced
// after any watched change: GatewayClass status, each Gateway's objects and status, HTTPRoute
// parents, ServiceEntry WaypointBound. Each write is a server-side apply with our field manager,
// made only when what we would write differs from what the cache holds, so a pass over an
// unchanged cluster writes nothing (status never flaps). A failed write is logged in one line,
// counted, and retried with backoff; it never stops the pass.
import type { GatewayClassSpec, GatewaySpec } from '../../config/kinds/gateway.ts';
import type { HTTPRouteSpec } from '../../config/kinds/http-route.ts';
import { GATEWAY_GROUP, ISTIO_GROUP, statusWorld } from '../../compile/route-status.ts';
import type { ControllerMetrics, WrittenKind } from '../../telemetry/controller-metrics.ts';
import { conditionsMatch, jsonEqual, mergeConditions, metaNow, type Condition } from './conditions.ts';
import { classConditions, gatewayShapeError, gatewayStatus, type GatewayStatusResult } from './gateway-status.ts';
import type { Cache } from './informer.ts';
import { apiError, FIELD_MANAGER, type KubeApi } from './kube-api.ts';
import { resolveSettings, type ParamsError } from './params.ts';
import { clusterBindingName, GATEWAY_CLASS_NAME as GATEWAY_CLASS_LABEL, GATEWAY_NAMESPACE, renderGateway, type WaypointRoles } from './render.ts';
import { routeParents, type Ownership, type ParentStatus } from './route-parents.ts';
import { nextConditions, waypointBoundCondition } from './waypoint-bound.ts';
import { bind, bindingContext, keyOf, ourWaypoints, toResource, type Obj } from './world.ts';

export interface Caches {
  readonly gatewayClasses: Cache<Obj>;
  readonly gateways: Cache<Obj>;
  readonly httpRoutes: Cache<Obj>;
  readonly serviceEntries: Cache<Obj>;
  readonly namespaces: Cache<Obj>;
  readonly services: Cache<Obj>;
  readonly configMaps: Cache<Obj>;
  readonly referenceGrants: Cache<Obj>;
}

export interface ReconcilerOptions {
  readonly api: KubeApi;
  readonly caches: Caches;
  readonly controllerName: string;
  readonly defaultImage: string;
  readonly waypointRoles: WaypointRoles;
  /** Whether istiod runs now (it writes WaypointBound then, not us). */
  readonly istiodPresent: () => boolean;
  /** Gateway API CRD bundle version, when readable. */
  readonly bundleVersion: () => string | undefined;
  readonly isLeader: () => boolean;
  readonly metrics: ControllerMetrics;
  readonly log: { info(msg: string): void; warn(msg: string): void };
}

type Err = { reason: string; message: string };

export class Reconciler {
  #o: ReconcilerOptions;
  /** Apply path -> the body last applied there: an unchanged object is not applied again. */
  #applied = new Map<string, string>();
  /** One log line per distinct problem, not one per pass. */
  #reported = new Map<string, string>();
  #failed = false;

  constructor(o: ReconcilerOptions) {
    this.#o = o;
  }

  /** Forget what was applied: the next pass applies every object once (new leader, resync, a child deleted). */
  forget(prefix = ''): void {
    for (const k of [...this.#applied.keys()]) if (k.startsWith(prefix)) this.#applied.delete(k);
  }

  /** Runs one pass; resolves true when every write succeeded. */
  async reconcile(): Promise<boolean> {
    this.#failed = false;
    const c = this.#o.caches;
    const now = metaNow();
    const classes = new Map<string, Obj>();
    for (const gc of c.gatewayClasses.list()) {
      if ((gc.spec as unknown as GatewayClassSpec | undefined)?.controllerName === this.#o.controllerName) classes.set(gc.metadata!.name!, gc);
    }
    const classErrors = new Map<string, ParamsError | undefined>();
    for (const [name, gc] of classes) {
      const ref = (gc.spec as unknown as GatewayClassSpec).parametersRef;
      const err = ref ? resolveSettings(this.#paramsInput(gc, undefined)).error : undefined;
      classErrors.set(name, err);
      if (!this.#leading()) return true;
      await this.#classStatus(gc, err, now);
    }
    const gateways = c.gateways.list().filter((g) => classes.has(String(g.spec?.gatewayClassName)));
    const gatewayKeys = new Set(gateways.map(keyOf));
    const errors = new Map<string, Err | undefined>();
    for (const g of gateways) {
      if (!this.#leading()) return true;
      errors.set(keyOf(g), await this.#provision(g, classes.get(String(g.spec?.gatewayClassName))!, classErrors));
    }
    if (this.#o.waypointRoles.cluster && this.#leading()) await this.#dropStaleBindings(gateways, new Set(classes.keys()));
    const namespaces = new Map(c.namespaces.list().map((n) => [n.metadata!.name!, n.metadata?.labels ?? {}]));
    const gwResources = gateways.map((g) => toResource<GatewaySpec>(g, GATEWAY_GROUP, 'Gateway'));
    const ctx = bindingContext(ourWaypoints(gwResources, (cls) => classes.get(cls)?.metadata?.labels ?? {}), namespaces);
    const attached = await this.#routes(gatewayKeys, ctx, now);
    for (const g of gateways) {
      if (!this.#leading()) return true;
      await this.#gatewayStatus(g, errors.get(keyOf(g)), attached.get(keyOf(g)) ?? new Map(), now);
    }
    if (!this.#o.istiodPresent()) await this.#serviceEntries(gatewayKeys, ctx, namespaces, now);
    return !this.#failed;
  }

  #leading(): boolean {
    return this.#o.isLeader();
  }

  #paramsInput(gc: Obj, g: Obj | undefined): Parameters<typeof resolveSettings>[0] {
    const cms = this.#o.caches.configMaps;
    const gs = g?.spec as unknown as GatewaySpec | undefined;
    return {
      classRef: (gc.spec as unknown as GatewayClassSpec).parametersRef, gatewayRef: gs?.infrastructure?.parametersRef,
      gatewayNamespace: g?.metadata?.namespace ?? '', classAnnotations: gc.metadata?.annotations ?? {}, gatewayAnnotations: g?.metadata?.annotations ?? {},
      defaultImage: this.#o.defaultImage,
      configMap: (ns, name) => {
        const cm = cms.get(name, ns);
        return cm ? (cm.data ?? {}) : undefined;
      },
    };
  }

  async #classStatus(gc: Obj, err: ParamsError | undefined, now: string): Promise<void> {
    const wanted = classConditions(gc.metadata?.generation ?? 0, err, this.#o.bundleVersion());
    const existing = (gc.status?.conditions ?? []) as Condition[];
    this.#report(`GatewayClass ${gc.metadata!.name}`, err ? `GatewayClass ${gc.metadata!.name} not accepted: ${err.message}` : undefined);
    if (conditionsMatch(existing, wanted)) return;
    await this.#apply('GatewayClass', `/apis/gateway.networking.k8s.io/v1/gatewayclasses/${gc.metadata!.name}/status`,
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: gc.metadata!.name }, status: { conditions: mergeConditions(existing, wanted, now) } });
  }

  /** Applies the Gateway's objects; returns why the Gateway is not accepted, if it is not. */
  async #provision(g: Obj, gc: Obj, classErrors: ReadonlyMap<string, ParamsError | undefined>): Promise<Err | undefined> {
    const key = keyOf(g);
    const spec = g.spec as unknown as GatewaySpec;
    const view = { name: g.metadata!.name!, namespace: g.metadata!.namespace!, generation: g.metadata?.generation ?? 0, listeners: spec.listeners ?? [] };
    const classErr = classErrors.get(gc.metadata!.name!);
    const resolved = resolveSettings(this.#paramsInput(gc, g));
    const err: Err | undefined = gatewayShapeError(view) ?? (classErr ? { reason: 'InvalidParameters', message: `${classErr.message} (GatewayClass ${gc.metadata!.name} is not accepted)` } : undefined) ?? resolved.error;
    this.#report(`Gateway ${key}`, err ? `Gateway ${key} not accepted (${err.reason}): ${err.message}; its objects are left as they are` : undefined);
    if (err || !resolved.settings) return err;
    const objects = renderGateway({ ...view, uid: g.metadata!.uid!, className: spec.gatewayClassName, infrastructure: spec.infrastructure }, resolved.settings, this.#o.controllerName, this.#o.waypointRoles);
    for (const r of objects) {
      if (!this.#leading()) break;
      const path = `${r.path}/${(r.body.metadata as { name: string }).name}`;
      const body = JSON.stringify(r.body);
      if (this.#applied.get(path) === body) continue;
      if (await this.#apply(r.body.kind as WrittenKind, path, r.body)) this.#applied.set(path, body);
    }
    return undefined;
  }

  async #routes(gatewayKeys: ReadonlySet<string>, ctx: ReturnType<typeof bindingContext>, now: string): Promise<Map<string, Map<string, number>>> {
    const c = this.#o.caches;
    const resources = [
      ...c.gateways.list().map((g) => toResource(g, GATEWAY_GROUP, 'Gateway')),
      ...c.serviceEntries.list().map((s) => toResource(s, ISTIO_GROUP, 'ServiceEntry')),
      ...c.namespaces.list().map((n) => toResource(n, '', 'Namespace')),
      ...c.referenceGrants.list().map((r) => toResource(r, GATEWAY_GROUP, 'ReferenceGrant')),
    ];
    const world = statusWorld(resources);
    const ours = (b: { waypoint?: string }) => b.waypoint !== undefined && gatewayKeys.has(b.waypoint);
    const owner = (ref: { kind: string; group: string; namespace: string; name: string }): Ownership => {
      const key = `${ref.namespace}/${ref.name}`;
      if (ref.kind === 'Gateway' && ref.group === GATEWAY_GROUP) return gatewayKeys.has(key) ? {} : undefined;
      if (ref.kind === 'ServiceEntry' && ref.group === ISTIO_GROUP) {
        const se = c.serviceEntries.get(ref.name, ref.namespace);
        return se && ours(bind(se, 'ServiceEntry', ctx)) ? {} : undefined;
      }
      if (ref.kind === 'Service' && ref.group === '') {
        const svc = c.services.get(ref.name, ref.namespace);
        const b = svc ? bind(svc, 'Service', ctx) : undefined;
        if (!b || !ours(b)) return undefined;
        return { denied: { reason: 'UnsupportedValue', message: `parent Service "${key}" is bound to waypoint ${b.waypoint}, but Egressway waypoints route ServiceEntry hosts only; attach the route to a ServiceEntry` } };
      }
      return undefined;
    };
    const attached = new Map<string, Map<string, number>>();
    for (const hr of c.httpRoutes.list()) {
      if (!this.#leading()) break;
      const current = ((hr.status?.parents ?? []) as ParentStatus[]);
      const r = routeParents({
        route: toResource<HTTPRouteSpec>(hr, GATEWAY_GROUP, 'HTTPRoute'), generation: hr.metadata?.generation ?? 0, current,
        controllerName: this.#o.controllerName, world, owner, now,
      });
      for (const a of r.attached) {
        const gw = c.gateways.get(a.gateway.split('/')[1]!, a.gateway.split('/')[0]);
        const m = attached.get(a.gateway) ?? new Map<string, number>();
        for (const l of ((gw?.spec as unknown as GatewaySpec | undefined)?.listeners ?? [])) {
          if (a.sectionName === undefined || a.sectionName === l.name) m.set(l.name, (m.get(l.name) ?? 0) + 1);
        }
        attached.set(a.gateway, m);
      }
      if (!r.parents) continue;
      // status.parents is atomic: the resourceVersion makes the write fail (409) if it changed meanwhile.
      await this.#apply('HTTPRoute', `/apis/gateway.networking.k8s.io/v1/namespaces/${hr.metadata!.namespace}/httproutes/${hr.metadata!.name}/status`, {
        apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute',
        metadata: { name: hr.metadata!.name, namespace: hr.metadata!.namespace, resourceVersion: hr.metadata!.resourceVersion }, status: { parents: r.parents },
      });
    }
    return attached;
  }

  async #gatewayStatus(g: Obj, err: Err | undefined, attached: ReadonlyMap<string, number>, now: string): Promise<void> {
    const spec = g.spec as unknown as GatewaySpec;
    const svcObj = this.#o.caches.services.get(g.metadata!.name!, g.metadata!.namespace);
    const owned = svcObj?.metadata?.ownerReferences?.some((o) => o.uid === g.metadata!.uid);
    const s = svcObj?.spec as { clusterIPs?: string[]; clusterIP?: string; ports?: { port: number }[] } | undefined;
    const svc = owned && s ? { clusterIPs: s.clusterIPs ?? (s.clusterIP ? [s.clusterIP] : []), ports: (s.ports ?? []).map((p) => p.port) } : undefined;
    const view = { name: g.metadata!.name!, namespace: g.metadata!.namespace!, generation: g.metadata?.generation ?? 0, listeners: spec.listeners ?? [], status: g.status as never };
    const want = gatewayStatus(view, svc, err, attached);
    const cur = (g.status ?? {}) as { conditions?: Condition[]; addresses?: unknown[]; listeners?: { name: string; supportedKinds?: unknown[]; attachedRoutes?: number; conditions?: Condition[] }[] };
    if (sameGatewayStatus(cur, want)) return;
    const listeners = want.listeners.map((l) => ({ ...l, conditions: mergeConditions(cur.listeners?.find((x) => x.name === l.name)?.conditions, l.conditions, now) }));
    await this.#apply('Gateway', `/apis/gateway.networking.k8s.io/v1/namespaces/${view.namespace}/gateways/${view.name}/status`, {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: view.name, namespace: view.namespace },
      status: { conditions: mergeConditions(cur.conditions, want.conditions, now), ...(want.addresses ? { addresses: want.addresses } : {}), listeners },
    });
  }

  async #serviceEntries(gatewayKeys: ReadonlySet<string>, ctx: ReturnType<typeof bindingContext>, namespaces: ReadonlyMap<string, Readonly<Record<string, string>>>, now: string): Promise<void> {
    for (const se of this.#o.caches.serviceEntries.list()) {
      if (!this.#leading()) return;
      const b = bind(se, 'ServiceEntry', ctx);
      const m = se.metadata!;
      const wanted = b.waypoint && gatewayKeys.has(b.waypoint) ? waypointBoundCondition(b, m.labels ?? {}, namespaces.get(m.namespace!) ?? {}, m.generation ?? 0) : undefined;
      const ownedByUs = (m.managedFields ?? []).some((f) => f.manager === FIELD_MANAGER && f.subresource === 'status');
      const next = nextConditions((se.status?.conditions ?? []) as Condition[], wanted, ownedByUs, now);
      if (!next) continue;
      const [group, version] = (se.apiVersion ?? 'networking.istio.io/v1').split('/');
      await this.#apply('ServiceEntry', `/apis/${group}/${version}/namespaces/${m.namespace}/serviceentries/${m.name}/status`, {
        apiVersion: se.apiVersion ?? 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: m.name, namespace: m.namespace }, status: { conditions: next },
      });
    }
  }

  /** ClusterRoleBindings of Gateways that are gone (no owner reference can collect them). */
  async #dropStaleBindings(gateways: readonly Obj[], classes: ReadonlySet<string>): Promise<void> {
    const path = '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings';
    const res = await this.#o.api.get(`${path}?labelSelector=${encodeURIComponent(GATEWAY_NAMESPACE)}`).catch(() => undefined);
    if (!res || res.status !== 200) return;
    const live = new Set(gateways.map((g) => clusterBindingName(g.metadata!.namespace!, g.metadata!.name!)));
    for (const b of (res.body.items ?? []) as Obj[]) {
      const name = b.metadata!.name!;
      // Only bindings of our classes: another controller's are not ours to judge.
      if (live.has(name) || !classes.has(b.metadata?.labels?.[GATEWAY_CLASS_LABEL] ?? '')) continue;
      const del = await this.#o.api.call('DELETE', `${path}/${name}`).catch(() => undefined);
      const ok = !!del && (del.status === 200 || del.status === 404);
      this.#o.metrics.write('ClusterRoleBinding', ok);
      if (ok) {
        this.#applied.delete(`${path}/${name}`);
        this.#o.log.info(`ClusterRoleBinding ${name}: its Gateway is gone; deleted`);
      } else this.#o.log.warn(`delete ClusterRoleBinding ${name}: ${del ? apiError(del) : 'no answer'}; retrying`);
    }
  }

  async #apply(kind: WrittenKind, path: string, body: unknown): Promise<boolean> {
    let res;
    try {
      res = await this.#o.api.apply(path, body);
    } catch (err) {
      res = { status: 0, body: { message: (err as Error).message } };
    }
    const ok = res.status === 200 || res.status === 201;
    this.#o.metrics.write(kind, ok);
    if (!ok) {
      this.#failed = true;
      const hint = res.status === 403 ? '; grant this identity patch on it (see the RBAC list in controller.ts)' : res.status === 409 ? '; it changed meanwhile, retrying' : '';
      this.#o.log.warn(`apply ${kind} ${path}: ${apiError(res)}${hint}`);
    }
    return ok;
  }

  /** Logs a problem once when it appears or changes, and once when it goes away. */
  #report(subject: string, problem: string | undefined): void {
    const before = this.#reported.get(subject);
    if (problem === before) return;
    if (problem) {
      this.#reported.set(subject, problem);
      this.#o.log.warn(problem);
    } else if (before !== undefined) {
      this.#reported.delete(subject);
      this.#o.log.info(`${subject}: accepted again`);
    }
  }
}

function sameGatewayStatus(cur: { conditions?: Condition[]; addresses?: unknown[]; listeners?: { name: string; supportedKinds?: unknown[]; attachedRoutes?: number; conditions?: Condition[] }[] }, want: GatewayStatusResult): boolean {
  if (!conditionsMatch(cur.conditions, want.conditions)) return false;
  if (want.addresses && !jsonEqual(cur.addresses ?? [], want.addresses)) return false;
  if ((cur.listeners ?? []).length !== want.listeners.length) return false;
  return want.listeners.every((l) => {
    const c = cur.listeners?.find((x) => x.name === l.name);
    return !!c && c.attachedRoutes === l.attachedRoutes && jsonEqual(c.supportedKinds ?? [], l.supportedKinds) && conditionsMatch(c.conditions, l.conditions);
  });
}
