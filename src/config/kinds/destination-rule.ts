// Istio DestinationRule (networking.istio.io v1, v1beta1, v1alpha3). The wire type mirrors the YAML
// field names of networking/v1alpha3/destination_rule.proto; reference §2.6 says which fields a
// waypoint honours. The rules (reference §6.4) live in destination-rule-rules.ts.
import type { Diagnostic } from '../../model/diagnostic.ts';
import type { Resource } from '../resource.ts';
import { s } from '../schema.ts';
import { validateKind } from './common.ts';
import type { ValidationOptions } from './common.ts';
import { destinationRuleRules } from './destination-rule-rules.ts';

export type TLSMode = 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
export const TLS_MODES: readonly TLSMode[] = ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'];

export interface DestinationRuleSpec {
  readonly host: string;
  readonly trafficPolicy?: TrafficPolicy;
  readonly subsets?: readonly Subset[];
  readonly exportTo?: readonly string[];
  readonly workloadSelector?: { readonly matchLabels?: Readonly<Record<string, string>> };
}

export interface Subset {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly trafficPolicy?: TrafficPolicy;
}

export interface ClientTLSSettings {
  readonly mode?: TLSMode;
  readonly clientCertificate?: string;
  readonly privateKey?: string;
  readonly caCertificates?: string;
  readonly credentialName?: string;
  readonly subjectAltNames?: readonly string[];
  readonly sni?: string;
  readonly insecureSkipVerify?: boolean;
  readonly caCrl?: string;
}

export interface ConnectionPoolSettings {
  readonly tcp?: {
    readonly maxConnections?: number; readonly connectTimeout?: string; readonly maxConnectionDuration?: string; readonly idleTimeout?: string;
    readonly tcpKeepalive?: { readonly probes?: number; readonly time?: string; readonly interval?: string };
  };
  readonly http?: {
    readonly http1MaxPendingRequests?: number; readonly http2MaxRequests?: number; readonly maxRequestsPerConnection?: number;
    readonly maxRetries?: number; readonly idleTimeout?: string; readonly h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
    readonly useClientProtocol?: boolean; readonly maxConcurrentStreams?: number;
    /** In the current istio/api; not applied by the waypoint (warned). */
    readonly http2KeepAlive?: { readonly interval?: string; readonly timeout?: string };
  };
}

export interface OutlierDetection {
  readonly consecutiveErrors?: number;
  readonly splitExternalLocalOriginErrors?: boolean;
  readonly consecutiveLocalOriginFailures?: number;
  readonly consecutiveGatewayErrors?: number;
  readonly consecutive5xxErrors?: number;
  readonly interval?: string;
  readonly baseEjectionTime?: string;
  readonly maxEjectionPercent?: number;
  readonly minHealthPercent?: number;
}

export interface LoadBalancerSettings {
  readonly simple?: 'UNSPECIFIED' | 'LEAST_CONN' | 'RANDOM' | 'PASSTHROUGH' | 'ROUND_ROBIN' | 'LEAST_REQUEST';
  readonly consistentHash?: {
    readonly httpHeaderName?: string;
    readonly httpCookie?: {
      readonly name: string; readonly path?: string; readonly ttl?: string;
      readonly attributes?: readonly { readonly name?: string; readonly value?: string }[];
    };
    readonly useSourceIp?: boolean;
    readonly httpQueryParameterName?: string;
    readonly ringHash?: { readonly minimumRingSize?: number };
    readonly maglev?: { readonly tableSize?: number };
    readonly minimumRingSize?: number;
  };
  readonly localityLbSetting?: {
    readonly enabled?: boolean;
    readonly distribute?: readonly { readonly from?: string; readonly to?: Readonly<Record<string, number>> }[];
    readonly failover?: readonly { readonly from?: string; readonly to?: string }[];
    readonly failoverPriority?: readonly string[];
  };
  readonly zoneAwareLbSetting?: {
    readonly enabled?: boolean; readonly minClusterSize?: number;
    readonly failover?: readonly { readonly from?: string; readonly to?: string }[]; readonly failoverPriority?: readonly string[];
  };
  readonly warmupDurationSecs?: string;
  readonly warmup?: { readonly duration?: string; readonly minimumPercent?: number; readonly aggression?: number };
}

export interface PortTrafficPolicy {
  readonly port?: { readonly number?: number };
  readonly loadBalancer?: LoadBalancerSettings;
  readonly connectionPool?: ConnectionPoolSettings;
  readonly outlierDetection?: OutlierDetection;
  readonly tls?: ClientTLSSettings;
}

