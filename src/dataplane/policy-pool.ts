// The undici Pool of one endpoint of a cluster with a DestinationRule: it applies the cluster's
// circuit breakers (requests, pending, retries: connection-limits.ts) and reports responses to
// outlier detection, and it keeps the cluster's connections under tcp.maxConnections.
//
// maxConnections is Envoy's `connections` circuit breaker: counted per cluster, across every
// endpoint's pool (and the cluster's TCP tunnels), not per endpoint. Envoy's pool for a host opens
// a connection only while the cluster is under the limit, except the first one of a host, so that
// requests queued for it can ever be served (ConnPoolImplBase::tryCreateNewConnection). A request
// that finds no free connection then waits in this pool for one of its own connections to drain.
//
// undici's Pool opens connections as its Clients need them and keeps no cluster view, so this pool
// replaces its client choice (Pool's `get dispatcher` method, found by its symbol's description as
// expireAfter in upstream.ts finds undici's) and counts sockets through each Client's connector.
// If undici ever renames it, the per-cluster count falls back to undici's per-endpoint one.
import type { Dispatcher } from 'undici';
import { Client, Pool } from './undici-core.ts';
import type { ClusterLimiter } from './connection-limits.ts';
import { DataplaneError } from './errors.ts';
import { failHandler, observe } from './observe-dispatch.ts';
import type { OutlierDetector } from './outlier.ts';
import { symbolNamed } from './undici-symbol.ts';

/** What a pool needs of its cluster's state (upstream.ts ClusterState). */
export interface PoolCluster {
  readonly name: string;
  readonly hostKeys: readonly string[];
  readonly limiter?: ClusterLimiter;
  readonly outlier?: OutlierDetector;
  /** In-flight requests per endpoint, for least-request load balancing. */
  readonly active: Map<string, number>;
}

const kGetDispatcher = symbolNamed(Pool.prototype, 'get dispatcher');
let poolSymbols: { readonly clients?: symbol; readonly needDrain?: symbol } | undefined;

type DialCallback = (err: Error | null, socket: unknown) => void;
type Connector = (opts: object, cb: DialCallback) => void;

/** One Client's connection as the cluster counts it: from the dial until its socket closes. */
interface Slot {
  live: boolean;
  /** Claimed for a dispatch whose dial has not started yet (undici may start it a microtask later). */
  awaitingDial: boolean;
}

/** How the pool caps requests per connection (DestinationRule http.maxRequestsPerConnection). */
export type RequestsPerConnection =
  /** HTTP/1.1 only, 1: every request closes its connection (undici's maxRequestsPerClient counts one too many). */
  | { readonly kind: 'one' }
  /**
   * A pool that may speak HTTP/2: undici counts requests on HTTP/1.1 connections only, so each client
   * is retired after `max` requests: taken out of the pool (new requests go to another connection)
   * and closed once its streams finish, as Envoy drains a connection at max_requests_per_connection.
   */
  | { readonly kind: 'retire'; readonly max: number };

export class PolicyPool extends Pool {
  #st: PoolCluster;
  #host: string;
  #oneRequestPerConnection: boolean;
  #slots = new WeakMap<object, Slot>();
  /** This pool's live connections. */
  #live = 0;

  constructor(origin: string, opts: Pool.Options, st: PoolCluster, host: string, perConnection?: RequestsPerConnection) {
    super(origin, {
      ...opts,
      factory: (o, clientOpts) => {
        const slot: Slot = { live: false, awaitingDial: false };
        const connect = (clientOpts as { connect: Connector }).connect;
        const c = new Client(o, { ...clientOpts, connect: (co: object, cb: DialCallback) => this.#dial(slot, connect, co, cb) } as Client.Options);
        this.#slots.set(c, slot);
        if (perConnection?.kind === 'retire') this.#retireAfter(c, perConnection.max);
        return c;
      },
    });
    this.#st = st;
    this.#host = host;
    this.#oneRequestPerConnection = perConnection?.kind === 'one';
  }

  /** PoolBase's instance fields, looked up once (a scan of the instance's symbols). */
  #poolSymbols(): { readonly clients?: symbol; readonly needDrain?: symbol } {
    return (poolSymbols ??= { clients: symbolNamed(this, 'clients'), needDrain: symbolNamed(this, 'needDrain') });
  }

  /** Counts the requests dispatched to `c`; at `max` it leaves the pool and closes when idle. */
  #retireAfter(c: Client, max: number): void {
    let n = 0;
    const dispatch = c.dispatch.bind(c);
    c.dispatch = (opts, handler) => {
      const accepted = dispatch(opts, handler);
      if (++n === max) {
        const kClients = this.#poolSymbols().clients;
        const clients = kClients ? (this as unknown as Record<symbol, Client[]>)[kClients] : undefined;
        const i = clients ? clients.indexOf(c) : -1;
        if (i >= 0) {
          clients!.splice(i, 1);
          void c.close().catch(() => {});
        }
      }
      return accepted;
    };
  }

