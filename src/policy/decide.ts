// decide(): PURE. The AuthorizationPolicy evaluation order of an Istio waypoint, in one function.
// CUSTOM needs a network call, so decide() returns the providers to call and the caller executes them
// before it enforces the rest (ext-authz runs first in Envoy's filter chain, then RBAC).
import type { AuthzTable, CompiledPolicy, CompiledRule, PolicySet } from '../model/policy.ts';
import { matchRule, viewOf } from './match.ts';
import type { RequestView } from './match.ts';
import type { AuthzRequest } from './request.ts';

export type { AuthzRequest } from './request.ts';

export const DENIED_NONE = 'rbac_access_denied_matched_policy[none]';

export interface TraceEntry {
  /** `namespace/name`. */
  readonly policy: string;
  readonly action: CompiledPolicy['action'];
  readonly scope: CompiledPolicy['scope'];
  readonly dryRun: boolean;
  readonly matched: boolean;
  readonly rule?: number;
  /** Per rule: matched, or the first condition that did not. */
  readonly why: readonly string[];
}

export interface CustomCall {
  /** meshConfig extensionProviders[].name to ask. */
  readonly provider: string;
  readonly policy: string;
  readonly rule: number;
}

export interface Decision {
  readonly allow: boolean;
  /** The action that decided: DENY or ALLOW matched, or NONE (no ALLOW policy, or default deny). */
  readonly action: 'ALLOW' | 'DENY' | 'CUSTOM' | 'NONE';
  readonly reason: string;
  readonly policy?: string;
  readonly rule?: number;
  /** Envoy's response_code_details / connection_termination_details on deny; '' on allow. */
  readonly details: string;
  /** CUSTOM policies that matched: the caller must call each provider and deny if one denies. */
  readonly customProviders: readonly CustomCall[];
  /** Shadow result of `istio.io/dry-run` policies: logged and counted, never enforced. */
  readonly dryRun?: { readonly wouldDeny: boolean; readonly details: string; readonly policy?: string };
  /** An AUDIT policy matched: the request is marked for audit sinks. */
  readonly audit?: boolean;
  /** `namespace/name` of the AUDIT policy that matched. */
  readonly auditPolicy?: string;
  readonly trace: readonly TraceEntry[];
}

interface Hit {
  readonly policy: CompiledPolicy;
  readonly rule: CompiledRule;
}

/**
 * `serviceKey` is the ServiceEntry `namespace/name` the request was routed to, or undefined for
 * traffic outside the registry (ALLOW_ANY passthrough), which only waypoint-wide policies see.
 */
export function decide(authz: AuthzTable, serviceKey: string | undefined, req: AuthzRequest): Decision {
  const set = (serviceKey !== undefined ? authz.services.get(serviceKey) : undefined) ?? authz.waypoint;
  const v = viewOf(req);
  const trace: TraceEntry[] = [];
  // 0. AUDIT never changes the decision; a match only marks the request.
  const audited = firstMatch(set.audit, v, false, trace);
  const audit = audited !== undefined;
  // 1. CUSTOM: every matching CUSTOM policy's provider is asked first; a provider's deny is final.
  const customProviders = customCalls(set, v, trace);
  const dryRun = shadow(set, v, trace);
  const common = { customProviders, trace, ...(dryRun ? { dryRun } : {}), ...(audited ? { audit, auditPolicy: audited.policy.key } : {}) };
  // 2. DENY: any matching DENY rule denies, named by its policy and rule.
  const denied = firstMatch(set.deny, v, false, trace);
  if (denied) return { ...common, ...denyBy(denied) };
  // 3. No ALLOW policy applies to the target: allow.
  if (set.allow.length === 0) {
    return { ...common, allow: true, action: 'NONE', details: '', reason: 'no ALLOW policy applies to this target; allowed by default' };
  }
  // 4. Any matching ALLOW rule allows.
  const allowed = firstMatch(set.allow, v, true, trace);
  if (allowed) {
    const p = allowed.policy.key;
    return { ...common, allow: true, action: 'ALLOW', policy: p, rule: allowed.rule.index, details: '', reason: `allowed by ALLOW policy ${p} rule ${allowed.rule.index}` };
  }
  // 5. ALLOW policies apply and none matched: default deny.
  const names = set.allow.map((p) => p.key).join(', ');
  return { ...common, allow: false, action: 'NONE', details: DENIED_NONE, reason: `denied: no rule of the ALLOW policies that apply (${names}) matched` };
}

function denyBy(hit: Hit): Pick<Decision, 'allow' | 'action' | 'policy' | 'rule' | 'details' | 'reason'> {
  const p = hit.policy;
  return {
    allow: false, action: 'DENY', policy: p.key, rule: hit.rule.index,
    details: `rbac_access_denied_matched_policy[${hit.rule.name}]`,
    reason: `denied by DENY policy ${p.key} rule ${hit.rule.index}`,
  };
}

/** The first (policy, rule) in Envoy order that matches; records every policy it looked at. */
function firstMatch(policies: readonly CompiledPolicy[], v: RequestView, isAllow: boolean, trace: TraceEntry[]): Hit | undefined {
  let hit: Hit | undefined;
  for (const policy of policies) {
    const why: string[] = [];
    let matched: CompiledRule | undefined;
    for (const rule of policy.rules) {
      const r = matchRule(rule, v, isAllow);
      why.push(r.why);
      if (r.matched) { matched = rule; break; }
    }
    if (policy.rules.length === 0) why.push('no rules: never matches');
    trace.push({ policy: policy.key, action: policy.action, scope: policy.scope, dryRun: policy.dryRun, matched: !!matched, ...(matched ? { rule: matched.index } : {}), why });
    if (matched && !hit) hit = { policy, rule: matched };
    if (hit) break;
  }
  return hit;
}

function customCalls(set: PolicySet, v: RequestView, trace: TraceEntry[]): CustomCall[] {
  const calls: CustomCall[] = [];
  for (const policy of set.custom) {
    const hit = firstMatch([policy], v, false, trace);
    if (hit && policy.provider && !calls.some((c) => c.provider === policy.provider)) {
      calls.push({ provider: policy.provider, policy: policy.key, rule: hit.rule.index });
    }
  }
  return calls;
}

/** Istio's shadow engines: dry-run DENY policies, then dry-run ALLOW policies, as if enforced alone. */
function shadow(set: PolicySet, v: RequestView, trace: TraceEntry[]): Decision['dryRun'] {
  if (set.dryRunDeny.length === 0 && set.dryRunAllow.length === 0) return undefined;
  const denied = firstMatch(set.dryRunDeny, v, false, trace);
  if (denied) return { wouldDeny: true, details: `rbac_access_denied_matched_policy[${denied.rule.name}]`, policy: denied.policy.key };
  if (set.dryRunAllow.length === 0) return { wouldDeny: false, details: '' };
  const allowed = firstMatch(set.dryRunAllow, v, true, trace);
  return allowed ? { wouldDeny: false, details: '', policy: allowed.policy.key } : { wouldDeny: true, details: DENIED_NONE };
}

/** Applies a CUSTOM provider's answer: a deny (or an unreachable provider without failOpen) is final. */
export function customDenied(decision: Decision, call: CustomCall, error = false): Decision {
  return {
    ...decision, allow: false, action: 'CUSTOM', policy: call.policy, rule: call.rule,
    details: error ? 'ext_authz_error' : 'ext_authz_denied',
    reason: `${error ? 'authorization server unreachable for' : 'denied by'} CUSTOM provider ${call.provider} (policy ${call.policy} rule ${call.rule})`,
  };
}
