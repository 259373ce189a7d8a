// Upstream endpoints and connection pools, with the cluster's DestinationRule policy applied:
//  - pick(): outlier detection (ejected endpoints skipped, none left -> UH) and the load balancer;
//  - pool(): one undici Pool per (cluster, endpoint, dialled address, SNI), dialling TLS when the
//    policy originates it, sized and timed by connectionPool; with a policy it is a PolicyPool
//    (policy-pool.ts), whose dispatch() enforces the cluster's circuit breakers (overflow -> UO,
//    maxConnections across endpoints) and reports each response to outlier detection, so callers
//    need no extra call per response;
//  - connectionSlot(): the same maxConnections for TCP tunnels.
// Per-cluster state (limits, ejections, outstanding counts, pools) is rebuilt when the cluster's
// policy or endpoints change across snapshots; pools of clusters that left are closed gracefully.
import { isIP, type Socket } from 'node:net';
import { buildConnector, Pool } from './undici-core.ts';
import type { TlsOrigination } from '../model/cluster-policy.ts';
import type { CredentialProvider } from '../model/credentials.ts';
import type { Cluster, Endpoint as ModelEndpoint } from '../model/snapshot.ts';
import { isHttp2Protocol } from '../model/protocol.ts';
import { ClusterLimiter } from './connection-limits.ts';
import { DataplaneError } from './errors.ts';
import { LoadBalancer, type PickContext } from './load-balancer.ts';
import { OutlierDetector, type Outcome } from './outlier.ts';
import { PolicyPool, type RequestsPerConnection } from './policy-pool.ts';
import type { DnsCache } from './resolver.ts';
import { DialPolicy, type AddressOrigin } from './ssrf.ts';
import { tlsConnector } from './tls-origination.ts';
import type { TunnelDial } from './tunnel.ts';
import { ignoreUnsolicitedContinue } from './ignore-continue.ts';
import { formatAuthority } from './authority.ts';
import { LruMap } from './lru.ts';
import { symbolNamed } from './undici-symbol.ts';

export type { PickContext } from './load-balancer.ts';
export type { Outcome } from './outlier.ts';

export interface Endpoint {
  readonly address: string;
  readonly port: number;
  /** The cluster it was picked for: pool() applies its policy. */
  readonly cluster?: Cluster;
  /** The endpoint as the ServiceEntry declares it (`address:port`): the unit of LB and ejection. */
  readonly hostKey?: string;
  /** SNI when the cluster originates TLS. */
  readonly sni?: string;
  /** `address:port` (IPv6 bracketed), for upstream_host; precomputed on shared endpoints. */
  readonly authority?: string;
}

export interface UpstreamOptions {
  readonly connectTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
  readonly dialPolicy?: DialPolicy;
  /** Where credentialName Secrets live: `<dir>/<namespace>/<name>/{tls.crt,tls.key,ca.crt}`. */
  readonly secretsDir?: string;
  /** credentialName Secrets from the API server (--kubernetes); looked up per connection. */
  readonly credentials?: CredentialProvider;
  /**
   * Connection pools kept per cluster, least recently used closed first (gracefully). Pools are
   * keyed by endpoint, and for passthrough, NONE and DYNAMIC_DNS the endpoint is the request's
   * host: without a bound, each client-chosen name would keep a pool forever.
   */
  readonly maxPoolsPerCluster?: number;
}

interface ClusterState {
  readonly name: string;
  readonly signature: string;
  readonly hostKeys: readonly string[];
  /** Per endpoint, what pick() would otherwise work out per request (hot path). */
  readonly slots: readonly EndpointSlot[];
  readonly all: readonly number[];
  readonly lb: LoadBalancer;
  /** The load balancer's view of in-flight requests per endpoint index (one closure per state). */
  readonly load: (i: number) => number;
  readonly limiter?: ClusterLimiter;
  readonly outlier?: OutlierDetector;
  /** Whether pools must observe each request (limits, ejection, least-request counts). */
  readonly tracked: boolean;
  readonly active: Map<string, number>;
  readonly pools: LruMap<string, Pool>;
}

interface EndpointSlot {
  /** `registry` for an IP the ServiceEntry names (trusted, dialled as is), `dns` for a name. */
  readonly origin: AddressOrigin;
  /** Round-robin key over the name's addresses. */
  readonly rrKey: string;
  /** Endpoints handed out, by dialled address; reused while the cluster object and SNI match. */
  readonly byAddress: Map<string, Endpoint>;
}

