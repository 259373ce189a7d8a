// Source, Operation and `when` fields -> constraints over precompiled matchers, one function per
// generator of pilot/pkg/security/authz/model/generator.go. Regexes are built here, never per request.
import type { Condition, Operation, Source } from '../config/kinds/authorization-policy.ts';
import { parseCidr } from '../model/cidr.ts';
import type { Attribute, Constraint, JwtPrincipalMatcher, Matcher, RegexMatcher, StringMatcher } from '../model/policy.ts';

/** matcher.StringMatcher: `*` presence (non-empty), `x*` prefix, `*x` suffix, else exact. */
export function stringMatcher(raw: string, ignoreCase = false): StringMatcher {
  const v = ignoreCase ? raw.toLowerCase() : raw;
  if (raw === '*') return { kind: 'presence', value: '', ignoreCase, raw };
  if (raw.startsWith('*')) return { kind: 'suffix', value: v.slice(1), ignoreCase, raw };
  if (raw.endsWith('*')) return { kind: 'prefix', value: v.slice(0, -1), ignoreCase, raw };
  return { kind: 'exact', value: v, ignoreCase, raw };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const regex = (source: string, raw: string): RegexMatcher => ({ kind: 'regex', regex: new RegExp(`^(?:${source})$`), raw });

/** srcNamespaceGenerator: `.*\/ns/<v>/.*` on the principal, with every `*` in v widened to `.*`. */
export function namespaceMatcher(raw: string): RegexMatcher {
  return regex(`.*/ns/${raw.split('*').map(escape).join('.*')}/.*`, raw);
}

/** serviceAccountRegex: `sa` means the policy's namespace; extra `/k/v` segments are allowed around sa. */
export function serviceAccountMatcher(raw: string, policyNamespace: string): RegexMatcher {
  const [ns, sa] = raw.includes('/') ? raw.split('/', 2) : [policyNamespace, raw];
  return regex(`.+/ns/${escape(ns)}/(?:.+/|)sa/${escape(sa)}(?:/.+)?`, raw);
}

// Envoy uri_template (Istio hands it `{*}` as `*` and `{**}` as `**`): {*} is one non-empty segment
// of pchars (kLiteral, which has admitted `=` since Envoy's "user included '=' allowed": a DENY on
// `/admin/{*}` must catch `/admin/role=root`), {**} any run of them and `/` (possibly empty).
// Segments are joined by `/`, so literals may follow {**}: `/store/{**}/cart` matches `/store/a/b/cart`.
const SEGMENT = "[a-zA-Z0-9\\-._~%!$&'()+,;:@=]";
export function pathMatcher(raw: string): Matcher {
  if (!raw.includes('{*}') && !raw.includes('{**}')) return stringMatcher(raw);
  const source = raw.split('/').map((s) => (s === '{**}' ? `${SEGMENT.slice(0, -1)}/]*` : s === '{*}' ? `${SEGMENT}+` : escape(s))).join('/');
  return regex(source, raw);
}

/** requestPrincipalGenerator: split at the last `/` into iss and sub, with the `*` cases of Istio. */
export function jwtPrincipalMatcher(raw: string): JwtPrincipalMatcher {
  const any = stringMatcher('*');
  const idx = raw.lastIndexOf('/');
  const iss = idx >= 0 ? raw.slice(0, idx) : raw;
  const sub = idx >= 0 ? raw.slice(idx + 1) : '';
  const exact = (v: string) => ({ kind: 'exact', value: v, ignoreCase: false, raw: v }) as const;
  if (raw === '*') return { kind: 'jwt-principal', iss: any, sub: any, raw };
  if (raw.startsWith('*')) {
    return idx >= 0
      ? { kind: 'jwt-principal', iss: iss === '*' ? any : { kind: 'suffix', value: iss.slice(1), ignoreCase: false, raw: iss }, sub: exact(sub), raw }
      : { kind: 'jwt-principal', iss: any, sub: { kind: 'suffix', value: raw.slice(1), ignoreCase: false, raw }, raw };
  }
  if (raw.endsWith('*')) {
    return idx >= 0
      ? { kind: 'jwt-principal', iss: exact(iss), sub: sub === '*' ? any : { kind: 'prefix', value: sub.slice(0, -1), ignoreCase: false, raw: sub }, raw }
      : { kind: 'jwt-principal', iss: { kind: 'prefix', value: raw.slice(0, -1), ignoreCase: false, raw }, sub: any, raw };
  }
  return { kind: 'jwt-principal', iss: exact(iss), sub: exact(sub), raw };
}

function cidrMatchers(values: readonly string[]): Matcher[] {
  // Validation rejected bad blocks; a block that still fails to parse can never match.
  return values.flatMap((raw) => { const cidr = parseCidr(raw); return cidr ? [{ kind: 'cidr', cidr, raw } as const] : []; });
}

function portMatchers(values: readonly string[]): Matcher[] {
  return values.map((raw) => ({ kind: 'port', port: Number(raw), raw }) as const);
}

interface FieldSpec {
  readonly attribute: Attribute;
  readonly http: boolean;
  readonly build: (values: readonly string[]) => Matcher[];
}

function sourceFields(ns: string): Record<string, FieldSpec> {
  return {
    principals: { attribute: 'source.principal', http: false, build: (v) => v.map((x) => stringMatcher(x)) },
    requestPrincipals: { attribute: 'request.jwt', http: true, build: (v) => v.map(jwtPrincipalMatcher) },
    // Its own attribute (same regex on the principal) so a pod-IP namespace can reach it and nothing else.
    namespaces: { attribute: 'source.namespace', http: false, build: (v) => v.map(namespaceMatcher) },
    serviceAccounts: { attribute: 'source.principal', http: false, build: (v) => v.map((x) => serviceAccountMatcher(x, ns)) },
    ipBlocks: { attribute: 'source.ip', http: false, build: cidrMatchers },
    remoteIpBlocks: { attribute: 'remote.ip', http: false, build: cidrMatchers },
    trustDomains: { attribute: 'source.trustDomain', http: false, build: (v) => v.map((x) => stringMatcher(x)) },
  };
}

const OPERATION_FIELDS: Record<string, FieldSpec> = {
  hosts: { attribute: 'host', http: true, build: (v) => v.map((x) => stringMatcher(x, true)) },
  ports: { attribute: 'destination.port', http: false, build: portMatchers },
  methods: { attribute: 'method', http: true, build: (v) => v.map((x) => stringMatcher(x)) },
  paths: { attribute: 'path', http: true, build: (v) => v.map(pathMatcher) },
};

function constraints(obj: Readonly<Record<string, readonly string[] | undefined>>, fields: Record<string, FieldSpec>, prefix: string): Constraint[] {
  const out: Constraint[] = [];
  for (const [name, spec] of Object.entries(fields)) {
    for (const negate of [false, true]) {
      const field = negate ? `not${name[0].toUpperCase()}${name.slice(1)}` : name;
      const values = obj[field];
      if (!values?.length) continue;
      out.push({ field: `${prefix}.${field}`, attribute: spec.attribute, negate, http: spec.http, matchers: spec.build(values) });
    }
  }
  return out;
}

export function sourceConstraints(src: Source, prefix: string, policyNamespace: string): Constraint[] {
  return constraints(src as Record<string, readonly string[] | undefined>, sourceFields(policyNamespace), prefix);
}

export function operationConstraints(op: Operation, prefix: string): Constraint[] {
  return constraints(op as Record<string, readonly string[] | undefined>, OPERATION_FIELDS, prefix);
}

function conditionSpec(key: string, ns: string): FieldSpec & { arg?: string | readonly string[] } {
  const str: FieldSpec['build'] = (v) => v.map((x) => stringMatcher(x));
  if (key.startsWith('request.headers[')) return { attribute: 'request.headers', arg: key.slice(16, -1).toLowerCase(), http: true, build: str };
  if (key.startsWith('request.auth.claims[')) {
    return { attribute: 'request.auth.claims', arg: key.slice(20, -1).split(']['), http: true, build: str };
  }
  switch (key) {
    case 'source.ip': case 'remote.ip': case 'destination.ip': return { attribute: key, http: false, build: cidrMatchers };
    case 'destination.port': return { attribute: key, http: false, build: portMatchers };
    case 'source.namespace': return { attribute: 'source.namespace', http: false, build: (v) => v.map(namespaceMatcher) };
    case 'source.serviceAccount': return { attribute: 'source.principal', http: false, build: (v) => v.map((x) => serviceAccountMatcher(x, ns)) };
    case 'source.principal': case 'source.trustDomain': case 'connection.sni': return { attribute: key, http: false, build: str };
    case 'request.auth.principal': case 'request.auth.audiences': case 'request.auth.presenter': return { attribute: key, http: true, build: str };
    default: return { attribute: 'unsupported', http: false, build: str };
  }
}

/** `values` is one OR-ed constraint and `notValues` a negated one; both present are AND-ed. */
export function conditionConstraint(c: Condition, prefix: string, policyNamespace: string): Constraint[] {
  const spec = conditionSpec(c.key, policyNamespace);
  const out: Constraint[] = [];
  const base = { attribute: spec.attribute, http: spec.http, ...(spec.arg !== undefined ? { arg: spec.arg } : {}) };
  if (c.values?.length) out.push({ ...base, field: `${prefix}(${c.key}).values`, negate: false, matchers: spec.build(c.values) });
  if (c.notValues?.length) out.push({ ...base, field: `${prefix}(${c.key}).notValues`, negate: true, matchers: spec.build(c.notValues) });
  return out;
}
