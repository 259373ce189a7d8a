// Authorization at request time (src/policy/decide.ts) over tables compiled by the real compiler
// (src/compile/policies.ts) from arbitrary AuthorizationPolicy specs: never throws, and the
// evaluation order of Istio (CUSTOM, DENY, ALLOW, default) shows in metamorphic properties.
import fc from 'fast-check';
import { compileAuthz } from '../../../src/compile/policies.ts';
import type { Resource } from '../../../src/config/resource.ts';
import type { AuthzTable } from '../../../src/model/policy.ts';
import { decide } from '../../../src/policy/decide.ts';
import type { AuthzRequest, Decision } from '../../../src/policy/decide.ts';
import { authzRequest, policySpec } from '../../helpers/arbitraries.ts';
import { fuzzProperty } from '../property.ts';

const WAYPOINT = { namespace: 'egress', name: 'waypoint' };
const SERVICE = { key: 'egress/api', namespace: 'egress', name: 'api' };

type Spec = Record<string, unknown> & { dryRun?: string };

/** A Resource as parse + validate hand it to compile, targeting the waypoint or the ServiceEntry. */
function policyResource(spec: Spec, i: number, target: 'waypoint' | 'service'): Resource {
  const { dryRun, ...rest } = spec;
  const targetRefs = target === 'waypoint'
    ? [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' }]
    : [{ group: 'networking.istio.io', kind: 'ServiceEntry', name: 'api' }];
  const at = { file: 'fuzz.yaml', line: 1, column: 1 };
  return {
    apiVersion: 'security.istio.io/v1', group: 'security.istio.io', version: 'v1', kind: 'AuthorizationPolicy',
    metadata: { name: `p${i}`, namespace: 'egress', labels: {}, annotations: dryRun ? { 'istio.io/dry-run': dryRun } : {} },
    spec: { ...rest, targetRefs }, source: at, locate: () => at,
  };
}

function table(specs: readonly Spec[], extra: readonly Spec[] = []): AuthzTable {
  // Every third generated policy targets the ServiceEntry; the extra ones are waypoint-wide (they apply to all).
  const resources = [...specs.map((s, i) => policyResource(s, i, i % 3 === 2 ? 'service' : 'waypoint')),
    ...extra.map((s, i) => policyResource(s, specs.length + i, 'waypoint'))];
  return compileAuthz(resources, { waypoint: WAYPOINT, services: [SERVICE], known: { gateways: ['egress/waypoint'], serviceEntries: ['egress/api'] } }).authz;
}

const policies = fc.array(policySpec as fc.Arbitrary<Spec>, { maxLength: 5 });
const serviceKey = fc.constantFrom(undefined, 'egress/api', 'egress/unknown');

/** A DENY rule that matches `req`: its method when it has one without wildcards, else `{}` (matches all). */
function denyMatching(req: AuthzRequest): Spec {
  const m = req.method;
  const rule = req.protocol === 'http' && m && !m.includes('*') ? { to: [{ operation: { methods: [m] } }] } : {};
  return { action: 'DENY', rules: [rule] };
}

const enforced = (d: Decision) => ({ allow: d.allow, action: d.action, policy: d.policy, rule: d.rule, details: d.details });

export const properties = [
  fuzzProperty('decide: never throws; the decision is consistent with itself', fc.property(policies, serviceKey, authzRequest, (ps, key, req) => {
    const d = decide(table(ps), key, req as AuthzRequest);
    if (d.allow !== (d.details === '')) throw new Error(`allow ${d.allow} with details ${JSON.stringify(d.details)}`);
    if (d.action === 'DENY' && (d.allow || !d.details.startsWith('rbac_access_denied_matched_policy['))) throw new Error(`DENY: ${d.reason}`);
    if (d.action === 'ALLOW' && !d.allow) throw new Error('ALLOW that denies');
    if (typeof d.reason !== 'string' || d.reason === '') throw new Error('no reason');
  }), 150),
  fuzzProperty('decide: a DENY that matches always wins, whatever ALLOW, AUDIT, CUSTOM or dry-run policies say', fc.property(policies, serviceKey, authzRequest, (ps, key, req) => {
    const d = decide(table(ps, [denyMatching(req as AuthzRequest)]), key, req as AuthzRequest);
    if (d.allow || d.action !== 'DENY') throw new Error(`${d.action} ${d.reason}`);
  }), 150),
  fuzzProperty('decide: adding policies of any kind never turns a DENY-matched request into an allowed one', fc.property(policies, policies, fc.boolean(), serviceKey, authzRequest, (ps, more, withDeny, key, req) => {
    const denying = withDeny ? [...ps, denyMatching(req as AuthzRequest)] : ps;
    const before = decide(table(denying), key, req as AuthzRequest);
    fc.pre(before.action === 'DENY');
    const after = decide(table(denying, more), key, req as AuthzRequest);
    if (after.allow) throw new Error(`allowed after adding ${more.length} policies: ${after.reason}`);
  }), 150),
  fuzzProperty('decide: dry-run and AUDIT policies never change what is enforced', fc.property(policies, policies, serviceKey, authzRequest, (ps, shadow, key, req) => {
    const base = ps.filter((p) => !p.dryRun && p.action !== 'AUDIT');
    const quiet = shadow.map((p) => (p.action === 'AUDIT' ? p : { ...p, dryRun: 'true' }));
    // Appended, so the enforced policies keep their names (p0, p1...) in both tables.
    const a = enforced(decide(table(base), key, req as AuthzRequest));
    const b = enforced(decide(table(base, quiet), key, req as AuthzRequest));
    if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${JSON.stringify(a)} became ${JSON.stringify(b)}`);
  }), 150),
  fuzzProperty('decide: with no DENY match, an ALLOW-everything rule allows', fc.property(policies, serviceKey, authzRequest, (ps, key, req) => {
    const base = ps.filter((p) => p.action !== 'DENY' || p.dryRun);
    const d = decide(table(base, [{ action: 'ALLOW', rules: [{}] }]), key, req as AuthzRequest);
    if (!d.allow) throw new Error(d.reason);
  }), 150),
];