/** Endpoints kept per slot; more distinct DNS answers than this start the slot's cache afresh. */
const MAX_ADDRESSES = 64;

// Hot path: pool()'s origin URL and key for the endpoints pick() reuses, computed once per endpoint
// rather than as three strings (and a hash of a ~50-char key) per request. With the slots above,
// pick() + pool() went from ~450 ns to ~65 ns for a STATIC IP, and from ~2 µs to ~95 ns for a DNS
// name with two addresses (which also paid the SSRF check's BlockList parsing, now memoised).
const POOL_KEYS = new WeakMap<Endpoint, { readonly origin: string; readonly key: string }>();

export class Upstreams {
  #states = new Map<string, ClusterState>();
  #byCluster = new WeakMap<Cluster, ClusterState>();
  #tunnelDials = new WeakMap<Cluster, TunnelDial>();
  #plainDial: TunnelDial | undefined;
  /** Round-robin positions of config names (bounded by the config). */
  #rr = new Map<string, number>();
  /** Round-robin positions of request-chosen names, per DNS answer: gone with the answer. */
  #rrByAnswer = new WeakMap<readonly string[], number>();
  #dns: DnsCache;
  #opts: UpstreamOptions;
  #policy: DialPolicy;

  constructor(dns: DnsCache, opts: UpstreamOptions = {}) {
    this.#dns = dns;
    this.#opts = opts;
    this.#policy = opts.dialPolicy ?? new DialPolicy();
  }

