// Istio AuthorizationPolicy (security.istio.io v1, v1beta1). The wire type mirrors the YAML field names
// of security/v1beta1/authorization_policy.proto exactly; the rules (reference §6.2) live in
// authorization-policy-rules.ts. `action` is left unset when unset (proto3 zero value = ALLOW).
import type { Diagnostic } from '../../model/diagnostic.ts';
import type { Resource } from '../resource.ts';
import { s } from '../schema.ts';
import { authorizationPolicyRules } from './authorization-policy-rules.ts';
import { validateKind } from './common.ts';
import type { ValidationOptions } from './common.ts';

export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
export const ACTIONS: readonly AuthorizationAction[] = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'];
export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';

export interface PolicyTargetReference {
  readonly group?: string;
  readonly kind: string;
  readonly name: string;
  /** Must be empty: Istio forbids cross-namespace targets. */
  readonly namespace?: string;
}

export interface AuthorizationPolicySpec {
  readonly selector?: { readonly matchLabels?: Readonly<Record<string, string>> };
  readonly targetRef?: PolicyTargetReference;
  readonly targetRefs?: readonly PolicyTargetReference[];
  readonly rules?: readonly Rule[];
  readonly action?: AuthorizationAction;
  readonly provider?: { readonly name?: string };
}

export interface Rule {
  readonly from?: readonly { readonly source?: Source }[];
  readonly to?: readonly { readonly operation?: Operation }[];
  readonly when?: readonly Condition[];
}

export interface Source {
  readonly principals?: readonly string[];
  readonly notPrincipals?: readonly string[];
  readonly requestPrincipals?: readonly string[];
  readonly notRequestPrincipals?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly notNamespaces?: readonly string[];
  readonly serviceAccounts?: readonly string[];
  readonly notServiceAccounts?: readonly string[];
  readonly ipBlocks?: readonly string[];
  readonly notIpBlocks?: readonly string[];
  readonly remoteIpBlocks?: readonly string[];
  readonly notRemoteIpBlocks?: readonly string[];
  readonly trustDomains?: readonly string[];
  readonly notTrustDomains?: readonly string[];
}

export interface Operation {
  readonly hosts?: readonly string[];
  readonly notHosts?: readonly string[];
  readonly ports?: readonly string[];
  readonly notPorts?: readonly string[];
  readonly methods?: readonly string[];
  readonly notMethods?: readonly string[];
  readonly paths?: readonly string[];
  readonly notPaths?: readonly string[];
}

export interface Condition {
  readonly key: string;
  readonly values?: readonly string[];
  readonly notValues?: readonly string[];
}

export const SOURCE_FIELDS = [
  'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces',
  'serviceAccounts', 'notServiceAccounts', 'ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks',
  'trustDomains', 'notTrustDomains',
] as const satisfies readonly (keyof Source)[];

export const OPERATION_FIELDS = [
  'hosts', 'notHosts', 'ports', 'notPorts', 'methods', 'notMethods', 'paths', 'notPaths',
] as const satisfies readonly (keyof Operation)[];

const strings = s.array(s.string());
const targetRefSchema = s.object({ group: s.string(), kind: s.string(), name: s.string(), namespace: s.string() }, { required: ['kind'] });
const fieldsOf = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, strings]));

const shape = {
  spec: s.object({
    selector: s.object({ matchLabels: s.map(s.string()) }),
    targetRef: targetRefSchema,
    targetRefs: s.array(targetRefSchema),
    rules: s.array(s.object({
      from: s.array(s.object({ source: s.object(fieldsOf(SOURCE_FIELDS)) })),
      to: s.array(s.object({ operation: s.object(fieldsOf(OPERATION_FIELDS)) })),
      when: s.array(s.object({ key: s.string(), values: strings, notValues: strings }, { required: ['key'] })),
    })),
    action: s.string(ACTIONS),
    provider: s.object({ name: s.string() }),
  }),
  status: s.object({}, { open: true }),
};

export function validateAuthorizationPolicy(r: Resource, options: ValidationOptions = {}): Diagnostic[] {
  return validateKind<AuthorizationPolicySpec>(r, shape, authorizationPolicyRules, options);
}
