// Incremental compile (issue 16). compile() stays one pure function of its inputs; a CompileMemo lets
// it skip the work whose inputs are the same as in an earlier compile. Resources are immutable once
// parsed, so "the same" is object identity: a config source that re-parses only the file or the
// Kubernetes object that changed hands compile the very same Resource objects for everything else.
//
// What depends on what (each entry names the key it is reused under). Whole stages first: services
// <- ServiceEntries; DestinationRules <- DestinationRules, services; authorization <-
// AuthorizationPolicies, RequestAuthentications, services; routes <- VirtualServices, HTTPRoutes,
// ReferenceGrants, ServiceEntries, DestinationRule output. Within a stage that runs:
//   - everything      <- the waypoint-wide inputs: options, Gateways, GatewayClasses, Namespaces
//                        (binding, visibility); when their digest changes the memo starts empty;
//   - a binding       <- its ServiceEntry;
//   - a Service and its clusters <- its ServiceEntry and the VIPs allocated to it;
//   - a compiled AuthorizationPolicy <- the policy and its scope (waypoint or service);
//   - a PolicySet     <- the list of compiled policies and JWT rules that apply to the service;
//   - a route table   <- the destination's Service and Cluster objects, the VirtualServices that
//                        cover its host, and what the rules read of other hosts (their ports,
//                        clusters and subsets), compared by value; tables with HTTPRoutes are
//                        always rebuilt (their status depends on the whole Gateway API world).
// Diagnostics and route status produced while building an entry are stored with it and replayed,
// so the result equals a compile without a memo: test/compile/incremental.test.ts checks that on
// random sequences of changes.
import { hash } from 'node:crypto';
import type { Resource } from '../config/resource.ts';
import type { CompiledJwtRule } from '../model/authn.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { CompiledPolicy, PolicySet } from '../model/policy.ts';
import type { RouteTable, VirtualServiceStatus } from '../model/route.ts';
import type { Binding, Cluster, Destination, HostTable, Service } from '../model/snapshot.ts';
import type { SortedInput } from './sorted-input.ts';
import type { AuthzMemo, PolicyEntry } from './policies-delta.ts';
import type { ServicesMemo } from './services-delta.ts';
import type { RouteIndex } from './routes.ts';
import type { RoutesMemo } from './routes-delta.ts';

export interface ServiceMemo {
  readonly vips: string;
  readonly service: Service;
  /** In (host, port) order. */
  readonly clusters: readonly Cluster[];
  /** One per cluster, in the same order: the host-table entries. */
  readonly destinations: readonly Destination[];
}

export interface PolicyMemo {
  readonly scope: string;
  readonly policy: CompiledPolicy;
  readonly diagnostics: readonly Diagnostic[];
}

export interface PolicySetMemo {
  readonly policies: readonly CompiledPolicy[];
  readonly jwt: readonly CompiledJwtRule[];
  readonly set: PolicySet;
}

/** One route table and what building it did besides: replayed in order on reuse. */
export interface RouteMemo {
  readonly service: Service;
  readonly cluster: Cluster;
  readonly host: string;
  readonly virtualServices: readonly Resource[];
  /** Other hosts' signatures (hostSignature) as the rules read them. */
  readonly reads: ReadonlyMap<string, string>;
  readonly table: RouteTable | undefined;
  readonly diagnostics: readonly Diagnostic[];
  readonly status: readonly { readonly vs: Resource; readonly attached?: string; readonly ignored?: { cluster: string; reason: string } }[];
}

export class CompileMemo {
  #global = '';
  /** The last input, sorted (sorted-input.ts); depends on nothing else, so begin() keeps it. */
  input: SortedInput | undefined;
  /** How often a compile merged its changes into the last order, and patched the last authz table or services (tests check each runs). */
  readonly counts = { merged: 0, authzPatched: 0, servicesPatched: 0, routesPatched: 0 };
  bindings = new WeakMap<Resource, Binding>();
  services = new WeakMap<Resource, ServiceMemo>();
  policies = new WeakMap<Resource, PolicyMemo>();
  policySets = new Map<string, PolicySetMemo>();
  /** Each AuthorizationPolicy's targets, compiled policy and diagnostics (policies.ts). */
  policyEntries = new WeakMap<Resource, PolicyEntry>();
  /** The last authorization pass, to patch when only a few policies changed (policies-delta.ts). */
  authz: AuthzMemo | undefined;
  routes = new Map<string, RouteMemo>();
  /** The last compileServices pass, to patch when a few entries changed in place (services-delta.ts). */
  servicesLast: ServicesMemo | undefined;
  /** The last route pass, to patch when a few hosts or VirtualServices changed (routes-delta.ts). */
  routesLast: RoutesMemo | undefined;
  /** The route index over the VirtualServices (no HTTPRoutes) it was built from (routes.ts). */
  routeIndex: { readonly vss: readonly Resource[]; readonly index: RouteIndex } | undefined;
  /** The last host table compileServices built: an unchanged host keeps its port map (services.ts). */
  hosts: HostTable | undefined;
  /** Each VirtualService's last status entry, kept while equal (routes.ts). */
  vsStatus = new WeakMap<Resource, VirtualServiceStatus>();
  /** namespace/name/host -> its first-choice VIP slot (a hash of the key; never stale). */
  vipHashes = new Map<string, number>();
  #stages = new Map<string, { readonly inputs: readonly (readonly unknown[])[]; readonly out: unknown }>();

  /**
   * A whole compile stage, reused when each of its input lists holds the same objects as last time
   * (the resources of the kinds it reads, and the outputs of the stages it reads).
   */
  stage<T>(name: string, inputs: readonly (readonly unknown[])[], build: () => T): T {
    const before = this.#stages.get(name);
    if (before && before.inputs.length === inputs.length && before.inputs.every((list, i) => sameItems(list, inputs[i]!))) return before.out as T;
    const out = build();
    this.#stages.set(name, { inputs, out });
    return out;
  }

  /** Starts empty when the waypoint-wide inputs changed: every entry may depend on them. */
  begin(globalKey: string): void {
    if (globalKey === this.#global) return;
    this.#global = globalKey;
    this.bindings = new WeakMap();
    this.services = new WeakMap();
    this.policies = new WeakMap();
    this.policySets = new Map();
    this.policyEntries = new WeakMap();
    this.authz = undefined;
    this.routes = new Map();
    this.hosts = undefined;
    this.servicesLast = undefined;
    this.routeIndex = undefined;
    this.routesLast = undefined;
    this.vsStatus = new WeakMap();
    this.vipHashes = new Map();
    this.#stages = new Map();
  }
}

// Resources are immutable once parsed, so each one's digest is computed once: the snapshot version
// of a reload that re-parsed one file serialises one resource, not all of them.
const DIGESTS = new WeakMap<Resource, string>();

export function digestOf(r: Resource): string {
  let d = DIGESTS.get(r);
  if (d === undefined) {
    // One-shot hash(): a third of createHash()'s cost per small input (10,000 resources at start).
    d = hash('sha256', JSON.stringify([r.apiVersion, r.kind, r.metadata, r.spec, r.status ?? null]), 'base64');
    DIGESTS.set(r, d);
  }
  return d;
}

export function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
