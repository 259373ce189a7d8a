// DestinationRule rules: Istio's ValidateDestinationRule and validateTLS / validateLoadBalancer /
// validateConnectionPool / validateOutlierDetection, as listed in reference §6.4.
import type { Reporter } from '../diag.ts';
import { checkLabelValue, checkQualifiedName } from '../names.ts';
import type { Path } from '../schema.ts';
import type { Rules } from './common.ts';
import type { ClientTLSSettings, DestinationRuleSpec, LoadBalancerSettings, PortTrafficPolicy, TrafficPolicy } from './destination-rule.ts';
import { checkDuration, checkHost } from './virtual-service-rules.ts';

export const destinationRuleRules: Rules<DestinationRuleSpec> = (spec, _r, report) => {
  if (spec.host === '*') report.error(['spec', 'host'], 'invalid host *', 'name the host, e.g. api.example.com');
  else checkHost(spec.host, ['spec', 'host'], report);
  if (spec.trafficPolicy) checkTrafficPolicy(spec.trafficPolicy, ['spec', 'trafficPolicy'], report);
  const names = new Set<string>();
  (spec.subsets ?? []).forEach((sub, i) => {
    const path = ['spec', 'subsets', i];
    if (!sub.name) report.error([...path, 'name'], 'subset name is invalid: ""', 'name the subset');
    else if (names.has(sub.name)) report.error([...path, 'name'], `duplicate subset names: ${sub.name}`, 'give each subset a unique name');
    names.add(sub.name);
    for (const [k, v] of Object.entries(sub.labels ?? {})) {
      const p = checkQualifiedName(k) ?? checkLabelValue(v);
      if (p) report.error([...path, 'labels', k], p, 'fix the label key or value syntax');
    }
    if (sub.trafficPolicy) checkTrafficPolicy(sub.trafficPolicy, [...path, 'trafficPolicy'], report);
  });
};

function checkTrafficPolicy(tp: TrafficPolicy, path: Path, report: Reporter): void {
  const empty = !tp.loadBalancer && !tp.connectionPool && !tp.outlierDetection && !tp.tls && !tp.portLevelSettings?.length && !tp.tunnel && !tp.proxyProtocol && !tp.retryBudget;
  if (empty) report.error(path, 'traffic policy must have at least one field', 'set a field, or remove trafficPolicy');
  checkPortPolicy(tp, path, report);
  (tp.portLevelSettings ?? []).forEach((p, i) => {
    const pp = [...path, 'portLevelSettings', i];
    if (!p.port?.number) report.error([...pp, 'port'], 'port must be specified', 'add port: {number: 80}');
    else if (p.port.number < 1 || p.port.number > 65535) report.error([...pp, 'port', 'number'], `port number ${p.port.number} must be in the range 1..65535`, 'use a service port');
    if (!p.loadBalancer && !p.connectionPool && !p.outlierDetection && !p.tls) report.error(pp, 'port traffic policy must have at least one field', 'set tls, connectionPool, outlierDetection or loadBalancer');
    checkPortPolicy(p, pp, report);
  });
}

