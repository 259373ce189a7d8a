// plan(): PURE. Snapshot + request target -> where it goes, or why it cannot go anywhere.
// Listeners parse, plan, execute, record; most routing behaviour is tested here without sockets.
import { hostKnown, lookupDestination } from '../model/host-table.ts';
import type { Cluster, Destination, Snapshot } from '../model/snapshot.ts';
import type { TcpRoute } from '../model/route.ts';
import type { TcpProxySettings } from '../model/cluster-policy.ts';
import type { FailureCode } from './errors.ts';
import { isHttpProtocol } from '../model/protocol.ts';

export type Mode = 'http' | 'connect';

export interface Forward {
  readonly kind: 'forward';
  readonly destination: Destination;
  /** The service's own cluster, or where a VirtualService tls/tcp rule sends an opaque tunnel. */
  readonly cluster: Cluster;
  readonly routeName: string;
  /** An opaque tunnel routed by a VirtualService tls/tcp rule: `VirtualService ns/name tcp[0]`. */
  readonly tcpRoute?: string;
  /** CONNECT to an HTTP port: terminate the tunnel and run each request through the HTTP path. */
  readonly terminate: boolean;
  /** An opaque tunnel's tcp_proxy idle timeout and max duration from a DestinationRule (absent: the flags). */
  readonly tcpProxy?: TcpProxySettings;
}

export interface Passthrough {
  readonly kind: 'passthrough';
  readonly routeName: 'allow_any';
  readonly clusterName: 'PassthroughCluster';
}

export interface Reject {
  readonly kind: 'reject';
  readonly code: FailureCode;
  readonly message: string;
  readonly routeName: 'block_all';
  readonly clusterName: 'BlackHoleCluster';
}

export type Plan = Forward | Passthrough | Reject;


/** `random` draws among a tcp route's weighted clusters (Math.random in the data plane). */
export function planRoute(snap: Snapshot, host: string, port: number, mode: Mode, random: () => number = Math.random): Plan {
  const dest = lookupDestination(snap.hosts, host, port);
  if (!dest) return unmatched(snap, host, port);
  const l7 = isHttpProtocol(dest.port.protocol);
  // Plain HTTP to a port that carries TLS or opaque bytes cannot be forwarded as HTTP.
  if (mode === 'http' && !l7 && dest.port.protocol !== 'UNSET') {
    return reject('protocol_mismatch', protocolMismatch(dest));
  }
  if (mode === 'http' || l7) return { kind: 'forward', destination: dest, cluster: dest.cluster, routeName: 'default', terminate: mode === 'connect' };
  // An opaque tunnel runs the service's TCP chain: one lookup for a VirtualService tls/tcp route.
  const tcp = snap.tcpRoutes.get(dest.cluster.name);
  if (tcp) return routedTunnel(snap, dest, tcp, random);
  const tcpProxy = dest.cluster.tcpProxy;
  return { kind: 'forward', destination: dest, cluster: dest.cluster, routeName: 'default', terminate: false, ...(tcpProxy ? { tcpProxy } : {}) };
}

/** tcp_proxy to the route's cluster (or one of its weighted clusters); none served here: NC. */
function routedTunnel(snap: Snapshot, dest: Destination, tcp: TcpRoute, random: () => number): Plan {
  let wc = tcp.clusters[0]!;
  if (tcp.clusters.length > 1) {
    const x = random() * tcp.total;
    wc = tcp.clusters.find((c) => x < c.upTo) ?? tcp.clusters[tcp.clusters.length - 1]!;
  }
  const cluster = wc.cluster === undefined ? undefined : snap.clusters.get(wc.cluster);
  if (!cluster) return reject('no_cluster', `${tcp.name} sends tunnels to ${dest.host}:${dest.port.number} to ${wc.host}:${wc.port}${wc.subset ? ` subset ${wc.subset}` : ''}, which this waypoint does not serve; bind a ServiceEntry for it to this waypoint (and define the subset in a DestinationRule)`);
  return { kind: 'forward', destination: dest, cluster, routeName: 'default', terminate: false, tcpRoute: tcp.name, ...(tcp.tcpProxy ? { tcpProxy: tcp.tcpProxy } : {}) };
}

function unmatched(snap: Snapshot, host: string, port: number): Plan {
  const known = hostKnown(snap.hosts, host);
  const wp = `${snap.waypoint.namespace}/${snap.waypoint.name}`;
  if (known.length > 0) {
    return reject('unknown_port', `${host} is registered with waypoint ${wp} on port${known.length > 1 ? 's' : ''} ${known.join(', ')}, not ${port}; add {number: ${port}, name: ..., protocol: ...} to the ServiceEntry's ports`);
  }
  if (snap.outboundTrafficPolicy === 'ALLOW_ANY') return { kind: 'passthrough', routeName: 'allow_any', clusterName: 'PassthroughCluster' };
  const unserved = snap.unserved.get(host.toLowerCase());
  if (unserved) {
    const r = unserved.resource;
    return reject('not_bound_here', `${host} is declared by ServiceEntry ${r.namespace}/${r.name}, but it is not bound to waypoint ${wp} (${unserved.reason}: ${unserved.message}); label it istio.io/use-waypoint: ${snap.waypoint.name}${r.namespace === snap.waypoint.namespace ? '' : ` and istio.io/use-waypoint-namespace: ${snap.waypoint.namespace}`}`);
  }
  return reject('unknown_host', `${host}:${port} is not in the registry of waypoint ${wp}, so egress to it is refused. To allow it, add a ServiceEntry with hosts: [${host}] and ports: [{number: ${port}, name: ${port === 443 ? 'https' : 'http'}, protocol: ${port === 443 ? 'TLS' : 'HTTP'}}] labelled istio.io/use-waypoint: ${snap.waypoint.name}, or run with --outbound-traffic-policy ALLOW_ANY`);
}

function protocolMismatch(dest: Destination): string {
  const p = dest.port;
  return `port ${p.number} of ${dest.host} is declared ${p.protocol} in ServiceEntry ${dest.service.key}, so plain HTTP cannot be sent to it. Send https:// through the proxy (CONNECT), or declare the port as HTTP with targetPort and a DestinationRule tls.mode: SIMPLE to originate TLS`;
}

function reject(code: FailureCode, message: string): Reject {
  return { kind: 'reject', code, message, routeName: 'block_all', clusterName: 'BlackHoleCluster' };
}
