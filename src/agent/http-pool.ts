// Keep-alive for the agent's absolute-form HTTP requests: per destination, a pool of HTTP/1.1
// "connections" that are HBONE CONNECT streams. A stream is opened once (CONNECT, then the waypoint
// builds one HTTP/1.1 server connection on it) and then carries request after request, exactly like
// a kept-alive TCP connection to an HTTP proxy. The waypoint still parses every request on it, so
// routing, AuthorizationPolicy (with the agent's identity) and metrics apply per request.
//
// One undici Pool per (certificate generation, waypoint, :authority, service, client IP): the CONNECT
// headers (identity by certificate, `forwarded: for=` source address, `host=` service) are the same
// for every request a stream may carry. Bounded: at most `maxPerDestination` streams per pool, an idle
// stream is closed after `idleTimeoutMs`, and a pool left with no stream is dropped.
import type { Dispatcher } from 'undici';
import { Pool } from '../dataplane/undici-core.ts';
import type { Socket } from 'node:net';
import { adaptStream } from '../hbone/stream-adapter.ts';
import { openHbone, type Destination, type DialDeps } from './dial.ts';

export interface HttpPoolOptions {
  /** Streams (concurrent requests) per destination; more requests wait for a free one. */
  readonly maxPerDestination?: number;
  /**
   * An idle pooled stream is closed after this long. The waypoint's own keep-alive (65 s, less
   * undici's 2 s safety margin) caps it.
   */
  readonly idleTimeoutMs?: number;
}

export const HTTP_POOL_DEFAULTS = { maxPerDestination: 128, idleTimeoutMs: 30_000 } as const;

/**
 * undici's legacy handler shape (onConnect, onHeaders, onData, onComplete, onError), which undici
 * calls without an adapter; `done` is set by dispatch() and called by the handler once, at
 * onComplete or onError, so the pool knows when a destination went idle.
 */
export interface PooledHandler {
  onConnect(abort: (err: Error) => void): void;
  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: string[] | null): void;
  onError(err: Error): void;
  done: (() => void) | undefined;
}

/** A refusal before any HTTP was exchanged (no route, waypoint unreachable, CONNECT not 200). */
export class RefusedError extends Error {
  readonly status: number;
  constructor(status: number, reason: string) {
    super(reason);
    this.status = status;
  }
}

interface Entry {
  readonly pool: Pool;
  readonly generation: number;
  /** Streams opened by this pool's connector and not yet closed. */
  open: number;
  /** Requests dispatched and not yet finished. */
  busy: number;
  idleSince: number;
}

const ENDS = { local: '127.0.0.1:0', remote: '127.0.0.1:0' };

export class HboneHttpPools {
  #deps: DialDeps;
  #max: number;
  #idleMs: number;
  #entries = new Map<string, Entry>();
  #sweeper: NodeJS.Timeout;
  /** HBONE streams opened for pooled HTTP, over the agent's life (tests check reuse with it). */
  streamsOpened = 0;

  constructor(deps: DialDeps, o: HttpPoolOptions = {}) {
    this.#deps = deps;
    this.#max = o.maxPerDestination ?? HTTP_POOL_DEFAULTS.maxPerDestination;
    this.#idleMs = o.idleTimeoutMs ?? HTTP_POOL_DEFAULTS.idleTimeoutMs;
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(1_000, this.#idleMs)).unref();
  }

  /** Pools currently held (one per destination and client address). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Sends one request through a pooled stream; a refusal arrives as a RefusedError in onError. The
   * handler is given to undici as it is (no wrapper per request): it calls `done` once it ends.
   */
  dispatch(dest: Destination & { kind: 'hbone' }, client: string, opts: Dispatcher.DispatchOptions, handler: PooledHandler): void {
    const e = this.#entry(dest, client);
    e.busy++;
    handler.done = () => {
      handler.done = undefined;
      if (--e.busy === 0) e.idleSince = Date.now();
    };
    e.pool.dispatch(opts, handler as Dispatcher.DispatchHandler);
  }

  /** Closes every pool: in-flight requests fail, idle streams are reset. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    const all = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.allSettled(all.map((e) => e.pool.destroy()));
  }

  #entry(dest: Destination & { kind: 'hbone' }, client: string): Entry {
    const generation = this.#deps.pool.generation;
    const clientIp = hostOf(client);
    // The service is in the key because it is in the CONNECT headers, and a config reload may map the
    // same authority to another one: such requests get a new pool, the old one idles out.
    const key = `${dest.waypoint.key}|${dest.waypoint.address}|${dest.authority}|${dest.service}|${clientIp}`;
    const cur = this.#entries.get(key);
    if (cur && cur.generation === generation) return cur;
    if (cur) {
      // New certificates: streams of the old connections finish their requests, then go.
      this.#entries.delete(key);
      void cur.pool.close().catch(() => {});
    }
    const e: Entry = { pool: undefined as unknown as Pool, generation, open: 0, busy: 0, idleSince: Date.now() };
    const connect = (_o: unknown, cb: (err: Error | null, socket: Socket | null) => void) => {
      openHbone(this.#deps, dest, client).then((r) => {
        if (!r.ok) return cb(new RefusedError(r.status, r.reason), null);
        this.streamsOpened++;
        e.open++;
        r.stream.once('close', () => {
          e.open--;
          if (e.open === 0 && e.busy === 0) e.idleSince = Date.now();
        });
        cb(null, adaptStream(r.stream, ENDS) as unknown as Socket);
      }, (err: Error) => cb(new RefusedError(503, err.message), null));
    };
    (e as { pool: Pool }).pool = new Pool(`http://${dest.authority}`, {
      connect: connect as unknown as Pool.Options['connect'],
      connections: this.#max,
      pipelining: 1,
      keepAliveTimeout: this.#idleMs,
      keepAliveMaxTimeout: this.#idleMs,
      // As before keep-alive: no proxy-side limit on how long an answer or its body may take.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.#entries.set(key, e);
    return e;
  }

  /** Drops pools with no stream and no request left for a whole idle period, and stale generations. */
  #sweep(): void {
    const now = Date.now();
    const generation = this.#deps.pool.generation;
    for (const [key, e] of this.#entries) {
      const stale = e.generation !== generation;
      if (stale || (e.open === 0 && e.busy === 0 && now - e.idleSince >= this.#idleMs)) {
        this.#entries.delete(key);
        void e.pool.close().catch(() => {});
      }
    }
  }
}

function hostOf(addr: string): string {
  if (addr.startsWith('[')) return addr.slice(0, addr.indexOf(']') + 1);
  const colon = addr.lastIndexOf(':');
  return colon < 0 ? addr : addr.slice(0, colon);
}
