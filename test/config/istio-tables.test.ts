// DestinationRule, ServiceEntry and AuthorizationPolicy validation against cases ported from Istio's
// validation_test.go (TestValidateDestinationRule, TestValidateConnectionPool, TestValidateLoadBalancer,
// TestValidateOutlierDetection, TestValidateServiceEntries, TestValidateAuthorizationPolicy ...):
// the same input, the same valid / warning / error outcome, Istio's messages.
import { test } from 'node:test';
import { checkCase } from './istio-cases.ts';
import type { IstioCase } from './istio-cases.ts';

const dr = (trafficPolicy: unknown, more: Record<string, unknown> = {}) => ({ host: 'reviews', trafficPolicy, ...more });
const lb = (loadBalancer: unknown) => dr({ loadBalancer });
const pool = (connectionPool: unknown) => dr({ connectionPool });
const outlier = (outlierDetection: unknown) => dr({ outlierDetection });

const destinationRules: IstioCase[] = [
  { name: 'simple', spec: dr({ connectionPool: { tcp: { maxConnections: 100 } } }), expect: 'valid' },
  { name: 'empty traffic policy', spec: dr({}), expect: 'error', message: 'traffic policy must have at least one field' },
  { name: 'tunnel and proxyProtocol', spec: dr({ tunnel: { targetHost: 'a.b', targetPort: 8080 }, proxyProtocol: { version: 'V1' } }), expect: 'error', message: 'tunnel and proxyProtocol must not be set together' },
  { name: 'tunnel protocol', spec: dr({ tunnel: { protocol: 'PUT', targetHost: 'a.b', targetPort: 8080 } }), expect: 'error', message: 'tunnel protocol must be "CONNECT" or "POST"' },
  { name: 'duplicate subsets', spec: { host: 'reviews', subsets: [{ name: 'v1' }, { name: 'v1' }] }, expect: 'error', message: 'duplicate subset names: v1' },
  { name: 'bad subset name', spec: { host: 'reviews', subsets: [{ name: 'V_1' }] }, expect: 'error', message: 'subset name is invalid: V_1' },
  { name: 'port policy without port', spec: dr({ portLevelSettings: [{ tls: { mode: 'SIMPLE' } }] }), expect: 'error', message: 'portTrafficPolicy must have valid port' },
  // Connection pool
  { name: 'negative max connections', spec: pool({ tcp: { maxConnections: -1 } }), expect: 'error', message: 'max connections must be non-negative' },
  { name: 'negative http2 max requests', spec: pool({ http: { http2MaxRequests: -1 } }), expect: 'error', message: 'http2 max requests must be non-negative' },
  { name: 'tcp idleTimeout 0s disables it', spec: pool({ tcp: { idleTimeout: '0s' } }), expect: 'valid' },
  { name: 'http idleTimeout 0s', spec: pool({ http: { idleTimeout: '0s' } }), expect: 'error', message: 'duration must be greater than 1ms' },
  { name: 'h2 UPGRADE with useClientProtocol', spec: pool({ http: { h2UpgradePolicy: 'UPGRADE', useClientProtocol: true } }), expect: 'error', message: 'use client protocol must not be true when H2UpgradePolicy is UPGRADE' },
  { name: 'h2 DEFAULT with useClientProtocol', spec: pool({ http: { h2UpgradePolicy: 'DEFAULT', useClientProtocol: true } }), expect: 'valid' },
  { name: 'http2KeepAlive is known, and said to be unapplied', spec: pool({ http: { http2KeepAlive: { interval: '30s' } } }), expect: 'warning', message: 'http2KeepAlive is not applied' },
  { name: 'empty connection pool', spec: pool({}), expect: 'error', message: 'connection pool must have at least one field' },
  // Outlier detection
  { name: 'deprecated consecutiveErrors', spec: outlier({ consecutiveErrors: 5 }), expect: 'warning', message: 'outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead' },
  { name: 'local origin failures without split', spec: outlier({ consecutiveLocalOriginFailures: 5 }), expect: 'error', message: 'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false' },
  { name: 'local origin failures with split', spec: outlier({ consecutiveLocalOriginFailures: 5, splitExternalLocalOriginErrors: true }), expect: 'valid' },
  { name: 'max ejection percent over 100', spec: outlier({ maxEjectionPercent: 101 }), expect: 'error', message: 'percentage 101 is not in range 0..100' },
  // Load balancer
  { name: 'warmup ok', spec: lb({ simple: 'ROUND_ROBIN', warmup: { duration: '60s', minimumPercent: 10, aggression: 1.5 } }), expect: 'valid' },
  { name: 'warmup without duration', spec: lb({ warmup: { aggression: 2 } }), expect: 'error', message: 'duration is required' },
  { name: 'warmup minimumPercent over 100', spec: lb({ warmup: { duration: '10s', minimumPercent: 101 } }), expect: 'error', message: 'minimumPercent value should be less than or equal to 100' },
  { name: 'warmup aggression under 1', spec: lb({ warmup: { duration: '10s', aggression: 0.5 } }), expect: 'error', message: 'aggression should be greater than or equal to 1' },
  { name: 'deprecated minimumRingSize', spec: lb({ consistentHash: { useSourceIp: true, minimumRingSize: 1024 } }), expect: 'warning', message: 'consistent hash MinimumRingSize is deprecated' },
  { name: 'minimumRingSize with maglev', spec: lb({ consistentHash: { useSourceIp: true, minimumRingSize: 1024, maglev: { tableSize: 65537 } } }), expect: 'error', message: 'only one of MinimumRingSize or Maglev/Ringhash can be specified' },
  { name: 'maglev table size not prime', spec: lb({ consistentHash: { useSourceIp: true, maglev: { tableSize: 1000 } } }), expect: 'error', message: 'tableSize must be a prime number for maglev' },
  { name: 'maglev table size prime', spec: lb({ consistentHash: { useSourceIp: true, maglev: { tableSize: 65537 } } }), expect: 'valid' },
  { name: 'cookie attributes', spec: lb({ consistentHash: { httpCookie: { name: 'c', ttl: '0s', attributes: [{ name: 'SameSite', value: 'Strict' }, { name: 'Secure' }] } } }), expect: 'valid' },
  { name: 'duplicate cookie attribute', spec: lb({ consistentHash: { httpCookie: { name: 'c', attributes: [{ name: 'Secure' }, { name: 'Secure' }] } } }), expect: 'error', message: 'duplicate cookie attribute name: Secure' },
  { name: 'empty cookie attribute', spec: lb({ consistentHash: { httpCookie: { name: 'c', attributes: [{ value: 'x' }] } } }), expect: 'error', message: 'cookie attribute name cannot be empty' },
  { name: 'zoneAwareLbSetting is known, and not applied in ambient', spec: lb({ simple: 'ROUND_ROBIN', zoneAwareLbSetting: { enabled: true, minClusterSize: 3 } }), expect: 'warning', message: 'zoneAwareLbSetting is not supported in ambient mode' },
  { name: 'locality and zone-aware together', spec: lb({ localityLbSetting: { enabled: true }, zoneAwareLbSetting: { enabled: true } }), expect: 'error', message: 'only one of localityLbSetting or zoneAwareLbSetting can be set' },
  { name: 'locality distribute', spec: lb({ localityLbSetting: { enabled: true, distribute: [{ from: 'us-west/zone1/*', to: { 'us-west/zone1/*': 80, 'us-west/zone2/*': 20 } }] } }), expect: 'valid' },
  { name: 'locality weights not 100', spec: lb({ localityLbSetting: { distribute: [{ from: 'a/*', to: { 'a/*': 80, 'b/*': 10 } }] } }), expect: 'error', message: 'total locality weight 90 != 100' },
  { name: 'locality weight 0', spec: lb({ localityLbSetting: { distribute: [{ from: 'a/*', to: { 'a/*': 100, 'b/*': 0 } }] } }), expect: 'error', message: 'locality weight must be in range [1, 100]' },
  { name: 'distribute and failover', spec: lb({ localityLbSetting: { distribute: [{ from: 'a/*', to: { 'a/*': 100 } }], failover: [{ from: 'a', to: 'b' }] } }), expect: 'error', message: "can not simultaneously specify 'distribute' and 'failover'" },
  { name: 'failover to the same region', spec: lb({ localityLbSetting: { failover: [{ from: 'us-east', to: 'us-east' }] } }), expect: 'error', message: 'locality lb failover settings must specify different regions' },
  { name: 'failover with a zone', spec: lb({ localityLbSetting: { failover: [{ from: 'us-east/z1', to: 'eu-west' }] } }), expect: 'error', message: 'locality lb failover only specify region' },
  { name: 'failover with failoverPriority topology label', spec: lb({ localityLbSetting: { failover: [{ from: 'a', to: 'b' }], failoverPriority: ['topology.kubernetes.io/region'] } }), expect: 'error', message: "can not simultaneously set 'failover' and topology label" },
  // Selector and exportTo
  { name: 'selector DR exported beyond its namespace', spec: { host: 'reviews', workloadSelector: { matchLabels: { app: 'a' } }, exportTo: ['*'] }, expect: 'error', message: 'destination rule with workload selector cannot have exportTo beyond current namespace' },
  { name: 'selector DR exported to its namespace', spec: { host: 'reviews', workloadSelector: { matchLabels: { app: 'a' } }, exportTo: ['.'] }, expect: 'valid' },
  { name: 'selector without labels warns', spec: { host: 'reviews', workloadSelector: {} }, expect: 'warning', message: 'workload selector specified without labels' },
  { name: 'selector with a wildcard', spec: { host: 'reviews', workloadSelector: { matchLabels: { app: 'rev*' } } }, expect: 'error', message: 'wildcard is not supported in selector: "app=rev*"' },
];