  #claim(slot: Slot): void {
    if (slot.live) return;
    slot.live = true;
    this.#live++;
    this.#st.limiter?.connectionOpened();
  }

  #release(slot: Slot): void {
    if (!slot.live) return;
    slot.live = false;
    slot.awaitingDial = false;
    this.#live--;
    this.#st.limiter?.connectionClosed();
  }

  #dial(slot: Slot, connect: Connector, opts: object, cb: DialCallback): void {
    slot.awaitingDial = false;
    this.#claim(slot);
    connect(opts, (err, socket) => {
      if (err || !socket) this.#release(slot);
      else (socket as { once(e: 'close', f: () => void): void }).once('close', () => this.#release(slot));
      cb(err, socket);
    });
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const st = this.#st;
    const overflow = st.limiter?.acquire(st.name);
    if (overflow) {
      failHandler(handler, new DataplaneError('upstream_overflow', overflow));
      return false;
    }
    const host = this.#host;
    st.active.set(host, (st.active.get(host) ?? 0) + 1);
    return super.dispatch(this.#oneRequestPerConnection ? { ...opts, reset: true } : opts, observe(handler, (outcome) => {
      if (outcome) st.outlier?.report(host, outcome, st.hostKeys);
    }, () => {
      st.limiter?.release();
      const left = (st.active.get(host) ?? 1) - 1;
      // Deleted at zero: for NONE and DYNAMIC_DNS the hosts come from requests.
      if (left > 0) st.active.set(host, left);
      else st.active.delete(host);
    }));
  }

  static {
    if (kGetDispatcher) {
      const base = (Pool.prototype as unknown as Record<symbol, (this: Pool) => Dispatcher | undefined>)[kGetDispatcher]!;
      Object.defineProperty(PolicyPool.prototype, kGetDispatcher, {
        value(this: PolicyPool) {
          return this.#pick(base);
        },
      });
    }
  }

  /** The client for the next request: a free one with a connection, else one more connection if allowed. */
  #pick(base: (this: Pool) => Dispatcher | undefined): Dispatcher | undefined {
    const limiter = this.#st.limiter;
    if (!limiter?.limitsConnections) return base.call(this);
    const self = this as unknown as Record<symbol, unknown>;
    const { clients: kClients, needDrain: kNeedDrain } = this.#poolSymbols();
    if (!kClients || !kNeedDrain) return base.call(this);
    let unconnected: Dispatcher | undefined;
    for (const c of self[kClients] as (Dispatcher & Record<symbol, unknown> & { closed: boolean; destroyed: boolean })[]) {
      if (c[kNeedDrain] || c.closed || c.destroyed) continue;
      if (this.#slots.get(c)?.live) return c;
      unconnected ??= c;
    }
    if (!limiter.canConnect() && this.#live > 0) return undefined; // waits for one of ours to drain
    const c = unconnected ?? base.call(this);
    const slot = c && this.#slots.get(c);
    if (slot && !slot.live) {
      // Counted now, so that other requests dispatched in this tick see it; given back if undici
      // did not dial after all.
      this.#claim(slot);
      slot.awaitingDial = true;
      setImmediate(() => {
        if (slot.awaitingDial) this.#release(slot);
      });
    }
    return c;
  }
}
