// AuthorizationPolicy -> AuthzTable. PURE. Policies are indexed by target here, once: waypoint-wide
// (targetRefs Gateway = this waypoint, or GatewayClass istio-waypoint in the root namespace) and per
// ServiceEntry (targetRefs in the entry's namespace). `selector` policies are ztunnel's and skipped
// (validation warns). Matchers follow pilot/pkg/security/authz/model/generator.go.
import type { Resource } from '../config/resource.ts';
import { DRY_RUN_ANNOTATION } from '../config/kinds/authorization-policy.ts';
import { parseGoBool } from '../config/metadata.ts';
import type { AuthorizationPolicySpec, Condition, Operation, PolicyTargetReference, Rule, Source } from '../config/kinds/authorization-policy.ts';
import { CODES } from '../model/codes.ts';
import { formatPath } from '../model/diagnostic.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { AuthzTable, CompiledPolicy, CompiledRule, Constraint, PathNormalization, PolicySet } from '../model/policy.ts';
import type { Service, WaypointInfo } from '../model/snapshot.ts';
import { compileJwtRules, compileProviders, isRequestAuthentication, type ExtensionProviderConfig, type RA } from './authn.ts';
import { conditionConstraint, operationConstraints, sourceConstraints } from './policy-matchers.ts';
import type { CompiledJwtRule } from '../model/authn.ts';
import { CompileMemo, sameItems, type PolicySetMemo } from './memo.ts';
import { policySet, sortByEnvoyName } from './policy-set.ts';
import { patchAuthz, type AuthzMemo, type JwtTargets, type PolicyEntry, type TargetLookup } from './policies-delta.ts';

export interface AuthzOptions {
  readonly waypoint: Pick<WaypointInfo, 'namespace' | 'name'>;
  readonly services: readonly Pick<Service, 'key' | 'namespace' | 'name'>[];
  /** Istio's root namespace, where GatewayClass-targeted policies live. Default `istio-system`. */
  readonly rootNamespace?: string;
  /** `namespace/name` of every Gateway and ServiceEntry in the config, to tell a missing target (IST0101) from one served elsewhere. */
  readonly known?: { readonly gateways: readonly string[]; readonly serviceEntries: readonly string[] };
  /** meshConfig extensionProviders, for CUSTOM policies. */
  readonly extensionProviders?: readonly ExtensionProviderConfig[];
  /** meshConfig gatewayTopology.numTrustedProxies (or --num-trusted-proxies). */
  readonly numTrustedProxies?: number;
  /** meshConfig pathNormalization.normalization; BASE when absent. */
  readonly pathNormalization?: PathNormalization;
}

export interface AuthzResult {
  readonly authz: AuthzTable;
  readonly diagnostics: Diagnostic[];
}

type AP = Resource<AuthorizationPolicySpec>;
/** What targeting reads, common to AuthorizationPolicy and RequestAuthentication. */
type Targeted = Resource<Pick<AuthorizationPolicySpec, 'selector' | 'targetRef' | 'targetRefs'>>;

export function isAuthorizationPolicy(r: Resource): r is AP {
  return r.kind === 'AuthorizationPolicy' && r.group === 'security.istio.io';
}

export function compileAuthz(resources: readonly Resource[], options: AuthzOptions, memo = new CompileMemo()): AuthzResult {
  const aps = resources.filter(isAuthorizationPolicy);
  const ras = resources.filter(isRequestAuthentication);
  const root = options.rootNamespace ?? 'istio-system';
  // A few policies changed and nothing else: patch the last table (policies-delta.ts).
  // Targeting reads the services' keys and every ServiceEntry's name (IST0101): a changed
  // ServiceEntry that keeps its name changes neither, and every policy keeps its entry (the token
  // stays the list the entries were made against).
  const last = memo.authz;
  const token = last && sameTargets(last, options) ? last.services : options.services;
  const patched = last && patchAuthz(last, aps, ras, token, (ap) => policyEntry(ap as AP, token, last.lookup, root, memo), policySetEntry, memo.policySets);
  if (patched) {
    memo.counts.authzPatched++;
    return (memo.authz = patched).result;
  }
  const diagnostics: Diagnostic[] = [];
  const waypointWide: CompiledPolicy[] = [];
  const perService = new Map<string, CompiledPolicy[]>(options.services.map((s) => [s.key, []]));
  const all: CompiledPolicy[] = [];
  const providers = compileProviders(options.extensionProviders, diagnostics);
  const head = [...diagnostics];
  const targets = last?.services === token ? last.lookup : targetLookup(options, providers);
  for (const ap of aps) {
    const entry = policyEntry(ap, token, targets, root, memo);
    diagnostics.push(...entry.diagnostics);
    if (!entry.policy) continue;
    all.push(entry.policy);
    if (entry.waypoint) waypointWide.push(entry.policy);
    else for (const key of entry.services) perService.get(key)!.push(entry.policy);
  }
  const beforeJwt = diagnostics.length;
  const jwt = jwtByTarget(ras, targets, root, diagnostics);
  const tail = diagnostics.slice(beforeJwt);
  const services = new Map<string, PolicySet>();
  const sets = new Map<string, PolicySetMemo>();
  for (const [key, list] of perService) {
    const entry = policySetEntry(memo.policySets.get(key), [...waypointWide, ...list], [...jwt.waypoint, ...(jwt.services.get(key) ?? [])]);
    sets.set(key, entry);
    services.set(key, entry.set);
  }
  memo.policySets = sets;
  sortByEnvoyName(all);
  const result = {
    authz: { waypoint: policySet(waypointWide, jwt.waypoint), services, policies: all, providers, numTrustedProxies: options.numTrustedProxies ?? 0, pathNormalization: options.pathNormalization ?? 'BASE' },
    diagnostics,
  };
  memo.authz = { aps, ras, services: token, keys: options.services.map((s) => s.key), known: options.known?.serviceEntries, lookup: targets, waypointWide, jwt, head, tail, result };
  return result;
}

