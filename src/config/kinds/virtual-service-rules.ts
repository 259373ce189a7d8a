// VirtualService rules: Istio's ValidateVirtualService (pkg/config/validation/virtualservice.go) and
// agent.ValidateHTTPRetry, as listed in reference §6.3. Messages are Istio's where Istio has one.
// The duration and host helpers are shared with the DestinationRule and HTTPRoute rules.
import { parseDurationMs } from '../duration.ts';
import type { Reporter } from '../diag.ts';
import { checkWildcardDomain } from '../names.ts';
import type { Path } from '../schema.ts';
import type { Rules } from './common.ts';
import type { Destination, HTTPRetry, HTTPRoute, StringMatch, VirtualServiceSpec } from './virtual-service.ts';

/** Envoy's retry policies Istio accepts (agent.ValidateHTTPRetry), besides HTTP status codes. */
export const RETRY_ON = [
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream',
  'retriable-status-codes', 'retriable-headers', 'envoy-ratelimited', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
];
export { parseDurationMs };

/** Istio's ValidateDuration: well formed, at least 1 ms, millisecond precision. */
export function checkDuration(v: string | undefined, path: Path, report: Reporter, allowZero = false): number | undefined {
  if (v === undefined) return undefined;
  const ms = parseDurationMs(v);
  if (ms === undefined) {
    report.error(path, `invalid duration ${JSON.stringify(v)}`, 'write a duration such as 500ms, 5s or 1m');
    return undefined;
  }
  if (ms === 0 && allowZero) return 0;
  if (ms < 1) report.error(path, 'duration must be greater than 1ms', 'use at least 1ms');
  else if (!Number.isInteger(ms)) report.error(path, 'only durations to ms precision are supported', 'round to whole milliseconds');
  return ms;
}

/** A host in a route or rule: a DNS name (short names allowed), optionally `*.`-prefixed. */
export function checkHost(host: string, path: Path, report: Reporter): void {
  const problem = checkWildcardDomain(host);
  if (problem) report.error(path, problem, 'use a DNS name such as api.example.com, optionally with a leading "*."');
}

export function checkRegex(v: string | undefined, path: Path, report: Reporter): void {
  if (v === undefined) return;
  try {
    new RegExp(v);
  } catch (e) {
    report.error(path, `"${v}" is not a valid regex: ${(e as Error).message}`, 'use RE2 syntax');
  }
}

export const virtualServiceRules: Rules<VirtualServiceSpec> = (spec, r, report) => {
  const hosts = spec.hosts ?? [];
  const delegate = hosts.length === 0;
  if (delegate) checkDelegate(spec, report);
  const seen = new Set<string>();
  const mesh = (spec.gateways ?? []).length === 0 || (spec.gateways ?? []).includes('mesh');
  hosts.forEach((h, i) => {
    const path = ['spec', 'hosts', i];
    if (seen.has(h)) report.error(path, `duplicate host ${h}`, 'list each host once');
    seen.add(h);
    if (h === '*' && mesh) report.error(path, "wildcard host * is not allowed for virtual services bound to the mesh gateway", 'list the hosts, or bind the VirtualService to a gateway');
    else if (h !== '*') checkHost(h, path, report);
  });
  (spec.gateways ?? []).forEach((g, i) => {
    if (g !== 'mesh' && !/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(g)) {
      report.error(['spec', 'gateways', i], `invalid gateway name ${JSON.stringify(g)}`, 'use "mesh", "name" or "namespace/name"');
    }
  });
  if (!spec.http?.length && !spec.tcp?.length && !spec.tls?.length) {
    report.error(['spec'], 'http, tcp or tls must be provided in virtual service', 'add an http route');
  }
  (spec.http ?? []).forEach((route, i) => checkHttpRoute(route, ['spec', 'http', i], delegate, report));
  for (const kind of ['tls', 'tcp'] as const) {
    (spec[kind] ?? []).forEach((route, i) => {
      const path = ['spec', kind, i];
      if (!route.route?.length) report.error([...path, 'route'], 'route is required', 'add route: [{destination: {host: ...}}]');
      (route.route ?? []).forEach((d, j) => checkDestination(d.destination, [...path, 'route', j, 'destination'], report));
      checkWeights((route.route ?? []).map((d) => d.weight), [...path, 'route'], report);
    });
  }
  void r;
};

