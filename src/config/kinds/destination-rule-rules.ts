// DestinationRule rules: Istio's ValidateDestinationRule and validateTLS / validateLoadBalancer /
// validateConnectionPool / validateOutlierDetection, as listed in reference §6.4.
import type { Reporter } from '../diag.ts';
import { checkFqdn, checkLabelValue, checkQualifiedName, isDns1123Label, isIpAddress } from '../names.ts';
import { checkWorkloadSelector } from './label-selector.ts';
import { checkExportTo } from './service-entry-rules.ts';
import type { Path } from '../schema.ts';
import { portInRange, portRangeMessage } from './common.ts';
import type { Rules } from './common.ts';
import type { ClientTLSSettings, DestinationRuleSpec, LoadBalancerSettings, PortTrafficPolicy, TrafficPolicy } from './destination-rule.ts';
import { checkDuration, checkHost } from './virtual-service-rules.ts';

export const destinationRuleRules: Rules<DestinationRuleSpec> = (spec, r, report) => {
  if (spec.host === '*') report.error(['spec', 'host'], 'invalid host *', 'name the host, e.g. api.example.com');
  else checkHost(spec.host, ['spec', 'host'], report);
  if (spec.trafficPolicy) checkTrafficPolicy(spec.trafficPolicy, ['spec', 'trafficPolicy'], report);
  const names = new Set<string>();
  (spec.subsets ?? []).forEach((sub, i) => {
    const path = ['spec', 'subsets', i];
    if (names.has(sub.name)) report.error([...path, 'name'], `duplicate subset names: ${sub.name}`, 'give each subset a unique name');
    if (!sub.name) report.error([...path, 'name'], 'subset name cannot be empty', 'name the subset');
    else if (!isDns1123Label(sub.name)) report.error([...path, 'name'], `subset name is invalid: ${sub.name}`, 'use a DNS label: lower-case letters, digits and dashes');
    names.add(sub.name);
    for (const [k, v] of Object.entries(sub.labels ?? {})) {
      const p = checkQualifiedName(k) ?? checkLabelValue(v);
      if (p) report.error([...path, 'labels', k], p, 'fix the label key or value syntax');
    }
    if (sub.trafficPolicy) checkTrafficPolicy(sub.trafficPolicy, [...path, 'trafficPolicy'], report);
  });
  if (spec.workloadSelector) checkWorkloadSelector(spec.workloadSelector.matchLabels, ['spec', 'workloadSelector'], report);
  checkExportTo(spec.exportTo ?? [], r.metadata.namespace, report, spec.workloadSelector ? 'selector-DestinationRule' : 'other');
};

function checkTrafficPolicy(tp: TrafficPolicy, path: Path, report: Reporter): void {
  const empty = !tp.loadBalancer && !tp.connectionPool && !tp.outlierDetection && !tp.tls && !tp.portLevelSettings?.length && !tp.tunnel && !tp.proxyProtocol && !tp.retryBudget;
  if (empty) report.error(path, 'traffic policy must have at least one field', 'set a field, or remove trafficPolicy');
  if (tp.tunnel && tp.proxyProtocol) report.error([...path, 'tunnel'], 'tunnel and proxyProtocol must not be set together', 'keep one');
  if (tp.tunnel) checkTunnel(tp.tunnel, [...path, 'tunnel'], report);
  checkPortPolicy(tp, path, report);
  (tp.portLevelSettings ?? []).forEach((p, i) => {
    const pp = [...path, 'portLevelSettings', i];
    if (!p.port) report.error([...pp, 'port'], 'portTrafficPolicy must have valid port', 'add port: {number: 80}');
    else if (!portInRange(p.port.number ?? 0)) report.error([...pp, 'port', 'number'], portRangeMessage(p.port.number ?? 0), 'use a service port');
    if (!p.loadBalancer && !p.connectionPool && !p.outlierDetection && !p.tls) report.error(pp, 'port traffic policy must have at least one field', 'set tls, connectionPool, outlierDetection or loadBalancer');
    else checkPortPolicy(p, pp, report);
  });
}

