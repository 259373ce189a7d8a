// AuthorizationPolicy rules: Istio's ValidateAuthorizationPolicy, security.ValidateAttribute and the
// CRD's CEL rules, as listed in reference §6.2 and §2.3. Messages are Istio's where Istio has one, so
// users can search them. `rules: []` is treated as absent, as proto3 does; `from: []` is not (Istio
// checks `From != nil && len == 0`, which YAML `from: []` produces).
import type { Reporter } from '../diag.ts';
import { checkWorkloadSelector } from './label-selector.ts';
import { checkIpOrCidr } from '../names.ts';
import type { Path } from '../schema.ts';
import type { Rules } from './common.ts';
import { OPERATION_FIELDS, SOURCE_FIELDS } from './authorization-policy.ts';
import type { AuthorizationPolicySpec, Condition, Operation, PolicyTargetReference, Rule, Source } from './authorization-policy.ts';

const TARGET_KINDS = new Set(['/Service', 'networking.istio.io/ServiceEntry', 'gateway.networking.k8s.io/Gateway', 'gateway.networking.k8s.io/GatewayClass']);
const IDENTITY_FIELDS = ['principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces', 'serviceAccounts', 'notServiceAccounts', 'trustDomains', 'notTrustDomains'] as const;
const IDENTITY_KEYS = ['source.namespace', 'source.serviceAccount', 'source.principal', 'source.trustDomain'];
const HTTP_OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;

export const authorizationPolicyRules: Rules<AuthorizationPolicySpec> = (spec, _r, report) => {
  const action = spec.action ?? 'ALLOW';
  checkSelection(spec, report);
  checkActionShape(spec, action, report);
  (spec.rules ?? []).forEach((rule, i) => checkRule(rule, i, action, report));
  warnDenyHttpOnly(spec, action, report);
};

/** selector / targetRef / targetRefs rules shared by AuthorizationPolicy and RequestAuthentication. */
export function checkSelection(spec: Pick<AuthorizationPolicySpec, 'selector' | 'targetRef' | 'targetRefs'>, report: Reporter): void {
  const set = [spec.selector != null, spec.targetRef != null, (spec.targetRefs?.length ?? 0) > 0].filter(Boolean).length;
  if (set > 1) report.error(['spec'], 'only one of targetRefs or workloadSelector can be set', 'keep targetRefs for a waypoint; remove selector and targetRef');
  if (spec.selector) {
    checkWorkloadSelector(spec.selector.matchLabels, ['spec', 'selector'], report);
    report.warn(['spec', 'selector'], 'selector policies are enforced by ztunnel (L4) and ignored by a waypoint; this policy does not apply to traffic through Egressway', 'use targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: ...}] or the waypoint Gateway');
  }
  const refs = spec.targetRefs ?? [];
  if (refs.length > 16) report.error(['spec', 'targetRefs'], `targetRefs has ${refs.length} entries; at most 16 are allowed`, 'split the policy');
  if (spec.targetRef) checkTargetRef(spec.targetRef, ['spec', 'targetRef'], report);
  refs.forEach((ref, i) => checkTargetRef(ref, ['spec', 'targetRefs', i], report));
}

function checkTargetRef(ref: PolicyTargetReference, path: Path, report: Reporter): void {
  if (!ref.name) report.error([...path, 'name'], 'targetRef name must be set', 'name the Gateway, GatewayClass or ServiceEntry');
  if (ref.namespace) report.error([...path, 'namespace'], 'targetRef namespace must be empty: cross-namespace references are not allowed', 'remove namespace and put the policy in the target\'s namespace');
  if (!TARGET_KINDS.has(`${ref.group ?? ''}/${ref.kind}`)) {
    report.error(path, `targetRef must be to one of: core/Service, networking.istio.io/ServiceEntry, gateway.networking.k8s.io/Gateway or gateway.networking.k8s.io/GatewayClass; got ${ref.group ?? ''}/${ref.kind}`, 'set group and kind, e.g. {group: networking.istio.io, kind: ServiceEntry}');
  }
}

