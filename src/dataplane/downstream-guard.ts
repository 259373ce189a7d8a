// Bounds what one downstream connection on the proxy listener may hold, with Envoy's timeouts:
//  - request_headers_timeout: a request's head must arrive within this once its first byte has
//    (slowloris); answered 408 and closed.
//  - idle_timeout: a connection with no request in flight (never used, or kept alive) is closed
//    after this long without a byte.
//  - stream_idle_timeout: a request in flight with no byte either way for this long (a stalled POST
//    body, a silent upstream) is answered 408 `SI`, or reset once its response has begun.
//  - a connection cap (Envoy's global_downstream_max_connections): connections past it are
//    accepted only to refuse their first request with 503 `OM`, and are closed after a short grace.
// Timers are not per connection: one sweep reads each socket's byte counters (no listener on the
// data path), so 10,000 idle connections cost one pass of ~10,000 property reads per tick.
// Tunnels (CONNECT, Upgrade) leave the sweep once spliced: tunnel.ts bounds their idle time.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface DownstreamLimits {
  /** 0 disables each timeout. */
  readonly requestHeadersTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly streamIdleTimeoutMs: number;
  readonly tunnelIdleTimeoutMs: number;
  /** Open downstream connections on the proxy listener; 0 means no cap. */
  readonly maxConnections: number;
}

/** Envoy's defaults or its edge best practice (README "Limits" says which is which). */
export const DEFAULT_LIMITS: DownstreamLimits = {
  requestHeadersTimeoutMs: 10_000,
  idleTimeoutMs: 65_000,
  streamIdleTimeoutMs: 300_000,
  tunnelIdleTimeoutMs: 3_600_000,
  maxConnections: 50_000,
};

/** The closed set of limits that can trip: the `limit` label of egressway_downstream_limit_total. */
export type LimitKind =
  | 'request_headers_timeout' | 'idle_timeout' | 'stream_idle_timeout' | 'tunnel_idle_timeout'
  // A DestinationRule maxConnectionDuration closed a TCP tunnel (Envoy tcp_proxy max_downstream_connection_duration).
  | 'tunnel_max_duration'
  | 'max_connections' | 'overload' | 'hbone_max_connections' | 'hbone_idle_timeout';

export interface GuardHooks {
  /** A limit tripped (one count per connection or request cut). */
  readonly onLimit?: (kind: LimitKind) => void;
  /** Stream idle timeout on `res`: answer 408 SI (or reset), as the listener records it. */
  readonly onStreamIdle: (res: ServerResponse) => void;
}

// A connection past the cap may send its request for this long, to be told 503 OM; then it is closed.
const REFUSED_GRACE_MS = 1_000;

interface Conn {
  readonly socket: Socket;
  /** Shared by the connection's responses: no closure per request. */
  readonly onResponseClose: (this: ServerResponse) => void;
  read: number;
  written: number;
  lastActive: number;
  /** When bytes of a request not yet parsed were first seen (0: none pending). */
  headersStart: number;
  /** Requests whose responses have not closed, oldest first (several only when pipelined). */
  readonly inflight: ServerResponse[];
  /** Spliced into a tunnel: out of the sweep (tunnel.ts times it). */
  tunnel: boolean;
  /** Accepted past the cap: its requests are refused. */
  readonly refused: boolean;
}

export class DownstreamGuard {
  readonly #limits: DownstreamLimits;
  readonly #hooks: GuardHooks;
  readonly #conns = new Map<Socket, Conn>();
  #timer: NodeJS.Timeout | undefined;
  #tickMs: number;
  /** Hot path: true while any open connection is past the cap, so requests check their socket. */
  refusing = false;
  #refusedCount = 0;
  /** Tracked HBONE streams, which the connection cap does not count. */
  #streams = 0;

  constructor(limits: DownstreamLimits, hooks: GuardHooks) {
    this.#limits = limits;
    this.#hooks = hooks;
    const set = [limits.requestHeadersTimeoutMs, limits.idleTimeoutMs, limits.streamIdleTimeoutMs].filter((t) => t > 0);
    // A quarter of the shortest timeout, within [50 ms, 1 s]: a timeout fires at most 25% late.
    this.#tickMs = Math.min(1_000, Math.max(50, Math.min(...set, REFUSED_GRACE_MS * 4) / 4));
  }

  /** Open downstream TCP connections being tracked. */
  get connections(): number {
    return this.#conns.size - this.#streams;
  }