function checkDelegate(spec: VirtualServiceSpec, report: Reporter): void {
  if (spec.gateways?.length) report.error(['spec', 'gateways'], 'delegate virtual service must have no gateways specified', 'add hosts, or remove gateways');
  if (spec.tls?.length) report.error(['spec', 'tls'], 'delegate virtual service must have no tls route specified', 'add hosts, or remove tls');
  if (spec.tcp?.length) report.error(['spec', 'tcp'], 'delegate virtual service must have no tcp route specified', 'add hosts, or remove tcp');
}

const FORBIDDEN_PAIRS: readonly [keyof HTTPRoute, keyof HTTPRoute][] = [
  ['route', 'redirect'], ['fault', 'redirect'], ['rewrite', 'redirect'], ['directResponse', 'redirect'],
  ['route', 'directResponse'], ['fault', 'directResponse'], ['rewrite', 'directResponse'], ['mirror', 'mirrors'],
];

function present(route: HTTPRoute, key: keyof HTTPRoute): boolean {
  const v = route[key];
  return Array.isArray(v) ? v.length > 0 : v !== undefined;
}

function checkHttpRoute(route: HTTPRoute, path: Path, delegate: boolean, report: Reporter): void {
  if (!present(route, 'route') && !route.redirect && !route.directResponse && !route.delegate) {
    report.error(path, 'HTTP route, redirect or directResponse is required', 'add route: [{destination: {host: ...}}]');
  }
  if (route.delegate && delegate) report.error([...path, 'delegate'], 'delegate virtual service cannot delegate again', 'route to a destination instead');
  for (const [a, b] of FORBIDDEN_PAIRS) {
    if (present(route, a) && present(route, b)) report.error([...path, b], `HTTP route cannot contain both ${a} and ${b}`, `remove ${a} or ${b}`);
  }
  (route.match ?? []).forEach((m, j) => {
    const mp = [...path, 'match', j];
    for (const f of ['headers', 'queryParams', 'withoutHeaders'] as const) {
      for (const [k, v] of Object.entries(m[f] ?? {})) checkStringMatch(v, [...mp, f, k], f === 'headers' ? `header match ${k} cannot be null` : undefined, report);
    }
    for (const f of ['uri', 'scheme', 'method', 'authority'] as const) if (m[f]) checkStringMatch(m[f]!, [...mp, f], undefined, report);
    if (m.port !== undefined && (m.port < 1 || m.port > 65535)) report.error([...mp, 'port'], `port number ${m.port} must be in the range 1..65535`, 'use a port between 1 and 65535');
  });
  (route.route ?? []).forEach((d, j) => checkDestination(d.destination, [...path, 'route', j, 'destination'], report));
  checkWeights((route.route ?? []).map((d) => d.weight), [...path, 'route'], report);
  if (route.mirror) checkDestination(route.mirror, [...path, 'mirror'], report);
  (route.mirrors ?? []).forEach((m, j) => {
    checkDestination(m.destination, [...path, 'mirrors', j, 'destination'], report);
    checkPercent(m.percentage?.value, [...path, 'mirrors', j, 'percentage'], report);
  });
  checkPercent(route.mirrorPercentage?.value, [...path, 'mirrorPercentage'], report);
  checkDuration(route.timeout, [...path, 'timeout'], report, true);
  if (route.retries) checkRetry(route.retries, [...path, 'retries'], report);
  checkAuthorityOnce(route, path, report);
  if (route.redirect?.redirectCode !== undefined && ![301, 302, 303, 307, 308].includes(route.redirect.redirectCode)) {
    report.error([...path, 'redirect', 'redirectCode'], `%d is not a valid redirect code, must be 301, 302, 303, 307, or 308`.replace('%d', String(route.redirect.redirectCode)), 'use 301, 302, 303, 307 or 308');
  }
  if (route.directResponse && (route.directResponse.status < 200 || route.directResponse.status > 599)) {
    report.error([...path, 'directResponse', 'status'], `directResponse.status must be between 200 and 599, current ${route.directResponse.status}`, 'use an HTTP status code');
  }
  checkRegex(route.rewrite?.uriRegexRewrite?.match, [...path, 'rewrite', 'uriRegexRewrite', 'match'], report);
  if (route.rewrite?.uri !== undefined && route.rewrite.uriRegexRewrite) report.error([...path, 'rewrite'], 'rewrite may only contain one of uri or uriRegexRewrite', 'keep one');
  if (route.fault) checkFault(route, path, report);
}

