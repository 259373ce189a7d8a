// One VirtualService HTTP route: Istio's validateHTTPRoute and the validators it calls
// (virtualservice.go, validation.go). Messages are Istio's, so users can search them.
import type { Reporter } from '../diag.ts';
import type { Path } from '../schema.ts';
import { checkHeaderOperations, isAuthority } from './header-rules.ts';
import { checkHttpMatch, checkPort, checkRegexAt } from './virtual-service-match-rules.ts';
import type { HTTPRetry, HTTPRoute, Percent } from './virtual-service.ts';
import { checkDestination, checkDuration, checkWeights, RETRY_ON } from './virtual-service-rules.ts';

type RouteType = 'independent' | 'root' | 'delegate';

export function checkHttpRoute(route: HTTPRoute, path: Path, inDelegate: boolean, report: Reporter): void {
  const type: RouteType = inDelegate ? 'delegate' : route.delegate ? 'root' : 'independent';
  checkConflicts(route, type, path, report);
  (route.match ?? []).forEach((m, j) => { if (m) checkHttpMatch(m, [...path, 'match', j], report); });
  checkHeaderOperations(route.headers, [...path, 'headers'], report);
  checkCors(route.corsPolicy, [...path, 'corsPolicy'], report);
  if (route.fault) checkFault(route.fault, [...path, 'fault'], report);
  checkMirrors(route, path, report);
  if (route.redirect) checkRedirect(route.redirect, [...path, 'redirect'], report);
  if (route.directResponse) checkDirectResponse(route.directResponse, [...path, 'directResponse'], report);
  if (route.retries) checkRetry(route.retries, [...path, 'retries'], report);
  if (route.rewrite) checkRewrite(route.rewrite, [...path, 'rewrite'], report);
  checkAuthorityOnce(route, path, report);
  (route.route ?? []).forEach((d, j) => {
    checkHeaderOperations(d.headers, [...path, 'route', j, 'headers'], report);
    checkDestination(d.destination, [...path, 'route', j, 'destination'], report);
  });
  checkWeights((route.route ?? []).map((d) => d.weight), [...path, 'route'], report);
  // Istio's validateHTTPRoute runs ValidateDuration on any set timeout: `0s` is refused (>= 1ms).
  checkDuration(route.timeout, [...path, 'timeout'], report);
}

/** validateHTTPRouteConflict: which actions may be combined, per kind of route. */
function checkConflicts(route: HTTPRoute, type: RouteType, path: Path, report: Reporter): void {
  const err = (field: string, message: string, hint: string) => report.error([...path, field], message, hint);
  if (type === 'root') {
    // A root route hands the request to the delegate VirtualService and does nothing else.
    const name = route.name ?? '';
    if (route.redirect) err('redirect', `root HTTP route ${name} must not specify redirect`, 'move the redirect into the delegate VirtualService');
    if ((route.route ?? []).length > 0) err('route', `root HTTP route ${name} must not specify route`, 'move the route into the delegate VirtualService');
    return;
  }
  if (type === 'delegate' && route.delegate) err('delegate', 'delegate HTTP route cannot contain delegate', 'route to a destination instead');
  const routes = (route.route ?? []).length > 0;
  if (route.redirect) {
    if (routes) err('redirect', 'HTTP route cannot contain both route and redirect', 'remove route or redirect');
    if (route.fault) err('redirect', 'HTTP route cannot contain both fault and redirect', 'remove fault or redirect');
    if (route.rewrite) err('redirect', 'HTTP route rule cannot contain both rewrite and redirect', 'remove rewrite or redirect');
    if (route.directResponse) err('redirect', 'HTTP route rule cannot contain both direct_response and redirect', 'remove directResponse or redirect');
  } else if (route.directResponse) {
    if (routes) err('directResponse', 'HTTP route cannot contain both route and direct_response', 'remove route or directResponse');
    if (route.fault) err('directResponse', 'HTTP route cannot contain both fault and direct_response', 'remove fault or directResponse');
    if (route.rewrite) err('directResponse', 'HTTP route rule cannot contain both rewrite and direct_response', 'remove rewrite or directResponse');
  } else if (!routes) {
    report.error(path, 'HTTP route, redirect or direct_response is required', 'add route: [{destination: {host: ...}}]');
  }
  if (route.mirror && (route.mirrors ?? []).length > 0) err('mirrors', 'HTTP route cannot contain both mirror and mirrors', 'keep mirrors');
}