const se = (more: Record<string, unknown>) => ({ hosts: ['api.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], ...more });

const serviceEntries: IstioCase[] = [
  { name: 'network without address warns', spec: se({ resolution: 'STATIC', endpoints: [{ network: 'nw-1' }] }), expect: 'warning', message: 'address is unset with network "nw-1"' },
  { name: 'neither network nor address', spec: se({ resolution: 'STATIC', endpoints: [{ labels: { a: 'b' } }] }), expect: 'error', message: 'address is required' },
  { name: 'selector without labels', spec: se({ resolution: 'STATIC', workloadSelector: {} }), expect: 'warning', message: 'service entry: workload selector specified without labels, will be applied to all services in namespace' },
  { name: 'numeric top-level domain', spec: { hosts: ['1.2.3.4'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC', endpoints: [{ address: '1.2.3.4' }] }, expect: 'error', message: 'top level domain "4" cannot be all-numeric' },
];

const ap = (spec: Record<string, unknown>) => ({ targetRefs: [{ kind: 'ServiceEntry', group: 'networking.istio.io', name: 'api' }], ...spec });

const policies: IstioCase[] = [
  { name: 'dry-run true', spec: ap({ action: 'DENY', rules: [{}] }), annotations: { 'istio.io/dry-run': 'true' }, expect: 'valid' },
  { name: 'dry-run 1 is a Go bool', spec: ap({ rules: [{}] }), annotations: { 'istio.io/dry-run': '1' }, expect: 'valid' },
  { name: 'dry-run bad value', spec: ap({ rules: [{}] }), annotations: { 'istio.io/dry-run': 'yes' }, expect: 'error', message: 'ns/case has annotation istio.io/dry-run with invalid value (yes)' },
  { name: 'dry-run on CUSTOM', spec: ap({ action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] }), annotations: { 'istio.io/dry-run': 'true' }, expect: 'error', message: 'the annotation istio.io/dry-run currently only supports action ALLOW/DENY, found action CUSTOM in ns/case' },
  { name: 'selector without labels warns', spec: { selector: {}, rules: [{}] }, expect: 'warning', message: 'workload selector specified without labels' },
];

for (const c of destinationRules) test(`DestinationRule: ${c.name}`, () => checkCase('DestinationRule', c));
for (const c of serviceEntries) test(`ServiceEntry: ${c.name}`, () => checkCase('ServiceEntry', c));
for (const c of policies) test(`AuthorizationPolicy: ${c.name}`, () => checkCase('AuthorizationPolicy', c));
test('istio.io/dry-run on another kind is refused', () => checkCase('ServiceEntry', {
  name: 'dry-run on a ServiceEntry', spec: se({ resolution: 'DNS' }), annotations: { 'istio.io/dry-run': 'true' }, expect: 'error', message: 'ns/case has unsupported annotation istio.io/dry-run, please remove the annotation',
}));