function checkTunnel(t: NonNullable<TrafficPolicy['tunnel']>, path: Path, report: Reporter): void {
  if (t.protocol && t.protocol !== 'CONNECT' && t.protocol !== 'POST') report.error([...path, 'protocol'], 'tunnel protocol must be "CONNECT" or "POST"', 'use CONNECT or POST');
  const fqdn = checkFqdn(t.targetHost);
  if (fqdn && !isIpAddress(t.targetHost)) report.error([...path, 'targetHost'], `tunnel target host must be valid FQDN or IP address: ${fqdn}; ${t.targetHost} is not a valid IP`, 'use a DNS name or an IP');
  if (!portInRange(t.targetPort)) report.error([...path, 'targetPort'], `tunnel target port is invalid: ${portRangeMessage(t.targetPort)}`, 'use a port between 1 and 65535');
}

const NON_NEGATIVE: Readonly<Record<string, string>> = {
  http1MaxPendingRequests: 'http1 max pending requests', http2MaxRequests: 'http2 max requests',
  maxRequestsPerConnection: 'max requests per connection', maxRetries: 'max retries',
  maxConcurrentStreams: 'max concurrent streams', maxConnections: 'max connections',
};

function checkConnectionPool(cp: NonNullable<PortTrafficPolicy['connectionPool']>, path: Path, report: Reporter): void {
  const { tcp, http } = cp;
  if (!tcp && !http) return report.error(path, 'connection pool must have at least one field', 'set tcp or http');
  for (const [side, fields] of [['tcp', tcp], ['http', http]] as const) {
    for (const [f, v] of Object.entries(fields ?? {})) {
      if (typeof v === 'number' && v < 0 && NON_NEGATIVE[f]) report.error([...path, side, f], `${NON_NEGATIVE[f]} must be non-negative`, 'use 0 or more');
    }
  }
  for (const f of ['connectTimeout', 'maxConnectionDuration'] as const) checkDuration(tcp?.[f], [...path, 'tcp', f], report);
  // tcp.idleTimeout 0s disables the timeout (Istio skips its check); http.idleTimeout has no such case.
  checkDuration(tcp?.idleTimeout, [...path, 'tcp', 'idleTimeout'], report, true);
  checkDuration(tcp?.tcpKeepalive?.time, [...path, 'tcp', 'tcpKeepalive', 'time'], report);
  checkDuration(tcp?.tcpKeepalive?.interval, [...path, 'tcp', 'tcpKeepalive', 'interval'], report);
  checkDuration(http?.idleTimeout, [...path, 'http', 'idleTimeout'], report);
  if (http?.h2UpgradePolicy === 'UPGRADE' && http.useClientProtocol) {
    report.error([...path, 'http', 'useClientProtocol'], 'use client protocol must not be true when H2UpgradePolicy is UPGRADE', 'drop useClientProtocol, or h2UpgradePolicy UPGRADE');
  }
  checkDuration(http?.http2KeepAlive?.interval, [...path, 'http', 'http2KeepAlive', 'interval'], report);
  checkDuration(http?.http2KeepAlive?.timeout, [...path, 'http', 'http2KeepAlive', 'timeout'], report);
  if (http?.http2KeepAlive !== undefined) report.warn([...path, 'http', 'http2KeepAlive'], 'http2KeepAlive is not applied by the Egressway waypoint; upstream HTTP/2 connections get no keepalive pings', 'remove it, or rely on tcp.tcpKeepalive');
}