const fixed6 = (n: number) => n.toFixed(6);

function checkMirrors(route: HTTPRoute, path: Path, report: Reporter): void {
  if (route.mirrorPercent !== undefined) {
    const p = [...path, 'mirrorPercent'];
    if (route.mirrorPercent > 100) report.error(p, `mirror_percent must have a max value of 100 (it has ${route.mirrorPercent})`, 'use 0..100');
    report.warn(p, 'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead', `write mirrorPercentage: {value: ${route.mirrorPercent}}`);
  }
  const mp = route.mirrorPercentage?.value;
  if (typeof mp === 'number') {
    const p = [...path, 'mirrorPercentage'];
    if (mp > 100) report.error(p, `mirror_percentage must have a max value of 100 (it has ${fixed6(mp)})`, 'use 0..100');
    if (mp < 0) report.error(p, `mirror_percentage must have a min value of 0 (it has ${fixed6(mp)})`, 'use 0..100');
  }
  if (route.mirror) checkDestination(route.mirror, [...path, 'mirror'], report);
  (route.mirrors ?? []).forEach((m, j) => {
    const p = [...path, 'mirrors', j];
    checkDestination(m.destination, [...p, 'destination'], report);
    const v = m.percentage?.value;
    if (typeof v !== 'number') return;
    if (v > 100) report.error([...p, 'percentage'], `mirror percentage must have a max value of 100 (it has ${fixed6(v)})`, 'use 0..100');
    if (v < 0) report.error([...p, 'percentage'], `mirror percentage must have a min value of 0 (it has ${fixed6(v)})`, 'use 0..100');
  });
}

function checkRedirect(r: NonNullable<HTTPRoute['redirect']>, path: Path, report: Reporter): void {
  if (!r.uri && !r.authority && r.port === undefined && r.derivePort === undefined && !r.scheme && !r.prefixRewrite) {
    report.error(path, 'redirect must specify URI, authority, scheme, or port', 'set uri, authority, scheme or port');
  }
  if (r.redirectCode !== undefined && r.redirectCode !== 0 && (r.redirectCode < 300 || r.redirectCode > 399)) {
    report.error([...path, 'redirectCode'], `${r.redirectCode} is not a valid redirect code, must be 3xx`, 'use 301, 302, 303, 307 or 308');
  }
  if (r.scheme && r.scheme !== 'http' && r.scheme !== 'https') report.error([...path, 'scheme'], 'invalid redirect scheme, must be "http" or "https"', 'use http or https');
  if (r.port !== undefined && r.port > 0) checkPort(r.port, [...path, 'port'], report);
}

function checkStatus(status: number, path: Path, report: Reporter): void {
  // Istio's bound is `> 600`, so 600 itself passes; kept as is.
  if (status < 200 || status > 600) report.error(path, `HTTP status ${status} is not in range 200-599`, 'use a status between 200 and 599');
}

function checkDirectResponse(d: NonNullable<HTTPRoute['directResponse']>, path: Path, report: Reporter): void {
  const size = Buffer.byteLength(d.body?.string ?? '') + Math.floor(((d.body?.bytes ?? '').length * 3) / 4);
  if (size > 1024 * 1024) report.error([...path, 'body'], 'large direct_responses may impact control plane performance, must be less than 1MB', 'serve large bodies from a backend');
  else if (size > 100 * 1024) report.warn([...path, 'body'], 'large direct_responses may impact control plane performance', 'keep direct responses small');
  checkStatus(d.status, [...path, 'status'], report);
}