export interface TrafficPolicy extends Omit<PortTrafficPolicy, 'port'> {
  readonly portLevelSettings?: readonly PortTrafficPolicy[];
  readonly tunnel?: { readonly protocol?: string; readonly targetHost: string; readonly targetPort: number };
  readonly proxyProtocol?: { readonly version?: 'V1' | 'V2' };
  readonly retryBudget?: { readonly percent?: unknown; readonly minRetryConcurrency?: number };
}

const strings = s.array(s.string());
export const clientTlsSchema = s.object({
  mode: s.string(TLS_MODES), clientCertificate: s.string(), privateKey: s.string(), caCertificates: s.string(),
  credentialName: s.string(), subjectAltNames: strings, sni: s.string(), insecureSkipVerify: s.boolean(), caCrl: s.string(),
});
const connectionPool = s.object({
  tcp: s.object({
    maxConnections: s.integer(), connectTimeout: s.string(), maxConnectionDuration: s.string(), idleTimeout: s.string(),
    tcpKeepalive: s.object({ probes: s.integer(), time: s.string(), interval: s.string() }),
  }),
  http: s.object({
    http1MaxPendingRequests: s.integer(), http2MaxRequests: s.integer(), maxRequestsPerConnection: s.integer(), maxRetries: s.integer(),
    idleTimeout: s.string(), h2UpgradePolicy: s.string(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']), useClientProtocol: s.boolean(), maxConcurrentStreams: s.integer(),
    // istio/api#3706: HTTPSettings.http2_keep_alive, HTTP/2 PINGs (interval, timeout).
    http2KeepAlive: s.object({ interval: s.string(), timeout: s.string() }),
  }),
});
const outlier = s.object({
  consecutiveErrors: s.integer(), splitExternalLocalOriginErrors: s.boolean(), consecutiveLocalOriginFailures: s.integer(),
  consecutiveGatewayErrors: s.integer(), consecutive5xxErrors: s.integer(), interval: s.string(), baseEjectionTime: s.string(),
  maxEjectionPercent: s.integer(), minHealthPercent: s.integer(),
});
const loadBalancer = s.object({
  simple: s.string(['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST']),
  consistentHash: s.object({
    httpHeaderName: s.string(), httpCookie: s.object({ name: s.string(), path: s.string(), ttl: s.string(), attributes: s.array(s.object({ name: s.string(), value: s.string() })) }, { required: ['name'] }),
    useSourceIp: s.boolean(), httpQueryParameterName: s.string(), ringHash: s.object({ minimumRingSize: s.integer() }),
    maglev: s.object({ tableSize: s.integer() }), minimumRingSize: s.integer(),
  }),
  localityLbSetting: s.object({
    enabled: s.boolean(), distribute: s.array(s.object({ from: s.string(), to: s.map(s.integer()) })),
    failover: s.array(s.object({ from: s.string(), to: s.string() })), failoverPriority: s.array(s.string()),
  }),
  warmupDurationSecs: s.string(),
  zoneAwareLbSetting: s.object({ enabled: s.boolean(), failover: s.array(s.object({ from: s.string(), to: s.string() })), failoverPriority: s.array(s.string()), minClusterSize: s.integer() }),
  warmup: s.object({ duration: s.string(), minimumPercent: s.any(), aggression: s.any() }),
});
const portFields = { loadBalancer, connectionPool, outlierDetection: outlier, tls: clientTlsSchema };
const trafficPolicy = s.object({
  ...portFields,
  portLevelSettings: s.array(s.object({ port: s.object({ number: s.integer() }), ...portFields })),
  tunnel: s.object({ protocol: s.string(), targetHost: s.string(), targetPort: s.integer() }, { required: ['targetHost', 'targetPort'] }),
  proxyProtocol: s.object({ version: s.string(['V1', 'V2']) }),
  retryBudget: s.object({ percent: s.any(), minRetryConcurrency: s.integer() }),
});

const shape = {
  spec: s.object({
    host: s.string(),
    trafficPolicy,
    subsets: s.array(s.object({ name: s.string(), labels: s.map(s.string()), trafficPolicy }, { required: ['name'] })),
    exportTo: strings,
    workloadSelector: s.object({ matchLabels: s.map(s.string()) }),
  }, { required: ['host'] }),
  status: s.object({}, { open: true }),
};

export function validateDestinationRule(r: Resource, options: ValidationOptions = {}): Diagnostic[] {
  return validateKind<DestinationRuleSpec>(r, shape, destinationRuleRules, options);
}
