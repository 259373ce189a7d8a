// VirtualService match conditions: Istio's validateHTTPRouteMatchRequest, validateStringMatch,
// validateTLSMatch/validateSniHost and validateGatewayNames (pkg/config/validation/virtualservice.go
// and validation.go). Messages are Istio's, quoting included, so users can search them.
import type { Reporter } from '../diag.ts';
import { checkGatewayBoundDomain, checkIpOrCidr, checkLabelValue, checkQualifiedName, checkWildcardDomain, isDns1123Label, isIpAddress, checkFqdn } from '../names.ts';
import type { Path } from '../schema.ts';
import { translateRe2 } from '../re2.ts';
import { portInRange, portRangeMessage } from './common.ts';
import { checkMatchHeaderName } from './header-rules.ts';
import { hostSubsetOf } from './host-match.ts';
import type { HTTPMatchRequest, L4MatchAttributes, StringMatch } from './virtual-service.ts';

const RE2_HINT = 'Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)';

/** Why Go's regexp (istiod's check; RE2 syntax) would refuse the pattern, or undefined. */
export function re2Problem(re: string): string | undefined {
  const t = translateRe2(re);
  return t.ok ? undefined : t.error;
}

/** Istio's validateStringRegexp. `where` is quoted as Go's %q would. */
export function checkRegexAt(re: string, where: string, path: Path, report: Reporter): void {
  if (re.length > 1024) return report.error(path, `"${where}": regex is too large, max length allowed is 1024`, 'shorten the regex');
  const problem = re2Problem(re);
  if (problem) report.error(path, `"${where}": ${problem}; ${RE2_HINT}`, 'fix the regex (RE2 syntax)');
}

/** validateStringMatchRegexp: only the regex arm is checked (the uri match allows an empty prefix). */
function checkRegexArm(m: StringMatch | null | undefined, where: string, path: Path, report: Reporter): void {
  if (m?.regex === undefined) return;
  if (m.regex === '') return report.error([...path, 'regex'], `"${where}": regex string match should not be empty`, 'write a regex, or drop the match');
  checkRegexAt(m.regex, where, [...path, 'regex'], report);
}

/** validateStringMatch: an empty prefix matches nothing Envoy accepts outside the uri. */
function checkStringMatch(m: StringMatch | null | undefined, where: string, path: Path, report: Reporter): void {
  if (m == null) return;
  const set = (['exact', 'prefix', 'regex'] as const).filter((k) => m[k] !== undefined);
  if (set.length > 1) report.error(path, `only one of exact, prefix or regex may be set (got ${set.join(', ')})`, 'keep one');
  if (m.prefix === '') report.error([...path, 'prefix'], `"${where}": prefix string match should not be empty`, 'write a prefix, or use {} to match presence');
  checkRegexArm(m, where, path, report);
}

export function checkHttpMatch(m: HTTPMatchRequest, path: Path, report: Reporter): void {
  for (const [name, h] of Object.entries(m.headers ?? {})) {
    const p = [...path, 'headers', name];
    const bad = checkMatchHeaderName(name);
    if (bad) report.error(p, bad, 'use a valid header name');
    checkStringMatch(h, 'headers', p, report);
  }
  for (const [name, h] of Object.entries(m.withoutHeaders ?? {})) {
    const p = [...path, 'withoutHeaders', name];
    const bad = checkMatchHeaderName(name);
    if (bad) report.error(p, bad, 'use a valid header name');
    // `regex: "*"` is not a regex: Istio reads it as "header present".
    if (h != null && h.regex !== '*') checkStringMatch(h, 'withoutHeaders', p, report);
  }
  if (m.uri) {
    const set = (['exact', 'prefix', 'regex'] as const).filter((k) => m.uri![k] !== undefined);
    if (set.length > 1) report.error([...path, 'uri'], `only one of exact, prefix or regex may be set (got ${set.join(', ')})`, 'keep one');
    checkRegexArm(m.uri, 'uri', [...path, 'uri'], report);
  }
  for (const f of ['scheme', 'method', 'authority'] as const) checkStringMatch(m[f], f, [...path, f], report);
  for (const [name, q] of Object.entries(m.queryParams ?? {})) checkStringMatch(q, 'queryParams', [...path, 'queryParams', name], report);
  if (m.port !== undefined && m.port !== 0) checkPort(m.port, [...path, 'port'], report);
  checkLabels(m.sourceLabels, [...path, 'sourceLabels'], report);
  checkGatewayNames(m.gateways ?? [], [...path, 'gateways'], report);
  if (m.sourceNamespace && !isDns1123Label(m.sourceNamespace)) {
    report.error([...path, 'sourceNamespace'], `sourceNamespace match ${m.sourceNamespace} is invalid`, 'use a namespace name');
  }
}