function checkRewrite(r: NonNullable<HTTPRoute['rewrite']>, path: Path, report: Reporter): void {
  if (r.uri && r.uriRegexRewrite) return report.error(path, 'rewrite may only contain one of URI or UriRegexRewrite', 'keep one');
  if (!r.uri && !r.uriRegexRewrite && !r.authority) {
    return report.error(path, 'rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified', 'set uri, uriRegexRewrite or authority');
  }
  const rr = r.uriRegexRewrite;
  if (!rr) return;
  if (!rr.match || !rr.rewrite) return report.error([...path, 'uriRegexRewrite'], 'UriRegexRewrite has errors: UriRegexRewrite requires both Rewrite and Match fields to be specified', 'set match and rewrite');
  checkRegexAt(rr.match, 'HTTPRewrite.UriRegexRewrite.Match', [...path, 'uriRegexRewrite', 'match'], report);
}

/** validateAuthorityRewrite: the authority may be rewritten in one place only. */
function checkAuthorityOnce(route: HTTPRoute, path: Path, report: Reporter): void {
  let current = route.rewrite?.authority ?? '';
  for (const op of ['set', 'add'] as const) {
    for (const [k, v] of Object.entries(route.headers?.request?.[op] ?? {})) {
      if (!isAuthority(k)) continue;
      if (current !== '') {
        return report.error([...path, 'headers', 'request', op, k], `authority header cannot be set multiple times: have ${JSON.stringify(current)}, attempting to set ${JSON.stringify(v)}`, 'set it in rewrite.authority or in headers, not both');
      }
      current = v;
    }
  }
}

// Go's http.StatusText knows these codes; retryOn accepts any of them.
const KNOWN_STATUS = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308,
  ...Array.from({ length: 19 }, (_, i) => 400 + i), 421, 422, 423, 424, 425, 426, 428, 429, 431, 451,
  500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

/** What checkRetry would report, as lines (meshConfig defaultHttpRetryPolicy has no resource to point at). */
export function retryProblems(retry: HTTPRetry): string[] {
  const out: string[] = [];
  const note = (path: Path, message: string) => { out.push(`${path.join('.')}: ${message}`); };
  const types: [keyof HTTPRetry, string][] = [['attempts', 'number'], ['perTryTimeout', 'string'], ['retryOn', 'string'], ['backoff', 'string'], ['retryRemoteLocalities', 'boolean']];
  for (const [k, t] of types) if (retry[k] !== undefined && typeof retry[k] !== t) out.push(`${k}: expected a ${t}, got ${JSON.stringify(retry[k])}`);
  if (out.length) return out;
  checkRetry(retry, [], { error: note, warn: () => {}, add: () => {}, diagnostics: [] });
  return out;
}

function checkRetry(retry: HTTPRetry, path: Path, report: Reporter): void {
  const attempts = retry.attempts ?? 0;
  if (attempts < 0) report.error([...path, 'attempts'], 'attempts cannot be negative', 'use 0 (no retries) or more');
  if (attempts === 0 && (retry.perTryTimeout !== undefined || !!retry.retryOn || retry.retryRemoteLocalities !== undefined)) {
    report.error([...path, 'attempts'], 'http retry policy configured when attempts are set to 0 (disabled)', 'set attempts > 0, or remove perTryTimeout, retryOn and retryRemoteLocalities');
  }
  checkDuration(retry.perTryTimeout, [...path, 'perTryTimeout'], report);
  checkDuration(retry.backoff, [...path, 'backoff'], report);
  // Istio splits on "," without trimming, so "5xx, reset" is refused: the policy is " reset".
  for (const policy of retry.retryOn ? retry.retryOn.split(',') : []) {
    const code = /^[+-]?\d+$/.test(policy) ? Number(policy) : NaN;
    if (KNOWN_STATUS.has(code) || RETRY_ON.includes(policy)) continue;
    report.error([...path, 'retryOn'], `${JSON.stringify(policy)} is not a valid retryOn policy`, `use ${RETRY_ON.slice(0, 5).join(', ')}, ... or an HTTP status code, comma-separated without spaces`);
  }
}