function checkActionShape(spec: AuthorizationPolicySpec, action: string, report: Reporter): void {
  const hasRules = (spec.rules?.length ?? 0) > 0;
  if (action === 'CUSTOM') {
    if (!hasRules) report.error(['spec', 'rules'], 'CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request', 'add rules: [{}]');
    if (!spec.provider?.name) report.error(['spec', 'provider'], 'must specify provider when using CUSTOM action', 'add provider: {name: <meshConfig extensionProviders name>}');
  } else if (spec.provider) {
    report.error(['spec', 'provider'], 'provider must not be set for ALLOW, DENY or AUDIT actions', 'remove provider, or use action: CUSTOM');
  }
  if (action === 'DENY' && !hasRules) {
    report.error(['spec', 'rules'], 'DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request', 'add rules: [{}]');
  }
}

function checkRule(rule: Rule, i: number, action: string, report: Reporter): void {
  const path: Path = ['spec', 'rules', i];
  if (rule.from && rule.from.length === 0) report.error([...path, 'from'], `\`from\` must not be empty, found at rule ${i}`, 'remove from, or add a source');
  rule.from?.forEach((f, j) => checkSource(f.source, [...path, 'from', j, 'source'], i, action, report));
  if (rule.to && rule.to.length === 0) report.error([...path, 'to'], `\`to\` must not be empty, found at rule ${i}`, 'remove to, or add an operation');
  rule.to?.forEach((t, j) => checkOperation(t.operation, [...path, 'to', j, 'operation'], i, report));
  rule.when?.forEach((c, j) => checkCondition(c, [...path, 'when', j], action, report));
}