function checkPortPolicy(p: Omit<PortTrafficPolicy, 'port'>, path: Path, report: Reporter): void {
  if (p.tls) checkTls(p.tls, [...path, 'tls'], report);
  if (p.loadBalancer) checkLoadBalancer(p.loadBalancer, [...path, 'loadBalancer'], report);
  const tcp = p.connectionPool?.tcp;
  const http = p.connectionPool?.http;
  const cp = [...path, 'connectionPool'];
  if (p.connectionPool && !tcp && !http) report.error(cp, 'must have at least one field', 'set tcp or http');
  for (const f of ['connectTimeout', 'maxConnectionDuration', 'idleTimeout'] as const) checkDuration(tcp?.[f], [...cp, 'tcp', f], report);
  checkDuration(tcp?.tcpKeepalive?.time, [...cp, 'tcp', 'tcpKeepalive', 'time'], report);
  checkDuration(tcp?.tcpKeepalive?.interval, [...cp, 'tcp', 'tcpKeepalive', 'interval'], report);
  checkDuration(http?.idleTimeout, [...cp, 'http', 'idleTimeout'], report);
  for (const [f, v] of Object.entries({ ...tcp, ...http })) {
    if (typeof v === 'number' && v < 0) report.error([...cp, tcp && f in tcp ? 'tcp' : 'http', f], `${f} must not be negative`, 'use 0 or more');
  }
  const od = p.outlierDetection;
  if (od) {
    const op = [...path, 'outlierDetection'];
    checkDuration(od.interval, [...op, 'interval'], report);
    checkDuration(od.baseEjectionTime, [...op, 'baseEjectionTime'], report);
    for (const f of ['maxEjectionPercent', 'minHealthPercent'] as const) {
      const v = od[f];
      if (v !== undefined && (v < 0 || v > 100)) report.error([...op, f], `outlier detection ${f} must be in range [0, 100]`, 'use a percentage');
    }
    for (const f of ['consecutiveErrors', 'consecutiveGatewayErrors', 'consecutive5xxErrors', 'consecutiveLocalOriginFailures'] as const) {
      if ((od[f] ?? 0) < 0) report.error([...op, f], `outlier detection ${f} cannot be negative`, 'use 0 or more');
    }
  }
}

function checkTls(tls: ClientTLSSettings, path: Path, report: Reporter): void {
  const mode = tls.mode ?? 'DISABLE';
  const paths = ['clientCertificate', 'privateKey', 'caCertificates', 'caCrl'] as const;
  if (mode === 'ISTIO_MUTUAL') {
    for (const f of [...paths, 'credentialName'] as const) {
      if (tls[f]) report.error([...path, f], `cannot specify ${f} when mode is ISTIO_MUTUAL: istiod provisions the certificates`, `remove ${f}, or use mode MUTUAL`);
    }
    return;
  }
  if (tls.credentialName) {
    for (const f of paths) if (tls[f]) report.error([...path, f], `cannot specify ${f} with credentialName`, `remove ${f}: the Secret named by credentialName holds it`);
  } else if (mode === 'MUTUAL') {
    if (!tls.clientCertificate) report.error([...path, 'clientCertificate'], 'client certificate required for mutual tls', 'set clientCertificate and privateKey, or credentialName');
    if (!tls.privateKey) report.error([...path, 'privateKey'], 'private key required for mutual tls', 'set clientCertificate and privateKey, or credentialName');
  }
  if (tls.insecureSkipVerify && (mode === 'SIMPLE' || mode === 'MUTUAL')) {
    for (const f of ['caCertificates', 'subjectAltNames'] as const) {
      const v = tls[f];
      if (Array.isArray(v) ? v.length : v) report.error([...path, f], `cannot specify ${f} when insecureSkipVerify is set to true`, `remove ${f}, or insecureSkipVerify`);
    }
    if (tls.credentialName && mode === 'SIMPLE') report.error([...path, 'credentialName'], 'cannot specify credentialName when insecureSkipVerify is set to true', 'remove credentialName, or insecureSkipVerify');
  }
}

function checkLoadBalancer(lb: LoadBalancerSettings, path: Path, report: Reporter): void {
  const ch = lb.consistentHash;
  if (!ch) return;
  const hp = [...path, 'consistentHash'];
  const keys = [ch.httpHeaderName, ch.httpCookie, ch.useSourceIp, ch.httpQueryParameterName].filter((k) => k !== undefined && k !== false);
  if (keys.length !== 1) report.error(hp, 'consistentHash must set exactly one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName', 'keep one hash key');
  const sizes = [ch.minimumRingSize !== undefined, ch.ringHash !== undefined, ch.maglev !== undefined].filter(Boolean).length;
  if (sizes > 1) report.error(hp, 'only one of minimumRingSize, ringHash or maglev can be specified', 'keep one');
  checkDuration(ch.httpCookie?.ttl, [...hp, 'httpCookie', 'ttl'], report, true);
  if (lb.simple && ch) report.error(path, 'only one of simple or consistentHash can be set', 'keep one');
}