function checkPercentage(p: Percent | undefined, path: Path, report: Reporter): void {
  const v = p?.value;
  if (typeof v !== 'number') return;
  if (v < 0 || v > 100 || (v > 0 && v < 0.0001)) report.error(path, `percentage ${v} is neither 0.0, nor in range [0.0001, 100.0]`, 'use 0, or a value between 0.0001 and 100');
}

// Istio's grpc.SupportedGRPCStatus, in code order (OK is 0).
export const GRPC_STATUS = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

function checkFault(f: NonNullable<HTTPRoute['fault']>, path: Path, report: Reporter): void {
  if (!f.delay && !f.abort) report.error(path, 'HTTP fault injection must have an abort and/or a delay', 'add fault.delay or fault.abort');
  if (f.abort) {
    const p = [...path, 'abort'];
    checkPercentage(f.abort.percentage, [...p, 'percentage'], report);
    if (f.abort.grpcStatus !== undefined) {
      if (!GRPC_STATUS.includes(f.abort.grpcStatus)) report.error([...p, 'grpcStatus'], `gRPC status ${JSON.stringify(f.abort.grpcStatus)} is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'`, 'use a gRPC status name such as UNAVAILABLE');
    } else if (f.abort.http2Error !== undefined) report.error([...p, 'http2Error'], 'HTTP/2 abort fault injection not supported yet', 'use httpStatus');
    else if (f.abort.httpStatus !== undefined) checkStatus(f.abort.httpStatus, [...p, 'httpStatus'], report);
    else report.warn(p, 'abort configured, but error type not set', 'set httpStatus or grpcStatus');
  }
  if (f.delay) {
    const p = [...path, 'delay'];
    checkPercentage(f.delay.percentage, [...p, 'percentage'], report);
    checkDuration(f.delay.fixedDelay, [...p, 'fixedDelay'], report);
    if (f.delay.exponentialDelay !== undefined) {
      checkDuration(f.delay.exponentialDelay, [...p, 'exponentialDelay'], report);
      report.error([...p, 'exponentialDelay'], 'exponentialDelay not supported yet', 'use fixedDelay');
    }
  }
}

const CORS_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', '*'];
const TOKEN = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;

function checkCors(c: HTTPRoute['corsPolicy'], path: Path, report: Reporter): void {
  if (!c) return;
  (c.allowOrigins ?? []).forEach((o, i) => {
    const p = [...path, 'allowOrigins', i];
    const v = o?.exact ?? o?.prefix ?? o?.regex ?? '';
    if (v === '') return report.error(p, `'' is not a valid match type for CORS allow origins`, 'set exact, prefix or regex');
    if (o?.regex !== undefined) checkRegexAt(o.regex, 'corsPolicy.allowOrigins', [...p, 'regex'], report);
  });
  (c.allowMethods ?? []).forEach((m, i) => {
    if (!CORS_METHODS.includes(m)) report.error([...path, 'allowMethods', i], `${JSON.stringify(m)} is not a supported HTTP method`, 'use an upper-case method such as GET');
  });
  for (const f of ['allowHeaders', 'exposeHeaders'] as const) {
    (c[f] ?? []).forEach((h, i) => {
      if (h === '') report.error([...path, f, i], 'header name cannot be empty', 'name the header');
      else if (h !== '*' && !TOKEN.test(h)) report.error([...path, f, i], `header name ${h} is not a valid header name`, 'use a valid header name');
    });
  }
  const ms = checkDuration(c.maxAge, [...path, 'maxAge'], report);
  if (ms !== undefined && ms % 1000 !== 0) report.error([...path, 'maxAge'], 'max_age duration is accurate only to seconds precision', 'use whole seconds');
}