function checkOutlier(od: NonNullable<PortTrafficPolicy['outlierDetection']>, path: Path, report: Reporter): void {
  checkDuration(od.interval, [...path, 'interval'], report);
  checkDuration(od.baseEjectionTime, [...path, 'baseEjectionTime'], report);
  if (od.consecutiveErrors !== undefined && od.consecutiveErrors !== 0) {
    report.warn([...path, 'consecutiveErrors'], 'outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead', `write consecutiveGatewayErrors: ${od.consecutiveErrors}`);
  }
  if (!od.splitExternalLocalOriginErrors && (od.consecutiveLocalOriginFailures ?? 0) > 0) {
    report.error([...path, 'consecutiveLocalOriginFailures'], 'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false', 'set splitExternalLocalOriginErrors: true');
  }
  for (const f of ['maxEjectionPercent', 'minHealthPercent'] as const) {
    const v = od[f];
    if (v !== undefined && (v < 0 || v > 100)) report.error([...path, f], `percentage ${v} is not in range 0..100`, 'use a percentage');
  }
  for (const f of ['consecutiveGatewayErrors', 'consecutive5xxErrors', 'consecutiveLocalOriginFailures'] as const) {
    if ((od[f] ?? 0) < 0) report.error([...path, f], `outlier detection ${f} cannot be negative`, 'use 0 or more');
  }
}

function checkPortPolicy(p: Omit<PortTrafficPolicy, 'port'>, path: Path, report: Reporter): void {
  if (p.tls) checkTls(p.tls, [...path, 'tls'], report);
  if (p.loadBalancer) checkLoadBalancer(p.loadBalancer, [...path, 'loadBalancer'], report);
  if (p.connectionPool) checkConnectionPool(p.connectionPool, [...path, 'connectionPool'], report);
  if (p.outlierDetection) checkOutlier(p.outlierDetection, [...path, 'outlierDetection'], report);
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
  checkWarmup(lb.warmup, [...path, 'warmup'], report);
  if (lb.localityLbSetting) checkLocality(lb.localityLbSetting, [...path, 'localityLbSetting'], report);
  if (lb.localityLbSetting !== undefined && lb.zoneAwareLbSetting !== undefined) {
    report.error([...path, 'zoneAwareLbSetting'], 'only one of localityLbSetting or zoneAwareLbSetting can be set', 'keep one');
  }
  // istio/api ZoneAwareLoadBalancerSetting: region, zone and subzone routing is automatic, so
  // failoverPriority must not name those topology labels (the wording here is ours).
  const zoneTopo = (lb.zoneAwareLbSetting?.failoverPriority ?? []).find((p) => TOPOLOGY_LABELS.includes(p));
  if (zoneTopo) report.error([...path, 'zoneAwareLbSetting', 'failoverPriority'], `zoneAwareLbSetting failoverPriority must not include topology label '${zoneTopo}'`, 'drop it: region, zone and subzone are applied automatically');
  if (lb.zoneAwareLbSetting !== undefined) {
    report.warn([...path, 'zoneAwareLbSetting'], 'zoneAwareLbSetting is not supported in ambient mode: the waypoint does not apply it', 'remove it; use localityLbSetting');
  }
  const ch = lb.consistentHash;
  if (!ch) return;
  const hp = [...path, 'consistentHash'];
  const keys = [ch.httpHeaderName, ch.httpCookie, ch.useSourceIp, ch.httpQueryParameterName].filter((k) => k !== undefined && k !== false);
  if (keys.length !== 1) report.error(hp, 'consistentHash must set exactly one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName', 'keep one hash key');
  if (ch.minimumRingSize !== undefined && ch.minimumRingSize !== 0) {
    report.warn([...hp, 'minimumRingSize'], "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead", 'write ringHash: {minimumRingSize: ...}');
    if (ch.ringHash !== undefined || ch.maglev !== undefined) report.error(hp, 'only one of MinimumRingSize or Maglev/Ringhash can be specified', 'keep one');
  }
  if (ch.ringHash !== undefined && ch.maglev !== undefined) report.error(hp, 'only one of ringHash or maglev can be specified', 'keep one');
  if (ch.maglev) checkMaglev(ch.maglev.tableSize ?? 0, [...hp, 'maglev', 'tableSize'], report);
  if (ch.httpCookie) checkCookie(ch.httpCookie, [...hp, 'httpCookie'], report);
  if (lb.simple && ch) report.error(path, 'only one of simple or consistentHash can be set', 'keep one');
}

const TOPOLOGY_LABELS = ['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone'];