  /**
   * Watches `server`: `connection` is the event that carries the socket HTTP is parsed on
   * ('secureConnection' behind TLS, whose handshake Node bounds with handshakeTimeout).
   */
  attach(server: Server, connectionEvent: 'connection' | 'secureConnection'): void {
    server.on(connectionEvent, (s: Socket) => this.#onConnection(s));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res));
    const toTunnel = (req: IncomingMessage) => {
      const c = this.#conns.get(req.socket);
      if (c) {
        c.tunnel = true;
        c.lastActive = Date.now();
      }
    };
    // First, so that the listener's own handler may resume() a CONNECT it terminates.
    server.prependListener('connect', toTunnel);
    server.prependListener('upgrade', toTunnel);
  }

  /** Whether `socket` was accepted past the cap (read only while `refusing`). */
  isRefused(socket: object): boolean {
    return this.#conns.get(socket as Socket)?.refused === true;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Drain's end: every socket still open, those Node no longer tracks (refused CONNECTs) included. */
  destroyAll(): void {
    for (const s of this.#conns.keys()) s.destroy();
    this.close();
  }

  #onConnection(s: Socket): void {
    // Anything with a socket's byte counters: sockets, and HBONE streams (stream-adapter.ts gives
    // them counters), whose requests get the same timeouts.
    if (typeof s.bytesRead !== 'number') return;
    // A CONNECT to an HTTP port: the same socket now carries HTTP again, counted once; the bytes
    // that made the listener hand it over are a request head not parsed yet.
    if (this.resume(s, true)) return;
    const max = this.#limits.maxConnections;
    // An HBONE stream is not a connection of this listener: its session counts against the HBONE cap.
    const refused = max > 0 && !isStream(s) && this.#conns.size - this.#streams - this.#refusedCount >= max;
    if (isStream(s)) {
      this.#streams++;
      s.once('close', () => this.#streams--);
    }
    const c: Conn = {
      socket: s, onResponseClose: function (this: ServerResponse) { responseClosed(c, this); },
      read: s.bytesRead, written: s.bytesWritten, lastActive: Date.now(),
      // A stream handed over after its first bytes (a terminated tunnel) has a head not parsed yet.
      headersStart: s.bytesRead > 0 ? Date.now() : 0, inflight: [], tunnel: false, refused,
    };
    this.#conns.set(s, c);
    if (refused) {
      this.#refusedCount++;
      this.refusing = true;
      this.#hooks.onLimit?.('max_connections');
    }
    s.once('close', () => {
      this.#conns.delete(s);
      if (refused && --this.#refusedCount === 0) this.refusing = false;
      if (this.#conns.size === 0) this.close();
    });
    this.#timer ??= setInterval(() => this.#sweep(), this.#tickMs).unref();
  }

  /**
   * A CONNECT to an HTTP port was answered: the socket is timed as a connection again (idle, then
   * request headers) from now, before its first byte too; `pending`: bytes of a head not parsed
   * yet were read. False for a socket it does not track.
   */
  resume(s: object, pending = false): boolean {
    const c = this.#conns.get(s as Socket);
    if (!c) return false;
    c.tunnel = false;
    c.headersStart = pending && c.inflight.length === 0 ? Date.now() : 0;
    c.read = c.socket.bytesRead;
    c.written = c.socket.bytesWritten;
    c.lastActive = Date.now();
    return true;
  }

  /** The socket now carries a protocol that times itself (HTTP/2 inside a tunnel): out of the sweep. */
  release(s: object): void {
    const c = this.#conns.get(s as Socket);
    if (c) c.tunnel = true;
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const c = this.#conns.get(req.socket);
    if (!c) return;
    c.headersStart = 0;
    c.inflight.push(res);
    res.on('close', c.onResponseClose); // emitted once; on() allocates no once-wrapper per request
  }

  #sweep(): void {
    const now = Date.now();
    const l = this.#limits;
    for (const [s, c] of this.#conns) {
      // A tunnel times itself (tunnel.ts); one that was refused (we ended our side) and that the
      // client keeps half open is swept as an idle connection.
      if (s.destroyed || (c.tunnel && s.writable)) continue;
      const r = s.bytesRead;
      const w = s.bytesWritten;
      if (r !== c.read || w !== c.written) {
        if (r !== c.read && c.inflight.length === 0 && c.headersStart === 0) c.headersStart = now;
        c.read = r;
        c.written = w;
        c.lastActive = now;
      }
      if (c.inflight.length > 0) {
        if (l.streamIdleTimeoutMs > 0 && now - c.lastActive >= l.streamIdleTimeoutMs) {
          this.#hooks.onLimit?.('stream_idle_timeout');
          c.lastActive = now; // once per stall: the reply itself is activity
          this.#hooks.onStreamIdle(c.inflight[0]!);
        }
      } else if (c.headersStart > 0 && l.requestHeadersTimeoutMs > 0 && now - c.headersStart >= l.requestHeadersTimeoutMs) {
        this.#hooks.onLimit?.('request_headers_timeout');
        requestTimeout(s, `request headers not received within ${l.requestHeadersTimeoutMs} ms (--request-headers-timeout)`);
      } else {
        const idle = c.refused ? REFUSED_GRACE_MS : l.idleTimeoutMs;
        if (idle > 0 && now - c.lastActive >= idle) {
          if (!c.refused) this.#hooks.onLimit?.('idle_timeout');
          s.destroy();
        }
      }
    }
  }
}

/** An HTTP/2 stream (HBONE) rather than a socket. */
function isStream(s: object): boolean {
  return 'session' in s;
}

function responseClosed(c: Conn, res: ServerResponse): void {
  const i = c.inflight.indexOf(res);
  if (i >= 0) c.inflight.splice(i, 1);
  if (c.inflight.length === 0) {
    // What was read so far belongs to finished requests; a next request starts the clock anew.
    c.read = c.socket.bytesRead;
    c.lastActive = Date.now();
  }
}

/** Envoy answers a request-headers timeout with 408 and closes; the request never reached routing. */
function requestTimeout(s: Socket, reason: string): void {
  const body = `egressway: ${reason}\n`;
  s.end(`HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nx-egressway-flags: -\r\nx-egressway-details: request_header_timeout\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  // The client may never read: do not wait on it.
  setTimeout(() => s.destroy(), 1_000).unref();
}
