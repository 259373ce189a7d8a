// Snapshot types: readonly data shaped for lookups. Only compile/ builds these; the data plane only
// reads them. Names follow Istio's so that logs and config dumps read like a waypoint's.
import type { ClusterPolicy, TcpProxySettings } from './cluster-policy.ts';
import type { ResourceRef } from './diagnostic.ts';
import type { RouteRule, RouteStatus, RouteTable, TcpRoute } from './route.ts';
import type { ParsedProtocol } from './protocol.ts';
import type { AuthzTable } from './policy.ts';

/** A port protocol after validation: unsupported names never reach a snapshot. */
export type Protocol = Exclude<ParsedProtocol, 'UNSUPPORTED'>;

export type Resolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'DYNAMIC_DNS';

export type OutboundTrafficPolicy = 'REGISTRY_ONLY' | 'ALLOW_ANY';

export interface Endpoint {
  /** IP address or DNS name (DNS resolution); never a wildcard. */
  readonly address: string;
  /** Port to dial: endpoint port override, else the service port's targetPort. */
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly weight: number;
}

export interface Cluster {
  /** Istio's waypoint cluster name, e.g. `inbound-vip|80|http|httpbin.org`. */
  readonly name: string;
  readonly service: string;
  readonly host: string;
  readonly port: number;
  readonly targetPort: number;
  readonly protocol: Protocol;
  /** `http` clusters carry HTTP requests; `tcp` clusters carry opaque bytes (CONNECT tunnels). */
  readonly kind: 'http' | 'tcp';
  readonly resolution: Resolution;
  /**
   * STATIC: IPs. DNS: names to resolve (the host itself when the entry lists no endpoints).
   * NONE and DYNAMIC_DNS: empty, the requested host is dialled.
   */
  readonly endpoints: readonly Endpoint[];
  /** Upstream policy from the DestinationRule that applies to this host and port, if any. */
  readonly policy?: ClusterPolicy;
  /** TCP clusters only: the tcp_proxy settings a tunnel to this host's TCP chain runs with. */
  readonly tcpProxy?: TcpProxySettings;
  /** DestinationRule subset name -> its cluster's name (`inbound-vip|80|http/<subset>|host`, in Snapshot.clusters). */
  readonly subsets?: Readonly<Record<string, string>>;
}

export interface ServicePort {
  readonly number: number;
  readonly name: string;
  readonly protocol: Protocol;
  readonly targetPort: number;
}

export interface Service {
  /** `namespace/name` of the ServiceEntry. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly hosts: readonly string[];
  /** User `addresses`, else the auto-allocated VIP (one per host), as Istio allocates them. */
  readonly addresses: readonly string[];
  readonly autoAllocated: boolean;
  readonly location: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  readonly resolution: Resolution;
  readonly ports: readonly ServicePort[];
  readonly exportTo: readonly string[];
}

export type BindingReason =
  | 'WaypointAccepted'
  | 'WaypointIsNotReady'
  | 'AttachmentDenied'
  | 'UnsupportedTrafficType'
  | 'CrossNamespaceWaypointForbidden'
  | 'NoWaypoint'
  | 'OptedOut'
  | 'ManagedWaypoint';

export interface Binding {
  readonly resource: ResourceRef;
  /** The `istio.io/WaypointBound` condition. */
  readonly bound: boolean;
  readonly reason: BindingReason;
  readonly message: string;
  /** `namespace/name` of the resolved waypoint, when one was named. */
  readonly waypoint?: string;
  /** True when bound to the waypoint this process serves. */
  readonly servedHere: boolean;
}

/** What a (host, port) resolves to. Built once per snapshot; the hot path only reads it. */
export interface Destination {
  readonly service: Service;
  /** The ServiceEntry host that matched: the request host, or a `*.suffix` wildcard. */
  readonly host: string;
  readonly port: ServicePort;
  readonly cluster: Cluster;
}

export interface HostTable {
  /** Lower-cased exact host -> port -> destination. */
  readonly exact: ReadonlyMap<string, ReadonlyMap<number, Destination>>;
  /** Wildcard suffix with its leading dot (`.example.com`) -> port -> destination. */
  readonly wildcard: ReadonlyMap<string, ReadonlyMap<number, Destination>>;
  /** Service address (VIP or user address, no CIDRs) -> port -> destination. */
  readonly addresses: ReadonlyMap<string, ReadonlyMap<number, Destination>>;
}

export interface WaypointInfo {
  readonly namespace: string;
  readonly name: string;
  readonly trafficType: 'service' | 'workload' | 'all' | 'none';
}

export interface Snapshot {
  /** Content hash of the inputs; equal inputs give equal versions. */
  readonly version: string;
  readonly waypoint: WaypointInfo;
  readonly outboundTrafficPolicy: OutboundTrafficPolicy;
  readonly services: readonly Service[];
  readonly clusters: ReadonlyMap<string, Cluster>;
  readonly hosts: HostTable;
  readonly bindings: readonly Binding[];
  /** Lower-cased host -> binding of ServiceEntries that exist but are not served here, for NR messages. */
  readonly unserved: ReadonlyMap<string, Binding>;
  /** AuthorizationPolicies indexed by target (waypoint-wide, per ServiceEntry key). */
  readonly authz: AuthzTable;
  /** Cluster name -> routes from VirtualService/HTTPRoute; absent means the waypoint default route. */
  readonly routes: ReadonlyMap<string, RouteTable>;
  /**
   * TCP-chain cluster (the service's own, for a TCP/TLS port) -> the VirtualService tls/tcp rule that
   * sends its tunnels elsewhere; absent: the service's own cluster. Read once per tunnel.
   */
  readonly tcpRoutes: ReadonlyMap<string, TcpRoute>;
  /** The waypoint's route for HTTP clusters no VirtualService/HTTPRoute covers (mesh default retries). */
  readonly defaultRoute: RouteRule;
  /** HTTPRoute status (Accepted, ResolvedRefs, ResolvedWaypoints per parentRef) and VirtualService attachment. */
  readonly routeStatus: RouteStatus;
}