/** agent.ValidateLocalityLbSetting: distribute weights, failover regions. */
function checkLocality(l: NonNullable<LoadBalancerSettings['localityLbSetting']>, path: Path, report: Reporter): void {
  const distribute = l.distribute ?? [];
  const failover = l.failover ?? [];
  if (distribute.length > 0 && failover.length > 0) return report.error(path, "can not simultaneously specify 'distribute' and 'failover'", 'keep one');
  if (failover.length > 0) {
    const topo = (l.failoverPriority ?? []).find((p) => TOPOLOGY_LABELS.includes(p));
    if (topo) return report.error([...path, 'failoverPriority'], `can not simultaneously set 'failover' and topology label '${topo}' in 'failover_priority'`, 'drop the topology label, or failover');
  }
  for (const [i, d] of distribute.entries()) {
    const weights = Object.values(d.to ?? {});
    if (weights.some((w) => w <= 0 || w > 100)) return report.error([...path, 'distribute', i, 'to'], 'locality weight must be in range [1, 100]', 'use weights from 1 to 100');
    const total = weights.reduce((a, w) => a + w, 0);
    if (total !== 100) return report.error([...path, 'distribute', i, 'to'], `total locality weight ${total} != 100`, 'make the weights add up to 100');
  }
  failover.forEach((f, i) => {
    const p = [...path, 'failover', i];
    if (f.from === f.to) report.error(p, 'locality lb failover settings must specify different regions', 'fail over to another region');
    if ((f.from ?? '').includes('/') || (f.to ?? '').includes('/')) report.error(p, 'locality lb failover only specify region', 'name regions only, without zones');
    if ((f.from ?? '').includes('*') || (f.to ?? '').includes('*')) report.error(p, "locality lb failover region should not contain '*' wildcard", 'name the regions');
  });
}

function checkWarmup(w: LoadBalancerSettings['warmup'], path: Path, report: Reporter): void {
  if (!w) return;
  if (w.duration === undefined) report.error([...path, 'duration'], 'duration is required', 'set warmup.duration, e.g. 60s');
  else checkDuration(w.duration, [...path, 'duration'], report);
  if (typeof w.minimumPercent === 'number' && w.minimumPercent > 100) report.error([...path, 'minimumPercent'], 'minimumPercent value should be less than or equal to 100', 'use 0..100');
  if (typeof w.aggression === 'number' && w.aggression < 1) report.error([...path, 'aggression'], 'aggression should be greater than or equal to 1', 'use 1 (linear) or more');
}

// Envoy's isPrime (source/common/common/utility.cc), which Istio copies.
function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  for (let f = 3; f <= Math.floor(Math.sqrt(x)); f += 2) if (x % f === 0) return false;
  return true;
}

function checkMaglev(size: number, path: Path, report: Reporter): void {
  if (size === 0) report.error(path, 'tableSize must be set for maglev', 'use a prime such as 65537');
  if (size >= 5000011) report.error(path, 'tableSize must be less than 5000011 for maglev', 'use a prime such as 65537');
  if (!isPrime(size)) report.error(path, 'tableSize must be a prime number for maglev', 'use a prime such as 65537');
}

function checkCookie(c: NonNullable<NonNullable<LoadBalancerSettings['consistentHash']>['httpCookie']>, path: Path, report: Reporter): void {
  if (!c.name) report.error([...path, 'name'], 'name required for HttpCookie', 'name the cookie');
  if (c.ttl === undefined) report.error([...path, 'ttl'], 'ttl required for HttpCookie', 'set ttl, e.g. 0s for a session cookie');
  checkDuration(c.ttl, [...path, 'ttl'], report, true);
  const seen = new Set<string>();
  (c.attributes ?? []).forEach((a, i) => {
    const p = [...path, 'attributes', i];
    if (!a?.name) return report.error([...p, 'name'], 'cookie attribute name cannot be empty', 'name the attribute, e.g. SameSite');
    if (seen.has(a.name)) report.error([...p, 'name'], `duplicate cookie attribute name: ${a.name}`, 'list each attribute once');
    seen.add(a.name);
  });
}
