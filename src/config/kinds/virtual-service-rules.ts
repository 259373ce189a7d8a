// VirtualService rules: Istio's ValidateVirtualService (pkg/config/validation/validation.go and
// virtualservice.go) and agent.ValidateHTTPRetry, as listed in reference §6.3. Messages are Istio's
// where Istio has one. HTTP routes are in virtual-service-http-rules.ts, matches in
// virtual-service-match-rules.ts. The duration and host helpers are shared with the DestinationRule
// and HTTPRoute rules.
import { parseDurationMs } from '../duration.ts';
import type { Reporter } from '../diag.ts';
import { checkGatewayBoundDomain, checkWildcardDomain, isDns1123Label, isIpAddress } from '../names.ts';
import type { Path } from '../schema.ts';
import type { Rules } from './common.ts';
import { isJwtClaimRoute } from './header-rules.ts';
import { checkExportTo } from './service-entry-rules.ts';
import { hostsOverlap } from './host-match.ts';
import { checkHttpRoute } from './virtual-service-http-rules.ts';
import { checkGatewayNames, checkL4Match, checkPort, checkSniHost, re2Problem } from './virtual-service-match-rules.ts';
import type { Destination, VirtualServiceSpec } from './virtual-service.ts';

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
  const problem = re2Problem(v);
  if (problem) report.error(path, `"${v}" is not a valid regex: ${problem}`, 'use RE2 syntax');
}

export const virtualServiceRules: Rules<VirtualServiceSpec> = (spec, r, report) => {
  const hosts = spec.hosts ?? [];
  const gateways = spec.gateways ?? [];
  const delegate = hosts.length === 0;
  if (delegate) checkDelegate(spec, report);
  // Bound to gateways only when gateways are listed and none is the mesh.
  const boundToGateway = gateways.length > 0 && !gateways.includes('mesh');
  checkGatewayNames(gateways, ['spec', 'gateways'], report);
  if (!boundToGateway) checkJwtClaimRoutes(spec, report);
  checkHosts(spec, hosts, boundToGateway, report);
  if (!spec.http?.length && !spec.tcp?.length && !spec.tls?.length) {
    report.error(['spec'], 'http, tcp or tls must be provided in virtual service', 'add an http route');
  }
  (spec.http ?? []).forEach((route, i) => checkHttpRoute(route, ['spec', 'http', i], delegate, report));
  (spec.tls ?? []).forEach((route, i) => {
    const path = ['spec', 'tls', i];
    if (!route.match?.length) report.error(path, 'TLS route must have at least one match condition', 'add match: [{sniHosts: [...]}]');
    (route.match ?? []).forEach((m, j) => {
      const mp = [...path, 'match', j];
      if (!m.sniHosts?.length) report.error(mp, 'TLS match must have at least one SNI host', 'add sniHosts');
      (m.sniHosts ?? []).forEach((sni, k) => checkSniHost(sni, hosts, boundToGateway, [...mp, 'sniHosts', k], report));
      checkL4Match(m, mp, report);
    });
    checkL4Route(route.route, 'TLS', path, report);
  });
  (spec.tcp ?? []).forEach((route, i) => {
    const path = ['spec', 'tcp', i];
    (route.match ?? []).forEach((m, j) => checkL4Match(m, [...path, 'match', j], report));
    checkL4Route(route.route, 'TCP', path, report);
  });
  checkExportTo(spec.exportTo ?? [], r.metadata.namespace, report, 'other');
};

function checkDelegate(spec: VirtualServiceSpec, report: Reporter): void {
  if (spec.gateways?.length) report.error(['spec', 'gateways'], 'delegate virtual service must have no gateways specified', 'add hosts, or remove gateways');
  if (spec.tls?.length) report.error(['spec', 'tls'], 'delegate virtual service must have no tls route specified', 'add hosts, or remove tls');
  if (spec.tcp?.length) report.error(['spec', 'tcp'], 'delegate virtual service must have no tcp route specified', 'add hosts, or remove tcp');
}