function checkSource(src: Source | undefined, path: Path, i: number, action: string, report: Reporter): void {
  if (!src) return report.error(path, `\`from.source\` must not be nil, found at rule ${i}`, 'add source: {...}');
  if (!SOURCE_FIELDS.some((f) => (src[f]?.length ?? 0) > 0)) return report.error(path, `\`from.source\` must not be empty, found at rule ${i}`, 'add at least one field, or remove this from entry');
  checkEmptyValues(src, SOURCE_FIELDS, path, report);
  for (const f of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'] as const) checkIps(src[f], [...path, f], report);
  if ((src.serviceAccounts?.length || src.notServiceAccounts?.length) && (src.principals?.length || src.notPrincipals?.length || src.namespaces?.length || src.notNamespaces?.length)) {
    report.error(path, 'cannot set serviceAccounts with namespaces or principals', 'use serviceAccounts alone, or principals/namespaces alone');
  }
  for (const f of ['serviceAccounts', 'notServiceAccounts'] as const) checkServiceAccounts(src[f], [...path, f], report);
  for (const f of ['trustDomains', 'notTrustDomains'] as const) {
    src[f]?.forEach((td, k) => { const p = trustDomainProblem(td); if (p) report.error([...path, f, k], p, 'use exact, "*.suffix" or "prefix*" trust domains'); });
  }
  if (action === 'CUSTOM') {
    for (const f of IDENTITY_FIELDS) {
      if (src[f]?.length) report.error([...path, f], `${f} is not supported with CUSTOM action: identity is not available to the ext-authz filter, which runs before authentication`, 'move the identity condition into a DENY/ALLOW policy, or check it in the authorization server');
    }
  }
}

function checkOperation(op: Operation | undefined, path: Path, i: number, report: Reporter): void {
  if (!op) return report.error(path, `\`to.operation\` must not be nil, found at rule ${i}`, 'add operation: {...}');
  if (!OPERATION_FIELDS.some((f) => (op[f]?.length ?? 0) > 0)) return report.error(path, `\`to.operation\` must not be empty, found at rule ${i}`, 'add at least one field, or remove this to entry');
  checkEmptyValues(op, OPERATION_FIELDS, path, report);
  for (const f of ['ports', 'notPorts'] as const) checkPorts(op[f], [...path, f], report);
  for (const f of ['paths', 'notPaths'] as const) {
    op[f]?.forEach((p, k) => {
      const problem = pathTemplateProblem(p, f);
      if (problem) report.error([...path, f, k], problem, 'use {*} for one segment and {**} for any number, each alone in its segment, with only literal segments after {**}');
    });
  }
}

function checkCondition(c: Condition, path: Path, action: string, report: Reporter): void {
  if (!c.key) return report.error([...path, 'key'], '`key` must not be empty', 'set key, e.g. request.headers[x-team]');
  if (!c.values?.length && !c.notValues?.length) return report.error(path, `at least one of \`values\` or \`notValues\` must be set for key ${c.key}`, 'add values: [...]');
  const problem = attributeProblem(c.key);
  if (problem) return report.error([...path, 'key'], problem, 'use one of the keys in istio.io/latest/docs/reference/config/security/conditions');
  for (const f of ['values', 'notValues'] as const) {
    (c[f] ?? []).forEach((v, k) => { const p = valueProblem(c.key, v); if (p) report.error([...path, f, k], p, 'fix the value for this key'); });
  }
  if (action === 'CUSTOM' && (IDENTITY_KEYS.includes(c.key) || c.key.startsWith('request.auth.'))) {
    report.error([...path, 'key'], `key ${c.key} is not supported with CUSTOM action: identity is not available to the ext-authz filter`, 'move the condition into a DENY/ALLOW policy');
  }
}

/** Istio's ValidateAttribute: the key's shape. */
export function attributeProblem(key: string): string | undefined {
  if (key.startsWith('request.headers[')) return bracketed(key, 'request.headers') ? undefined : `invalid key ${key}: expected request.headers[<name>]`;
  if (key.startsWith('request.auth.claims[')) return /^request\.auth\.claims(\[[^[\]]+\])+$/.test(key) ? undefined : `invalid key ${key}: expected request.auth.claims[<claim>] or nested [a][b]`;
  if (key.startsWith('experimental.envoy.filters.')) return /^experimental\.envoy\.filters\.[^[]+\[[^[\]]+\]$/.test(key) ? undefined : `invalid key ${key}: expected experimental.envoy.filters.<filter>[<key>]`;
  if (key === 'destination.namespace') return `attribute ${key} is replaced by the metadata.namespace`;
  if (key.startsWith('destination.labels')) return `attribute ${key} is replaced by the workload selector`;
  if (key === 'destination.name' || key === 'destination.user') return `deprecated attribute ${key}: only supported in v1alpha1`;
  const known = ['source.ip', 'remote.ip', 'source.namespace', 'source.serviceAccount', 'source.principal', 'source.trustDomain', 'request.auth.principal', 'request.auth.audiences', 'request.auth.presenter', 'destination.ip', 'destination.port', 'connection.sni'];
  return known.includes(key) ? undefined : `unknown attribute (${key})`;
}

function bracketed(key: string, prefix: string): boolean {
  const rest = key.slice(prefix.length);
  return rest.length > 2 && rest.startsWith('[') && rest.endsWith(']') && !rest.slice(1, -1).includes('[');
}

function valueProblem(key: string, v: string): string | undefined {
  if (v === '') return `empty value not allowed, found in ${key}`;
  if (key === 'source.ip' || key === 'remote.ip' || key === 'destination.ip') return checkIpOrCidr(v);
  if (key === 'destination.port') return portProblem(v);
  if (key === 'source.serviceAccount') return serviceAccountProblem(v);
  if (key === 'source.trustDomain') return trustDomainProblem(v);
  return undefined;
}

function checkEmptyValues<T>(obj: T, fields: readonly (keyof T & string)[], path: Path, report: Reporter): void {
  for (const f of fields) {
    ((obj[f] as readonly string[] | undefined) ?? []).forEach((v, k) => { if (v === '') report.error([...path, f, k], `empty value not allowed, found in ${f}`, 'remove the empty string'); });
  }
}

function checkIps(values: readonly string[] | undefined, path: Path, report: Reporter): void {
  values?.forEach((v, k) => { const p = v === '' ? undefined : checkIpOrCidr(v); if (p) report.error([...path, k], p, 'use an IP (10.0.0.1) or a CIDR (10.0.0.0/8)'); });
}

function checkPorts(values: readonly string[] | undefined, path: Path, report: Reporter): void {
  values?.forEach((v, k) => { const p = v === '' ? undefined : portProblem(v); if (p) report.error([...path, k], p, 'use a port number 0-65535 as a string, e.g. "443"'); });
}

function portProblem(v: string): string | undefined {
  return /^\d{1,5}$/.test(v) && Number(v) <= 65535 ? undefined : `invalid port: ${v}`;
}

function checkServiceAccounts(values: readonly string[] | undefined, path: Path, report: Reporter): void {
  if (!values) return;
  if (values.length > 16) report.error(path, `serviceAccounts has ${values.length} entries; at most 16 are allowed`, 'split the rule');
  values.forEach((v, k) => { const p = v === '' ? undefined : serviceAccountProblem(v); if (p) report.error([...path, k], p, 'use "sa" (the policy\'s namespace) or "ns/sa"'); });
}

function serviceAccountProblem(v: string): string | undefined {
  if (v.includes('*')) return `wildcard is not supported in serviceAccounts: ${v}`;
  if (v.length > 320) return `service account ${v.slice(0, 20)}... is longer than 320 characters`;
  const parts = v.split('/');
  if (parts.length > 2 || parts.some((p) => p === '')) return `invalid service account ${v}: must be "sa" or "ns/sa"`;
  return undefined;
}

function trustDomainProblem(td: string): string | undefined {
  if (td.includes('/')) return `trust domain ${td} must not contain "/"`;
  const stars = td.split('*').length - 1;
  if (stars > 1 || (stars === 1 && !td.startsWith('*') && !td.endsWith('*'))) return `trust domain ${td}: at most one "*", only at the start or end`;
  return undefined;
}

// RFC 3986 pchar: what a literal segment of a templated path may hold (security.go validLiteral).
const VALID_LITERAL = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$/;

/**
 * security.go CheckValidPathTemplate: `{*}` and `{**}` each fill a whole segment, no template may
 * follow `{**}` (literals may: `/store/{**}/cart`), braces are invalid anywhere else, and in a
 * templated path every other segment must be a valid literal. Returns Istio's message, or undefined.
 */
export function pathTemplateProblem(raw: string, field: string): string | undefined {
  const templated = raw.includes('{*}') || raw.includes('{**}');
  const path = raw.replace(/^\/+|\/+$/g, '');
  let anySeen = false;
  for (const glob of path.split('/')) {
    if (glob === '{*}' || glob === '{**}') {
      if (anySeen) return `invalid or unsupported path ${path}, found in ${field}. {**} is not the last operator`;
      anySeen = glob === '{**}';
      continue;
    }
    if (/[{}]/.test(glob)) return `invalid or unsupported path ${path}, found in ${field}. Contains '{' or '}' beyond a supported path template`;
    if (templated && !VALID_LITERAL.test(glob)) return `invalid or unsupported path ${path}, found in ${field}. Contains segment ${glob} with invalid string literal`;
  }
  return undefined;
}

function warnDenyHttpOnly(spec: AuthorizationPolicySpec, action: string, report: Reporter): void {
  if (action !== 'DENY') return;
  (spec.rules ?? []).forEach((rule, i) => {
    const ops = (rule.to ?? []).map((t) => t.operation ?? {});
    const usesHttp = ops.some((op) => HTTP_OPERATION_FIELDS.some((f) => op[f]?.length))
      || (rule.from ?? []).some((f) => f.source?.requestPrincipals?.length || f.source?.notRequestPrincipals?.length)
      || (rule.when ?? []).some((c) => c.key.startsWith('request.'));
    const scopedByPort = ops.some((op) => op.ports?.length || op.notPorts?.length) || (rule.when ?? []).some((c) => c.key === 'destination.port');
    if (usesHttp && !scopedByPort) {
      report.warn(['spec', 'rules', i], 'configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port', 'add to.operation.ports with the HTTP port(s)');
    }
  });
}