function sameTargets(last: AuthzMemo, options: AuthzOptions): boolean {
  const known = options.known?.serviceEntries;
  return last.keys.length === options.services.length && options.services.every((s, i) => s.key === last.keys[i])
    && (known === last.known || (!!known && !!last.known && sameItems(known, last.known)));
}

/** A service's PolicySet, the last one when its policies and JWT rules are the same objects. */
export function policySetEntry(before: PolicySetMemo | undefined, policies: readonly CompiledPolicy[], jwt: readonly CompiledJwtRule[]): PolicySetMemo {
  return before && sameItems(before.policies, policies) && sameItems(before.jwt, jwt) ? before : { policies, jwt, set: policySet(policies, jwt) };
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * What one AuthorizationPolicy contributes: its targets, its compiled policy (none when it applies to
 * nothing here) and its diagnostics in the order a full pass emits them. Kept per policy object
 * while the services it can target are the same list.
 */
function policyEntry(ap: AP, services: AuthzOptions['services'], lookup: TargetLookup, root: string, memo: CompileMemo): PolicyEntry {
  const before = memo.policyEntries.get(ap);
  if (before?.context === services) return before;
  const diagnostics: Diagnostic[] = [];
  let entry: PolicyEntry = { context: services, waypoint: false, services: NONE, diagnostics };
  if (!ap.spec.selector) {
    const targets = targetsOf(ap, lookup, root, diagnostics);
    if (targets.waypoint || targets.services.length > 0) {
      const policy = compiledPolicy(ap, targets.waypoint ? 'waypoint' : 'service', diagnostics, memo);
      if (policy.provider && !lookup.providers.has(policy.provider)) {
        diagnostics.push(warn(ap, ['spec', 'provider', 'name'], `provider ${policy.provider} is not an envoyExtAuthzHttp provider in meshConfig extensionProviders; as in Istio, the policy denies every request it matches`, 'add the provider to --mesh-config extensionProviders, or fix the name'));
      }
      entry = { ...entry, waypoint: targets.waypoint, services: targets.services.length > 0 ? targets.services : NONE, policy };
    }
  }
  // Kept for every policy: most have no diagnostics, and share one empty list.
  if (diagnostics.length === 0) entry = { ...entry, diagnostics: NONE };
  memo.policyEntries.set(ap, entry);
  return entry;
}

/** RequestAuthentications attach like AuthorizationPolicies; jwtRules of all that apply are merged. */
function jwtByTarget(ras: readonly RA[], options: TargetLookup, root: string, diagnostics: Diagnostic[]): JwtTargets {
  const waypoint: CompiledJwtRule[] = [];
  const services = new Map<string, CompiledJwtRule[]>();
  for (const ra of ras) {
    if (ra.spec.selector) continue;
    const targets = targetsOf(ra, options, root, diagnostics);
    const rules = compileJwtRules(ra);
    if (targets.waypoint) waypoint.push(...rules);
    else for (const key of targets.services) services.set(key, [...(services.get(key) ?? []), ...rules]);
  }
  return { waypoint, services };
}

function targetLookup(options: AuthzOptions, providers: ReadonlyMap<string, unknown>): TargetLookup {
  const { known } = options;
  return {
    waypoint: options.waypoint,
    services: new Set(options.services.map((s) => s.key)),
    providers: new Set(providers.keys()),
    ...(known ? { known: { gateways: new Set(known.gateways), serviceEntries: new Set(known.serviceEntries) } } : {}),
  };
}

function targetsOf(ap: Targeted, options: TargetLookup, root: string, diagnostics: Diagnostic[]): { waypoint: boolean; services: string[] } {
  const ns = ap.metadata.namespace;
  const refs: PolicyTargetReference[] = [...(ap.spec.targetRef ? [ap.spec.targetRef] : []), ...(ap.spec.targetRefs ?? [])];
  let waypoint = false;
  const services: string[] = [];
  refs.forEach((ref, i) => {
    const kind = `${ref.group ?? ''}/${ref.kind}`;
    const at = ['spec', ap.spec.targetRef ? 'targetRef' : 'targetRefs', ...(ap.spec.targetRef ? [] : [i])];
    if (kind === 'gateway.networking.k8s.io/Gateway') {
      waypoint ||= ns === options.waypoint.namespace && ref.name === options.waypoint.name;
      if (options.known && !options.known.gateways.has(`${ns}/${ref.name}`)) diagnostics.push(missing(ap, at, 'Gateway', `${ns}/${ref.name}`));
    } else if (kind === 'gateway.networking.k8s.io/GatewayClass' && ref.name === 'istio-waypoint') {
      if (ns === root) waypoint = true;
      else diagnostics.push(warn(ap, at, `a policy targeting GatewayClass istio-waypoint applies only in the root namespace ${root}; this one in ${ns} is ignored`, `move it to namespace ${root}, or target the waypoint Gateway`));
    } else if (kind === 'networking.istio.io/ServiceEntry') {
      const key = `${ns}/${ref.name}`;
      if (options.services.has(key)) services.push(key);
      else if (options.known && !options.known.serviceEntries.has(key)) diagnostics.push(missing(ap, at, 'ServiceEntry', key));
    }
  });
  return { waypoint, services };
}

// A compiled policy depends on the policy and its scope only; its diagnostics are replayed (memo.ts).
function compiledPolicy(ap: AP, scope: 'waypoint' | 'service', diagnostics: Diagnostic[], memo: CompileMemo): CompiledPolicy {
  const before = memo.policies.get(ap);
  if (before?.scope === scope) {
    diagnostics.push(...before.diagnostics);
    return before.policy;
  }
  const mine: Diagnostic[] = [];
  const policy = compilePolicy(ap, scope, mine);
  memo.policies.set(ap, { scope, policy, diagnostics: mine });
  diagnostics.push(...mine);
  return policy;
}

function compilePolicy(ap: AP, scope: 'waypoint' | 'service', diagnostics: Diagnostic[]): CompiledPolicy {
  const { namespace, name } = ap.metadata;
  const action = ap.spec.action ?? 'ALLOW';
  const rules = (ap.spec.rules ?? []).map((r, i) => compileRule(r, i, namespace, name, (c) => {
    diagnostics.push(warn(ap, ['spec', 'rules', i, 'when'], `condition key ${c.key} reads Envoy filter metadata Egressway does not have; it never matches`, 'remove the condition'));
  }));
  rules.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    key: `${namespace}/${name}`, namespace, name, action, scope, rules,
    dryRun: parseGoBool(ap.metadata.annotations[DRY_RUN_ANNOTATION] ?? '') === true,
    ...(action === 'CUSTOM' && ap.spec.provider?.name ? { provider: ap.spec.provider.name } : {}),
  };
}

