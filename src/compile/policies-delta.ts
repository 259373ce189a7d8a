// The authorization table after a few AuthorizationPolicies changed, from the last one (issue 16):
// only the services those policies target get a new PolicySet, the table's maps are copies with
// those entries replaced, and the sorted policy list has the changed policies taken out and put back
// in by name. Anything wider falls back to the full pass in policies.ts (which reuses each policy's
// compiled entry): a changed waypoint-wide policy (it is in every set), a changed
// RequestAuthentication or service list, or more than a few policies at once. test/compile/incremental.test.ts compares both.
import type { Resource } from '../config/resource.ts';
import type { CompiledJwtRule } from '../model/authn.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { AuthzTable, CompiledPolicy, PolicySet } from '../model/policy.ts';
import type { Service, WaypointInfo } from '../model/snapshot.ts';
import { sameItems } from './memo.ts';
import { envoyPrefix } from './policy-set.ts';
import { insertSorted, listChanges } from './sorted-input.ts';

/** Sets, not arrays: each policy looks its targets up (a scan per policy was quadratic at 1,000s). */
export interface TargetLookup {
  readonly waypoint: Pick<WaypointInfo, 'namespace' | 'name'>;
  readonly services: ReadonlySet<string>;
  readonly known?: { readonly gateways: ReadonlySet<string>; readonly serviceEntries: ReadonlySet<string> };
  /** Valid CUSTOM providers. */
  readonly providers: ReadonlySet<string>;
}

export interface JwtTargets {
  readonly waypoint: CompiledJwtRule[];
  readonly services: Map<string, CompiledJwtRule[]>;
}

type Services = readonly Pick<Service, 'key' | 'namespace' | 'name'>[];

/** What one policy contributes (policies.ts policyEntry); valid while `context` is the service list. */
export interface PolicyEntry {
  readonly context: Services;
  readonly waypoint: boolean;
  readonly services: readonly string[];
  readonly policy?: CompiledPolicy;
  readonly diagnostics: readonly Diagnostic[];
}

/** The last authorization pass: its inputs, its intermediate lists, its result. */
export interface AuthzMemo {
  readonly aps: readonly Resource[];
  readonly ras: readonly Resource[];
  /** The service list the policy entries were made against (their validity token). */
  readonly services: Services;
  /** Its keys, and every ServiceEntry's namespace/name: what targeting reads (policies.ts sameTargets). */
  readonly keys: readonly string[];
  readonly known: readonly string[] | undefined;
  readonly lookup: TargetLookup;
  readonly waypointWide: readonly CompiledPolicy[];
  readonly jwt: JwtTargets;
  /** Diagnostics before the policies' (extension providers) and after them (RequestAuthentications). */
  readonly head: readonly Diagnostic[];
  readonly tail: readonly Diagnostic[];
  readonly result: { readonly authz: AuthzTable; readonly diagnostics: Diagnostic[] };
}

/** Beyond this many changed policies the full pass is as cheap. */
const MAX_CHANGED = 32;

type SetEntry = (before: { readonly policies: readonly CompiledPolicy[]; readonly jwt: readonly CompiledJwtRule[]; readonly set: PolicySet } | undefined,
  policies: readonly CompiledPolicy[], jwt: readonly CompiledJwtRule[]) => { readonly policies: readonly CompiledPolicy[]; readonly jwt: readonly CompiledJwtRule[]; readonly set: PolicySet };

/**
 * The table for `aps`, patched from `last`; undefined when the change is not a few service-scoped
 * policies without diagnostics (the caller then runs the full pass). `entryOf` compiles (or recalls)
 * one policy's entry; `setEntry` builds a service's PolicySet (policies.ts policySetEntry).
 */
export function patchAuthz(
  last: AuthzMemo, aps: readonly Resource[], ras: readonly Resource[], services: Services,
  entryOf: (ap: Resource) => PolicyEntry, setEntry: SetEntry, sets: Map<string, ReturnType<SetEntry>>,
): AuthzMemo | undefined {
  if (last.services !== services || !sameItems(last.ras, ras)) return undefined;
  const change = listChanges(last.aps, aps);
  if (change.removed.length + change.added.length > MAX_CHANGED) return undefined;
  if (change.removed.length === 0 && change.added.length === 0) return { ...last, aps };
  const removed = change.removed.map(entryOf);
  const added = change.added.map(entryOf);
  const changed = [...removed, ...added];
  if (changed.some((e) => e.context !== services || e.waypoint)) return undefined;
  const gone = new Set(removed.flatMap((e) => (e.policy ? [e.policy] : [])));
  const table = new Map(last.result.authz.services);
  const touched = new Set(changed.flatMap((e) => (e.policy ? e.services : [])));
  for (const key of touched) {
    // A set's policies are the waypoint-wide ones, then the service's own (any order: policySet sorts).
    const list = (sets.get(key)?.policies.slice(last.waypointWide.length) ?? []).filter((p) => !gone.has(p));
    for (const e of added) if (e.policy && e.services.includes(key)) list.push(e.policy);
    const entry = setEntry(sets.get(key), [...last.waypointWide, ...list], [...last.jwt.waypoint, ...(last.jwt.services.get(key) ?? [])]);
    sets.set(key, entry);
    table.set(key, entry.set);
  }
  const policies = resorted(last.result.authz.policies, gone, added.flatMap((e) => (e.policy ? [e.policy] : [])));
  if (!policies) return undefined;
  // Diagnostics follow the policies' order: the last list stands unless a changed policy has some.
  const diagnostics = changed.some((e) => e.diagnostics.length > 0)
    ? [...last.head, ...aps.flatMap((ap) => entryOf(ap).diagnostics), ...last.tail] : last.result.diagnostics;
  const result = { authz: { ...last.result.authz, services: table, policies }, diagnostics };
  return { ...last, aps, result };
}

/** `sorted` (by Envoy name) without `gone` and with `added`; undefined when a name repeats. */
function resorted(sorted: readonly CompiledPolicy[], gone: ReadonlySet<CompiledPolicy>, added: readonly CompiledPolicy[]): CompiledPolicy[] | undefined {
  const out = gone.size > 0 ? sorted.filter((p) => !gone.has(p)) : [...sorted];
  for (const p of added) if (!insertSorted(out, p, envoyPrefix)) return undefined;
  return out;
}
