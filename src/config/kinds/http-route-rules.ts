// HTTPRoute rules: the Gateway API CRD's validation (maxItems, CEL) and the conversions istiod
// refuses (reference §2.4: unsupported filters, `Hostname` backends with a namespace).
import type { Reporter } from '../diag.ts';
import { checkGatewayHostname } from '../names.ts';
import type { Path } from '../schema.ts';
import type { Rules } from './common.ts';
import type { HTTPRouteFilter, HTTPRouteRule, HTTPRouteSpec } from './http-route.ts';
import { checkRegex } from './virtual-service-rules.ts';
import { parseDurationMs } from '../duration.ts';

// Gateway API durations: 1-4 (number, unit) pairs, units h, m, s, ms (GEP-2257).
const GATEWAY_DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const FIELD_OF: Record<string, keyof HTTPRouteFilter> = {
  RequestHeaderModifier: 'requestHeaderModifier', ResponseHeaderModifier: 'responseHeaderModifier', RequestMirror: 'requestMirror',
  RequestRedirect: 'requestRedirect', URLRewrite: 'urlRewrite', ExtensionRef: 'extensionRef', CORS: 'cors',
};

export function gatewayDurationMs(v: string): number | undefined {
  // The stricter GEP-2257 grammar first; the value itself is an ordinary Go duration.
  return GATEWAY_DURATION.test(v) ? parseDurationMs(v) : undefined;
}

export const httpRouteRules: Rules<HTTPRouteSpec> = (spec, _r, report) => {
  if ((spec.parentRefs?.length ?? 0) > 32) report.error(['spec', 'parentRefs'], 'at most 32 parentRefs are allowed', 'split the route');
  (spec.hostnames ?? []).forEach((h, i) => {
    const p = checkGatewayHostname(h);
    if (p) report.error(['spec', 'hostnames', i], p, 'use a lower-case DNS name, optionally "*."-prefixed');
  });
  if ((spec.rules?.length ?? 0) > 16) report.error(['spec', 'rules'], 'at most 16 rules are allowed', 'split the route');
  (spec.rules ?? []).forEach((rule, i) => checkRule(rule, ['spec', 'rules', i], report));
};

function checkRule(rule: HTTPRouteRule, path: Path, report: Reporter): void {
  (rule.matches ?? []).forEach((m, j) => {
    const mp = [...path, 'matches', j, 'path'];
    const type = m.path?.type ?? 'PathPrefix';
    const value = m.path?.value ?? '/';
    if (type !== 'RegularExpression' && !value.startsWith('/')) report.error([...mp, 'value'], 'value must be an absolute path and start with \'/\' when type one of [\'Exact\', \'PathPrefix\']', 'start the path with /');
    if (type === 'RegularExpression') checkRegex(value, [...mp, 'value'], report);
    if (type !== 'RegularExpression' && /\/\/|\/\.\.?(\/|$)|[#?]/.test(value)) report.error([...mp, 'value'], 'must not contain \'//\', \'/./\', \'/../\', \'#\' or \'?\'', 'normalise the path');
  });
  checkFilters(rule.filters ?? [], [...path, 'filters'], report);
  (rule.backendRefs ?? []).forEach((b, j) => {
    const bp = [...path, 'backendRefs', j];
    if (b.weight !== undefined && (b.weight < 0 || b.weight > 1_000_000)) report.error([...bp, 'weight'], 'weight must be between 0 and 1000000', 'use a weight in range');
    if (b.kind === 'Hostname' && b.namespace) report.error([...bp, 'namespace'], 'namespace may not be set with kind Hostname', 'remove namespace');
    if ((b.kind ?? 'Service') === 'Service' && (b.group ?? '') === '' && b.port === undefined) report.error([...bp, 'port'], 'Must have port for Service reference', 'add port');
    if (b.port !== undefined && (b.port < 1 || b.port > 65535)) report.error([...bp, 'port'], `port number ${b.port} must be in the range 1..65535`, 'use a port between 1 and 65535');
    checkFilters(b.filters ?? [], [...bp, 'filters'], report);
  });
  checkTimeouts(rule, path, report);
  const retry = rule.retry;
  if (retry) {
    if (retry.attempts !== undefined && retry.attempts < 0) report.error([...path, 'retry', 'attempts'], 'attempts must not be negative', 'use 0 or more');
    (retry.codes ?? []).forEach((c, k) => { if (c < 400 || c > 599) report.error([...path, 'retry', 'codes', k], `retry code ${c} must be between 400 and 599`, 'use 4xx or 5xx codes'); });
    if (retry.backoff !== undefined && gatewayDurationMs(retry.backoff) === undefined) report.error([...path, 'retry', 'backoff'], `invalid duration ${JSON.stringify(retry.backoff)}`, 'use a Gateway API duration such as 100ms or 1s');
  }
}

function checkTimeouts(rule: HTTPRouteRule, path: Path, report: Reporter): void {
  const t = rule.timeouts;
  if (!t) return;
  const ms: Record<string, number | undefined> = {};
  for (const f of ['request', 'backendRequest'] as const) {
    if (t[f] === undefined) continue;
    ms[f] = gatewayDurationMs(t[f]!);
    if (ms[f] === undefined) report.error([...path, 'timeouts', f], `invalid duration ${JSON.stringify(t[f])}`, 'use a Gateway API duration such as 500ms, 10s or 1m');
  }
  if (ms.request !== undefined && ms.backendRequest !== undefined && ms.request !== 0 && ms.backendRequest > ms.request) {
    report.error([...path, 'timeouts', 'backendRequest'], 'backendRequest timeout cannot be longer than request timeout', 'make backendRequest at most request');
  }
}

function checkFilters(filters: readonly HTTPRouteFilter[], path: Path, report: Reporter): void {
  const types = filters.map((f) => f.type);
  if (types.includes('RequestRedirect') && types.includes('URLRewrite')) report.error(path, 'May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both', 'keep one');
  for (const t of ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite']) {
    if (types.filter((x) => x === t).length > 1) report.error(path, `${t} filter cannot be repeated`, 'merge the filters');
  }
  filters.forEach((f, i) => {
    const field = FIELD_OF[f.type];
    for (const [t, other] of Object.entries(FIELD_OF)) {
      if (t !== f.type && f[other] !== undefined) report.error([...path, i, other], `${other} must be nil if the filter.type is not ${t}`, `remove ${other}, or set type: ${t}`);
    }
    if (field && f[field] === undefined) report.error([...path, i], `${field} must be specified for ${f.type} filter.type`, `add ${field}`);
    if (f.type === 'ExtensionRef') report.warn([...path, i], 'ExtensionRef filters are not supported by Istio; the route is rejected', 'remove the filter');
    for (const side of ['requestHeaderModifier', 'responseHeaderModifier'] as const) checkHeaderNames(f[side], [...path, i, side], report);
  });
}

// The Gateway API CRD's HTTPHeaderName pattern, which the API server enforces; files get it here (a
// name no request can carry failed every request on the route).
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

function checkHeaderNames(m: HTTPRouteFilter['requestHeaderModifier'], path: Path, report: Reporter): void {
  const check = (name: string, p: Path) => {
    if (!HEADER_NAME.test(name)) report.error(p, `Invalid value: ${JSON.stringify(name)}: should match '^[A-Za-z0-9!#$%&'*+\\-.^_\`|~]+$'`, 'use an HTTP header name (token characters only)');
  };
  for (const op of ['set', 'add'] as const) (m?.[op] ?? []).forEach((h, k) => check(h.name, [...path, op, k, 'name']));
  (m?.remove ?? []).forEach((name, k) => check(name, [...path, 'remove', k]));
}