function compileRule(rule: Rule, index: number, ns: string, policy: string, unsupported: (c: Condition) => void): CompiledRule {
  const from = rule.from?.map((f, j) => sourceConstraints(f.source ?? ({} as Source), `from[${j}].source`, ns));
  const to = rule.to?.map((t, j) => operationConstraints(t.operation ?? ({} as Operation), `to[${j}].operation`));
  const when = (rule.when ?? []).flatMap((c, j) => {
    if (c.key.startsWith('experimental.')) unsupported(c);
    return conditionConstraint(c, `when[${j}]`, ns);
  });
  const every: Constraint[] = [...(from ?? []).flat(), ...(to ?? []).flat(), ...when];
  const httpFields = [...new Set(every.filter((c) => c.http).map((c) => c.field))];
  return {
    index, name: `ns[${ns}]-policy[${policy}]-rule[${index}]`,
    ...(from ? { from } : {}), ...(to ? { to } : {}), when, http: httpFields.length > 0, httpFields,
  };
}

/** IST0101 as a warning: the policy is accepted but applies to nothing until the target exists. */
function missing(r: Targeted, path: (string | number)[], kind: string, key: string): Diagnostic {
  return { ...warn(r, path, `${r.kind} targets ${kind} ${key}, which does not exist; the policy applies to nothing`, `create the ${kind}, or fix targetRefs (same namespace as the policy)`), code: CODES.ReferencedResourceNotFound.code };
}

function warn(ap: Targeted, path: (string | number)[], message: string, hint: string): Diagnostic {
  const loc = ap.locate(path);
  return {
    code: CODES.SchemaWarning.code, level: 'warning', message, hint,
    resource: { kind: ap.kind, namespace: ap.metadata.namespace, name: ap.metadata.name },
    file: loc.file, line: loc.line, column: loc.column,
    path: formatPath(path),
  };
}