/** Routing on `@request.auth.claims.*` needs a gateway's JWT filter; the mesh has none. */
function checkJwtClaimRoutes(spec: VirtualServiceSpec, report: Reporter): void {
  (spec.http ?? []).forEach((route, i) => (route.match ?? []).forEach((m, j) => {
    for (const f of ['headers', 'withoutHeaders'] as const) {
      for (const key of Object.keys(m?.[f] ?? {})) {
        if (!isJwtClaimRoute(key)) continue;
        report.error(['spec', 'http', i, 'match', j, f, key], `JWT claim based routing (key: ${key}) is only supported for gateway, found no gateways: [${(spec.gateways ?? []).join(' ')}]`, 'bind the VirtualService to an ingress gateway, or match on a header');
      }
    }
  }));
}

function checkHosts(spec: VirtualServiceSpec, hosts: readonly string[], boundToGateway: boolean, report: Reporter): void {
  const sni = (spec.tls ?? []).some((t) => (t.match ?? []).some((m) => (m.sniHosts ?? []).length > 0));
  let allValid = true;
  hosts.forEach((h, i) => {
    const path = ['spec', 'hosts', i];
    const problem = boundToGateway ? checkGatewayBoundDomain(sni, h) : checkWildcardDomain(h);
    if (problem) {
      // An IP address is accepted as a host.
      if (!isIpAddress(h)) {
        report.error(path, problem, 'use a DNS name such as api.example.com, optionally with a leading "*."');
        allValid = false;
      }
    } else if (!boundToGateway && h === '*') {
      report.error(path, 'wildcard host * is not allowed for virtual services bound to the mesh gateway', 'list the hosts, or bind the VirtualService to a gateway');
      allValid = false;
    }
  });
  if (!allValid) return;
  // Duplicates include overlapping wildcards: *.foo.com and *.com in one VirtualService.
  for (let i = 0; i < hosts.length; i++) {
    for (let j = i + 1; j < hosts.length; j++) {
      if (hostsOverlap(hosts[i], hosts[j])) {
        report.error(['spec', 'hosts', j], `duplicate hosts in virtual service: ${hosts[i]} & ${hosts[j]}`, 'list each host once; a wildcard already covers the names under it');
      }
    }
  }
}

function checkL4Route(route: readonly { destination: Destination; weight?: number }[] | undefined, kind: 'TLS' | 'TCP', path: Path, report: Reporter): void {
  if (!route?.length) report.error([...path, 'route'], `${kind} route is required`, 'add route: [{destination: {host: ...}}]');
  (route ?? []).forEach((d, j) => checkDestination(d.destination, [...path, 'route', j, 'destination'], report));
  checkWeights((route ?? []).map((d) => d.weight), [...path, 'route'], report);
}

/** validateDestination: host, subset name and port. */
export function checkDestination(d: Destination, path: Path, report: Reporter): void {
  if (!d.host) return report.error([...path, 'host'], 'destination must have a host', 'set destination.host');
  if (d.host === '*') report.error([...path, 'host'], 'invalid destination host *', 'name a host');
  else checkHost(d.host, [...path, 'host'], report);
  if (d.subset !== undefined) {
    if (d.subset === '') report.error([...path, 'subset'], 'subset name cannot be empty', 'name the subset, or remove subset');
    else if (!isDns1123Label(d.subset)) report.error([...path, 'subset'], `subset name is invalid: ${d.subset}`, 'use a DNS label: lower-case letters, digits and dashes');
  }
  if (d.port) checkPort(d.port.number ?? 0, [...path, 'port', 'number'], report);
}

export function checkWeights(weights: readonly (number | undefined)[], path: Path, report: Reporter): void {
  weights.forEach((w, i) => { if (w !== undefined && w < 0) report.error([...path, i, 'weight'], `weight ${w} < 0`, 'use a weight of 0 or more'); });
  if (weights.length > 1 && weights.reduce<number>((a, w) => a + (w ?? 0), 0) === 0) {
    report.error(path, 'total destination weight = 0', 'give at least one destination a positive weight');
  }
}