function checkStringMatch(m: StringMatch | null, path: Path, nullMessage: string | undefined, report: Reporter): void {
  // Only a null value is refused (Istio: "header match %v cannot be null"); `{}` is a presence match.
  if (m === null) {
    if (nullMessage) report.error(path, nullMessage, 'set exact, prefix or regex, or {} for presence');
    return;
  }
  const set = (['exact', 'prefix', 'regex'] as const).filter((k) => m[k] !== undefined);
  if (set.length > 1) report.error(path, `only one of exact, prefix or regex may be set (got ${set.join(', ')})`, 'keep one');
  checkRegex(m.regex, [...path, 'regex'], report);
}

function checkDestination(d: Destination, path: Path, report: Reporter): void {
  if (!d.host) return report.error([...path, 'host'], 'destination must have a host', 'set destination.host');
  if (d.host === '*') report.error([...path, 'host'], 'destination host cannot be *', 'name a host');
  else checkHost(d.host, [...path, 'host'], report);
  const n = d.port?.number;
  if (n !== undefined && (n < 1 || n > 65535)) report.error([...path, 'port', 'number'], `port number ${n} must be in the range 1..65535`, 'use a port between 1 and 65535');
}

function checkWeights(weights: readonly (number | undefined)[], path: Path, report: Reporter): void {
  weights.forEach((w, i) => { if (w !== undefined && w < 0) report.error([...path, i, 'weight'], 'weight must not be negative', 'use a weight of 0 or more'); });
  if (weights.length > 1 && weights.reduce<number>((a, w) => a + (w ?? 0), 0) <= 0) {
    report.error(path, 'total destination weight = 0', 'give at least one destination a positive weight');
  }
}

function checkPercent(v: unknown, path: Path, report: Reporter): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || v < 0 || v > 100) report.error(path, `percentage ${String(v)} is not in range 0..100`, 'use a number between 0 and 100');
}

function checkRetry(retry: HTTPRetry, path: Path, report: Reporter): void {
  const attempts = retry.attempts ?? 0;
  if (attempts < 0) report.error([...path, 'attempts'], 'attempts cannot be negative', 'use 0 (no retries) or more');
  if (attempts === 0 && (retry.perTryTimeout !== undefined || retry.retryOn !== undefined)) {
    report.error([...path, 'attempts'], 'http retry policy configured when attempts are set to 0 (disabled)', 'set attempts > 0, or remove perTryTimeout and retryOn');
  }
  checkDuration(retry.perTryTimeout, [...path, 'perTryTimeout'], report);
  checkDuration(retry.backoff, [...path, 'backoff'], report);
  for (const item of (retry.retryOn ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    if (RETRY_ON.includes(item)) continue;
    const code = Number(item);
    if (!Number.isInteger(code) || code < 100 || code > 599) {
      report.error([...path, 'retryOn'], `${item} is not a valid retryOn value`, `use ${RETRY_ON.slice(0, 5).join(', ')}, ... or an HTTP status code`);
    }
  }
}

function checkAuthorityOnce(route: HTTPRoute, path: Path, report: Reporter): void {
  const set = Object.keys(route.headers?.request?.set ?? {}).map((k) => k.toLowerCase());
  const count = (route.rewrite?.authority ? 1 : 0) + set.filter((k) => k === 'host' || k === ':authority').length;
  if (count > 1) report.error([...path, 'headers', 'request', 'set'], 'authority header cannot be set multiple times', 'set it in rewrite.authority or in headers, not both');
}

function checkFault(route: HTTPRoute, path: Path, report: Reporter): void {
  const f = route.fault!;
  if (!f.delay && !f.abort) report.error([...path, 'fault'], 'fault must have at least delay or abort', 'add fault.delay or fault.abort');
  if (f.delay) {
    checkDuration(f.delay.fixedDelay, [...path, 'fault', 'delay', 'fixedDelay'], report);
    checkPercent(f.delay.percentage?.value, [...path, 'fault', 'delay', 'percentage'], report);
  }
  if (f.abort) {
    const s = f.abort.httpStatus;
    if (s !== undefined && (s < 200 || s > 599)) report.error([...path, 'fault', 'abort', 'httpStatus'], `invalid abort http status ${s}`, 'use a status between 200 and 599');
    checkPercent(f.abort.percentage?.value, [...path, 'fault', 'abort', 'percentage'], report);
  }
}