  get #maxPools(): number {
    return this.#opts.maxPoolsPerCluster ?? 1024;
  }

  get dns(): DnsCache {
    return this.#dns;
  }

  /**
   * Picks the endpoint to dial. `cluster` is undefined for passthrough. NONE and DYNAMIC_DNS
   * clusters dial the requested host at the port's targetPort. `ctx` feeds consistent hashing.
   * STATIC and DNS endpoints come back as shared, frozen objects: one per dialled address.
   */
  pick(cluster: Cluster | undefined, requestHost: string, requestPort: number, ctx?: PickContext): Endpoint | Promise<Endpoint> {
    if (!cluster) return this.#fromRequest(requestHost, requestPort, undefined, undefined);
    const sni = sniFor(cluster, requestHost);
    if (cluster.resolution === 'NONE' || cluster.resolution === 'DYNAMIC_DNS') {
      return this.#fromRequest(requestHost, cluster.targetPort, cluster, sni);
    }
    const eps = cluster.endpoints;
    if (eps.length === 0) throw new DataplaneError('no_healthy_upstream', `cluster ${cluster.name} has no endpoints (STATIC ServiceEntry without endpoints, or a subset whose labels select none?)`);
    const st = this.#state(cluster);
    const i = st.lb.choose(this.#healthy(cluster, st), st.load, ctx);
    const ep = eps[i]!;
    const slot = st.slots[i]!;
    const hostKey = st.hostKeys[i]!;
    // An IP the ServiceEntry names is trusted and needs no DNS; a name it names is only as good as
    // its DNS answer.
    if (slot.origin === 'registry') return this.#reuse(slot, ep.address, ep, cluster, sni, hostKey);
    const got = this.#dns.resolve(ep.address);
    if (Array.isArray(got)) return this.#reuse(slot, this.#address(got as readonly string[], ep.address, cluster.name, slot.rrKey), ep, cluster, sni, hostKey);
    return (got as Promise<readonly string[]>).then((addrs) => this.#reuse(slot, this.#address(addrs, ep.address, cluster.name, slot.rrKey), ep, cluster, sni, hostKey));
  }

  #healthy(cluster: Cluster, st: ClusterState): readonly number[] {
    const od = st.outlier;
    if (!od) return st.all;
    const healthy = st.all.filter((i) => !od.isEjected(st.hostKeys[i]!));
    if (od.panics(healthy.length)) return st.all;
    if (healthy.length === 0) {
      const src = cluster.policy!.source;
      throw new DataplaneError('no_healthy_upstream', `all ${st.all.length} endpoints of ${cluster.name} are ejected by outlier detection (DestinationRule ${src.namespace}/${src.name})`);
    }
    return healthy;
  }

  /** Dials the requested host (passthrough, NONE, DYNAMIC_DNS): its addresses are checked as `request`. */
  #fromRequest(name: string, port: number, cluster: Cluster | undefined, sni: string | undefined): Endpoint | Promise<Endpoint> {
    const got = this.#dns.resolve(name, true);
    const choose = (addrs: readonly string[]): Endpoint => {
      const address = this.#answerAddress(addrs, name);
      this.#check(address, 'request', name);
      // The endpoint is the address dialled, as Envoy's original-destination hosts are: names that
      // resolve alike share a pool (and, with TLS, pools still differ by SNI). Keyed by the name, a
      // flood of client-chosen names meant a pool and an upstream connection per name.
      return cluster ? { address, port, cluster, sni, hostKey: `${address}:${port}` } : { address, port };
    };
    return Array.isArray(got) ? choose(got as readonly string[]) : (got as Promise<readonly string[]>).then(choose);
  }

  /** One of `name`'s addresses, round robin when several (keyed `${key}|${name}`, built only then). */
  #address(addrs: readonly string[], name: string, key: string, rrKey?: string): string {
    if (addrs.length === 0) throw new DataplaneError('no_healthy_upstream', `${name} resolved to no addresses`);
    return addrs.length === 1 ? addrs[0]! : addrs[this.#next(rrKey ?? `${key}|${name}`) % addrs.length]!;
  }

  /** As #address, for a request-chosen name: no per-name key that would outlive its DNS answer. */
  #answerAddress(addrs: readonly string[], name: string): string {
    if (addrs.length === 0) throw new DataplaneError('no_healthy_upstream', `${name} resolved to no addresses`);
    if (addrs.length === 1) return addrs[0]!;
    const n = this.#rrByAnswer.get(addrs) ?? 0;
    this.#rrByAnswer.set(addrs, n + 1 > 1e9 ? 0 : n + 1);
    return addrs[n % addrs.length]!;
  }

  #check(address: string, origin: AddressOrigin, name: string): void {
    // Checked on the address about to be dialled, so a rebinding DNS answer cannot evade it.
    const refused = this.#policy.check(address, origin, name);
    if (refused) throw new DataplaneError('ssrf_refused', refused.reason);
  }

  /** The endpoint to dial `address` for a STATIC or DNS endpoint: the same object while nothing changed. */
  #reuse(slot: EndpointSlot, address: string, ep: ModelEndpoint, cluster: Cluster, sni: string, hostKey: string): Endpoint {
    this.#check(address, slot.origin, ep.address);
    let e = slot.byAddress.get(address);
    if (e === undefined || e.cluster !== cluster || e.sni !== sni) {
      if (slot.byAddress.size >= MAX_ADDRESSES) slot.byAddress.clear();
      // Frozen: one object serves many requests, so no caller may write to it.
      e = Object.freeze({ address, port: ep.port, cluster, sni, hostKey, authority: formatAuthority(address, ep.port) });
      const tls = cluster.policy?.tls;
      const origin = poolOrigin(e, tls);
      POOL_KEYS.set(e, { origin, key: poolKey(e, origin, tls) });
      slot.byAddress.set(address, e);
    }
    return e;
  }

  #next(key: string): number {
    const n = this.#rr.get(key) ?? 0;
    this.#rr.set(key, n + 1 > 1e9 ? 0 : n + 1);
    return n;
  }

  /** State for this cluster object; rebuilt (old pools closed) when policy or endpoints changed. */
  #state(cluster: Cluster): ClusterState {
    const cached = this.#byCluster.get(cluster);
    if (cached) return cached;
    const signature = `${cluster.policy?.key ?? ''}|${cluster.endpoints.map((e) => `${e.address}:${e.port}:${e.weight}`).join(',')}`;
    let st = this.#states.get(cluster.name);
    if (!st || st.signature !== signature) {
      if (st) closePools(st);
      st = newState(cluster, signature, undefined, this.#maxPools);
      this.#states.set(cluster.name, st);
    }
    this.#byCluster.set(cluster, st);
    return st;
  }

  #stateByName(name: string): ClusterState {
    let st = this.#states.get(name);
    if (!st) this.#states.set(name, (st = newState(undefined, '', name, this.#maxPools)));
    return st;
  }

  /**
   * The pool to send to `ep`; `ep` should come from pick() so the cluster's policy applies.
   * `clientH2`: the client spoke HTTP/2 (read only where the DestinationRule sets useClientProtocol).
   */
  pool(clusterName: string, ep: Endpoint, clientH2 = false): Pool {
    const cluster = ep.cluster?.name === clusterName ? ep.cluster : undefined;
    const st = cluster ? this.#state(cluster) : this.#stateByName(clusterName);
    const tls = cluster?.policy?.tls;
    // Endpoints from #reuse carry both, computed from ep.cluster's policy (the one applied here).
    const pre = cluster ? POOL_KEYS.get(ep) : undefined;
    const origin = pre ? pre.origin : poolOrigin(ep, tls);
    const clientProtocol = cluster?.policy?.useClientProtocol ? (clientH2 ? 'h2' : 'h1') : undefined;
    const base = pre ? pre.key : poolKey(ep, origin, tls);
    const key = clientProtocol ? `${base}|${clientProtocol}` : base;
    let p = st.pools.get(key);
    if (!p) {
      const opts = this.#poolOptions(cluster, ep, clientProtocol);
      const maxRequests = cluster?.policy?.connectionPool?.maxRequestsPerConnection;
      const perConnection: RequestsPerConnection | undefined = !maxRequests ? undefined
        : opts.allowH2 ? { kind: 'retire', max: maxRequests } : maxRequests === 1 ? { kind: 'one' } : undefined;
      // maxRequestsPerConnection needs connectionPool, whose limiter makes the cluster tracked.
      p = st.tracked ? new PolicyPool(origin, opts, st, ep.hostKey ?? `${ep.address}:${ep.port}`, perConnection) : new Pool(origin, opts);
      st.pools.set(key, p);
    }
    return p;
  }

  #poolOptions(cluster: Cluster | undefined, ep: Endpoint, clientProtocol: 'h1' | 'h2' | undefined): Pool.Options {
    const policy = cluster?.policy;
    const cp = policy?.connectionPool;
    const timeoutMs = cp?.connectTimeoutMs ?? this.#opts.connectTimeoutMs ?? 10_000;
    const expire = cp?.maxConnectionDurationMs ? expireAfter(cp.maxConnectionDurationMs) : undefined;
    const onSocket = (s: Socket) => {
      ignoreUnsolicitedContinue(s);
      expire?.(s);
    };
    // Envoy's cluster for an HTTP2/GRPC/GRPC-Web port (or h2UpgradePolicy UPGRADE) speaks HTTP/2: ALPN h2
    // when TLS is originated, prior knowledge (h2c) in plaintext (Gateway API appProtocol h2c).
    // useClientProtocol wins over both (istiod sets use_downstream_protocol_config last).
    const h2 = clientProtocol ? clientProtocol === 'h2' : !!cluster && (isHttp2Protocol(cluster.protocol) || !!policy?.h2Upgrade);
    const connect = policy?.tls
      ? tlsConnector({
          tls: policy.tls, servername: ep.sni ?? ep.address, secretsDir: this.#opts.secretsDir, credentials: this.#opts.credentials, timeoutMs,
          keepAliveMs: cp?.tcpKeepaliveMs, alpn: h2 ? ['h2', 'http/1.1'] : ['http/1.1'], onSocket,
        })
      : plainConnector(timeoutMs, cp?.tcpKeepaliveMs, onSocket, h2);
    return {
      connect,
      allowH2: h2,
      ...(cp?.maxConnections ? { connections: cp.maxConnections } : {}),
      // undici closes an HTTP/1.1 connection after request maxRequestsPerClient + 1; 1 is PolicyPool's
      // `reset`; a pool that may speak HTTP/2 retires its clients itself (PolicyPool).
      ...(!h2 && cp?.maxRequestsPerConnection && cp.maxRequestsPerConnection > 1 ? { maxRequestsPerClient: cp.maxRequestsPerConnection - 1 } : {}),
      ...(cp?.maxConcurrentStreams ? { maxConcurrentStreams: cp.maxConcurrentStreams } : {}),
      keepAliveTimeout: cp?.httpIdleTimeoutMs ?? this.#opts.keepAliveTimeoutMs ?? 60_000,
      // Envoy's waypoint has no route timeout by default; its stream idle timeout is 5 minutes.
      headersTimeout: 300_000,
      bodyTimeout: 300_000,
    };
  }

  /**
   * How a TCP tunnel dials `cluster`: its DestinationRule's connectTimeout, tcpKeepalive and TLS
   * origination, as the waypoint's TCP cluster does (cluster_waypoint.go applies the same policy
   * to the tcp cluster as to the http one). Built on the cluster's first tunnel and kept with it
   * (a snapshot that changes the cluster makes a new object), so a tunnel pays one WeakMap lookup.
   */
  tunnelDial(cluster: Cluster | undefined): TunnelDial {
    if (!cluster) return (this.#plainDial ??= { timeoutMs: this.#opts.connectTimeoutMs ?? 10_000 });
    let d = this.#tunnelDials.get(cluster);
    if (d) return d;
    const cp = cluster.policy?.connectionPool;
    const tls = cluster.policy?.tls;
    const timeoutMs = cp?.connectTimeoutMs ?? this.#opts.connectTimeoutMs ?? 10_000;
    d = {
      timeoutMs,
      ...(cp?.tcpKeepaliveMs ? { keepAliveMs: cp.tcpKeepaliveMs } : {}),
      // No Host header on a TCP chain: Envoy's auto_sni / auto_san_validation (HTTP upstream
      // options) do not apply, so SNI is tls.sni or none, and only subjectAltNames name the peer.
      ...(tls ? { tls: tlsConnector({ tls, servername: tls.sni ?? '', autoSan: false, secretsDir: this.#opts.secretsDir, credentials: this.#opts.credentials, timeoutMs, keepAliveMs: cp?.tcpKeepaliveMs, alpn: [] }) } : {}),
    };
    this.#tunnelDials.set(cluster, d);
    return d;
  }

  /** A retry slot under the cluster's connectionPool.http.maxRetries; undefined means do not retry. */
  acquireRetry(cluster: Cluster): (() => void) | undefined {
    const limiter = this.#state(cluster).limiter;
    return limiter ? limiter.acquireRetry() : () => {};
  }

  /**
   * A connection slot for a TCP tunnel to `cluster` under its tcp.maxConnections, shared with the
   * cluster's HTTP pools: the function that gives it back, or the overflow reason (Envoy's tcp_proxy
   * refuses the connection: UO).
   */
  connectionSlot(cluster: Cluster | undefined): (() => void) | string {
    const limiter = cluster ? this.#state(cluster).limiter : undefined;
    if (!limiter) return () => {};
    if (!limiter.canConnect()) {
      const src = cluster!.policy!.source;
      return `cluster ${cluster!.name} has ${limiter.connections} connections open, its maxConnections (DestinationRule ${src.namespace}/${src.name}) is ${cluster!.policy!.connectionPool!.maxConnections}`;
    }
    limiter.connectionOpened();
    let done = false;
    return () => {
      if (!done) limiter.connectionClosed();
      done = true;
    };
  }

  /**
   * Reports an outcome pool() did not see (e.g. a CONNECT tunnel's dial failure) to outlier
   * detection. Responses dispatched through pool() are reported already: do not report them again.
   */
  report(ep: Endpoint, outcome: Outcome): void {
    if (!ep.cluster || !ep.hostKey) return;
    const st = this.#state(ep.cluster);
    st.outlier?.report(ep.hostKey, outcome, st.hostKeys);
  }

  /** Closes pools of clusters no longer in `live`; in-flight requests finish first. */
  retain(live: ReadonlySet<string>): void {
    for (const [name, st] of this.#states) {
      if (name !== 'PassthroughCluster' && !live.has(name)) {
        this.#states.delete(name);
        closePools(st);
      }
    }
  }

  async close(): Promise<void> {
    const all = [...this.#states.values()].flatMap((s) => [...s.pools.values()]);
    this.#states.clear();
    await Promise.allSettled(all.map((p) => p.destroy()));
  }

  /**
   * Read-only, for scrape-time metrics: per cluster, undici's Pool stats summed over its pools.
   * `connected` sockets, `pending` requests not yet written (queued included), `running` in flight.
   */
  poolStats(): { cluster: string; connected: number; pending: number; running: number }[] {
    const out: { cluster: string; connected: number; pending: number; running: number }[] = [];
    for (const [cluster, st] of this.#states) {
      let connected = 0, pending = 0, running = 0;
      for (const p of st.pools.values()) {
        const s = p.stats;
        connected += s.connected;
        pending += s.pending;
        running += s.running;
      }
      out.push({ cluster, connected, pending, running });
    }
    return out;
  }
}

function poolOrigin(ep: Endpoint, tls: TlsOrigination | undefined): string {
  const host = ep.address.includes(':') ? `[${ep.address}]` : ep.address;
  return `${tls ? 'https' : 'http'}://${host}:${ep.port}`;
}

function poolKey(ep: Endpoint, origin: string, tls: TlsOrigination | undefined): string {
  return `${ep.hostKey ?? ''}|${origin}|${tls ? ep.sni ?? '' : ''}`;
}

function newState(cluster: Cluster | undefined, signature: string, name = cluster?.name ?? '', maxPools = 1024): ClusterState {
  const eps = cluster?.endpoints ?? [];
  const hostKeys = eps.map((e) => `${e.address}:${e.port}`);
  const active = new Map<string, number>();
  const p = cluster?.policy;
  const lbKind = p?.loadBalancer?.kind ?? 'LEAST_REQUEST';
  const limiter = p?.connectionPool ? new ClusterLimiter(p.connectionPool) : undefined;
  const outlier = p?.outlierDetection && eps.length > 0 ? new OutlierDetector(p.outlierDetection, eps.length) : undefined;
  return {
    name, signature, hostKeys, all: eps.map((_, i) => i),
    slots: eps.map((e) => ({ origin: isIP(e.address) ? 'registry' : 'dns', rrKey: `${name}|${e.address}`, byAddress: new Map() })),
    lb: new LoadBalancer(p?.loadBalancer, hostKeys.map((key, i) => ({ key, weight: eps[i]!.weight }))),
    load: (i) => active.get(hostKeys[i]!) ?? 0,
    limiter, outlier,
    tracked: !!limiter || !!outlier || (eps.length > 1 && lbKind === 'LEAST_REQUEST'),
    active, pools: new LruMap<string, Pool>(maxPools, (_key, pool) => void pool.close().catch(() => {})),
  };
}

function closePools(st: ClusterState): void {
  for (const p of st.pools.values()) p.close().catch(() => {});
  st.pools.clear();
}

function sniFor(cluster: Cluster, requestHost: string): string {
  const explicit = cluster.policy?.tls?.sni;
  if (explicit) return explicit;
  return cluster.host.startsWith('*') ? requestHost : cluster.host;
}

function plainConnector(timeoutMs: number, keepAliveMs: number | undefined, onSocket?: (s: Socket) => void, h2c = false): buildConnector.connector {
  // useH2c (undici 7.x, not in its connector types yet) marks the socket as h2, so the client
  // speaks HTTP/2 with prior knowledge on it.
  const options = { timeout: timeoutMs, ...(keepAliveMs ? { keepAlive: true, keepAliveInitialDelay: keepAliveMs } : {}), ...(h2c ? { useH2c: true } : {}) };
  const base = buildConnector(options as Parameters<typeof buildConnector>[0]);
  if (!onSocket) return base;
  return (opts, cb) => base(opts, (...args) => {
    if (args[1]) onSocket(args[1]);
    cb(...args);
  });
}

// maxConnectionDuration: undici has no "close after this response", so at expiry an idle
// keep-alive connection is closed, and a busy one gets undici's own reset flag, which closes it when
// its response ends and keeps new requests off it. Both are found by their symbols' descriptions
// (undici 7 client-h1); if they ever move, connections simply live on until their idle timeout.
const KEEP_ALIVE_TIMEOUT_BIT = 8; // undici client-h1 TIMEOUT_KEEP_ALIVE: the parser waits idle

function expireAfter(ms: number): (s: Socket) => void {
  return (s) => {
    const t = setTimeout(() => {
      const slots = s as unknown as Record<symbol, unknown>;
      const parserKey = symbolNamed(s, 'parser');
      const resetKey = symbolNamed(s, 'reset');
      const parser = parserKey ? (slots[parserKey] as { timeoutType?: number } | null) : null;
      if (parser && ((parser.timeoutType ?? 0) & KEEP_ALIVE_TIMEOUT_BIT)) s.destroy();
      else if (resetKey && parser) slots[resetKey] = true;
    }, ms);
    t.unref();
    s.once('close', () => clearTimeout(t));
  };
}