export function checkL4Match(m: L4MatchAttributes, path: Path, report: Reporter): void {
  (m.destinationSubnets ?? []).forEach((s, i) => {
    const bad = checkIpOrCidr(s);
    if (bad) report.error([...path, 'destinationSubnets', i], bad, 'use an IP or a CIDR block');
  });
  if (m.port !== undefined && m.port !== 0) checkPort(m.port, [...path, 'port'], report);
  checkLabels(m.sourceLabels, [...path, 'sourceLabels'], report);
  checkGatewayNames(m.gateways ?? [], [...path, 'gateways'], report);
}

export function checkPort(n: number, path: Path, report: Reporter): void {
  if (!portInRange(n)) report.error(path, portRangeMessage(n), 'use a port between 1 and 65535');
}

function checkLabels(labels: Readonly<Record<string, string>> | undefined, path: Path, report: Reporter): void {
  for (const [k, v] of Object.entries(labels ?? {})) {
    const bad = checkQualifiedName(k) ?? checkLabelValue(v);
    if (bad) report.error([...path, k], bad, 'fix the label key or value syntax');
  }
}

/**
 * validateGatewayNames: `mesh`, `name`, `namespace/name`, or the legacy `name.namespace[.svc...]`
 * form, which works but is warned. Istio stops at the first name without a slash; so do we.
 */
export function checkGatewayNames(names: readonly string[], path: Path, report: Reporter): void {
  for (const [i, g] of names.entries()) {
    const p = [...path, i];
    const slash = g.indexOf('/');
    if (slash < 0) {
      if (g.includes('.')) {
        const [name, ns] = g.split('.');
        report.warn(p, `using legacy gatewayName format ${JSON.stringify(g)}; prefer the <namespace>/<name> format: ${JSON.stringify(`${ns}/${name}`)}`, `write ${ns}/${name}`);
      }
      const bad = checkFqdn(g);
      if (bad) report.error(p, bad, 'use "mesh", "name" or "namespace/name"');
      return;
    }
    const ns = g.slice(0, slash);
    const name = g.slice(slash + 1);
    if (ns === '' || name === '') report.error(p, 'config namespace and gateway name cannot be empty', 'write namespace/name');
    if (!isDns1123Label(ns)) report.error(p, `invalid value for namespace: ${JSON.stringify(ns)}`, 'use a namespace name');
    if (!isDns1123Label(name)) report.error(p, `invalid value for gateway name: ${JSON.stringify(name)}`, 'use the Gateway\'s metadata.name');
  }
}

/** validateSniHost: a (wildcard) domain that falls under one of the VirtualService hosts; an IP only warns. */
export function checkSniHost(sni: string, hosts: readonly string[], boundToGateway: boolean, path: Path, report: Reporter): void {
  const bad = boundToGateway ? checkGatewayBoundDomain(true, sni) : checkWildcardDomain(sni);
  if (bad) {
    if (isIpAddress(sni)) return report.warn(path, `using an IP address (${JSON.stringify(sni)}) goes against SNI spec and most clients do not support this`, 'match on destinationSubnets instead, or use a DNS name');
    return report.error(path, bad, 'use a DNS name, optionally with a leading "*."');
  }
  if (hosts.some((h) => hostSubsetOf(sni, h))) return;
  report.error(path, `SNI host ${JSON.stringify(sni)} is not a compatible subset of any of the virtual service hosts: [${hosts.join(', ')}]`, 'list an SNI host covered by spec.hosts');
}
