// The waypoint's HBONE listener (15008): HTTP/2 classic CONNECT over mutual TLS 1.3, as Istio's
// `connect_terminate` listener. Each CONNECT stream becomes an InboundTunnel and takes the same
// path as a CONNECT on 15001 (ProxyListener.acceptTunnel): routing by :authority (host:port or
// VIP:port), AuthorizationPolicy with the peer's SPIFFE identity, HTTP termination or a byte splice.
import { listen } from '../dataplane/listen.ts';
import { createSecureServer, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { InboundTunnel } from '../dataplane/proxy-listener.ts';
import type { TunnelResponder } from '../dataplane/local-reply.ts';
import { identityFromSan, type Identity } from '../model/identity.ts';
import { parseBaggage, parseForwarded, workloadFromBaggage } from './headers.ts';
import { adaptStream } from './stream-adapter.ts';
import { startKeepalive } from './keepalive.ts';
import type { TlsMaterial } from './tls-files.ts';

export interface HboneListenerOptions {
  readonly tls: TlsMaterial;
  /** Where tunnels go: ProxyListener.acceptTunnel. */
  readonly accept: (t: InboundTunnel) => void;
  /** Istio's waypoint: 100 streams per connection, ping every 10 s, dead after 20 s without an ack. */
  readonly maxConcurrentStreams?: number;
  readonly keepaliveIntervalMs?: number;
  readonly keepaliveTimeoutMs?: number;
  /** A refusal made here, before routing (bad method, bad authority, no SPIFFE ID), for logs and tests. */
  readonly onRefused?: (status: number, reason: string) => void;
  /** Open HBONE connections; more are closed at accept (Envoy global_downstream_max_connections). 0: no cap. */
  readonly maxConnections?: number;
  /** A connection with no stream for this long is closed with GOAWAY (Envoy idle_timeout). 0: never. */
  readonly idleTimeoutMs?: number;
  /** A limit tripped, for egressway_downstream_limit_total. */
  readonly onLimit?: (kind: 'hbone_max_connections' | 'hbone_idle_timeout') => void;
}

interface SessionInfo {
  readonly identity: Identity | null;
  readonly local: string;
  readonly remote: string;
  /** Open streams, and the idle timer armed while there are none. */
  streams: number;
  idleTimer: NodeJS.Timeout | undefined;
}

// 1 MiB per stream and 16 MiB per connection: enough window for a fast upstream over loopback
// (64 KiB caps one stream at ~50 MB/s at 1 ms RTT); memory per connection stays bounded by it.
const STREAM_WINDOW = 1 << 20;
const SESSION_WINDOW = 16 << 20;

export function tlsServerOptions(m: TlsMaterial) {
  return {
    cert: m.cert, key: m.key, ca: m.ca,
    minVersion: 'TLSv1.3' as const, maxVersion: 'TLSv1.3' as const,
  };
}

export class HboneListener {
  #server: Http2SecureServer;
  #opts: HboneListenerOptions;
  #sessions = new Map<ServerHttp2Session, SessionInfo>();
  #streams = new Set<ServerHttp2Stream>();

  constructor(opts: HboneListenerOptions) {
    this.#opts = opts;
    this.#server = createSecureServer({
      ...tlsServerOptions(opts.tls),
      ALPNProtocols: ['h2'], allowHTTP1: false, requestCert: true, rejectUnauthorized: true,
      settings: { maxConcurrentStreams: opts.maxConcurrentStreams ?? 100, initialWindowSize: STREAM_WINDOW, enableConnectProtocol: false },
      // Without it, node holds up to 10 MB of unsent frames per session; the streams' own
      // back-pressure (write() returning false) is what bounds memory.
      maxSessionMemory: 64,
    });
    this.#server.on('session', (s) => this.#onSession(s));
    this.#server.on('stream', (stream, headers) => this.#onStream(stream, headers));
    // Handshake failures (no client cert, wrong CA, expired, TLS 1.2) end that connection only.
    this.#server.on('tlsClientError', () => {});
    this.#server.on('unknownProtocol', (socket) => socket.destroy());
    if (opts.maxConnections) {
      // net.Server closes connections past maxConnections at accept and says so with 'drop'.
      this.#server.maxConnections = opts.maxConnections;
      this.#server.on('drop', () => opts.onLimit?.('hbone_max_connections'));
    }
  }

  listen(port: number, host: string, reusePort = false): Promise<AddressInfo> {
    return listen(this.#server, port, host, reusePort);
  }

  /** New handshakes use the new material; open connections and their tunnels keep going. */
  setTls(m: TlsMaterial): void {
    this.#server.setSecureContext(tlsServerOptions(m));
  }

  get activeStreams(): number {
    return this.#streams.size;
  }

  get activeSessions(): number {
    return this.#sessions.size;
  }

  /** Stops accepting; GOAWAY lets open streams finish for up to `graceMs`, then cuts them. */
  async close(graceMs = 0): Promise<void> {
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    for (const s of this.#sessions.keys()) s.close();
    if (this.#sessions.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<void>((r) => {
        const check = setInterval(() => {
          if (this.#sessions.size === 0) {
            clearInterval(check);
            r();
          }
        }, 20);
        timer = setTimeout(() => {
          clearInterval(check);
          r();
        }, graceMs);
      });
      await idle;
      clearTimeout(timer);
    }
    for (const s of this.#sessions.keys()) s.destroy();
    await closed;
  }

  #onSession(session: ServerHttp2Session): void {
    const sock = session.socket as TLSSocket;
    const san = sock.getPeerCertificate?.()?.subjectaltname;
    const info: SessionInfo = {
      identity: identityFromSan(san) ?? null,
      local: addr(sock.localAddress, sock.localPort), remote: addr(sock.remoteAddress, sock.remotePort),
      streams: 0, idleTimer: undefined,
    };
    this.#sessions.set(session, info);
    session.setLocalWindowSize(SESSION_WINDOW);
    const stopPing = startKeepalive(session, this.#opts.keepaliveIntervalMs ?? 10_000, this.#opts.keepaliveTimeoutMs ?? 20_000);
    session.on('error', () => {});
    this.#armIdle(session, info);
    session.once('close', () => {
      stopPing();
      clearTimeout(info.idleTimer);
      this.#sessions.delete(session);
    });
  }

  /** Keepalive PINGs count as activity for node's own session timeout, so idleness is counted in streams. */
  #armIdle(session: ServerHttp2Session, info: SessionInfo): void {
    const ms = this.#opts.idleTimeoutMs ?? 0;
    if (ms <= 0) return;
    info.idleTimer = setTimeout(() => {
      this.#opts.onLimit?.('hbone_idle_timeout');
      session.close();
    }, ms);
    info.idleTimer.unref();
  }

  #trackStream(session: ServerHttp2Session, info: SessionInfo, stream: ServerHttp2Stream): void {
    info.streams++;
    clearTimeout(info.idleTimer);
    stream.once('close', () => {
      if (--info.streams === 0 && !session.closed && !session.destroyed) this.#armIdle(session, info);
    });
  }

  #onStream(stream: ServerHttp2Stream, h: IncomingHttpHeaders): void {
    stream.on('error', () => {});
    this.#streams.add(stream);
    stream.once('close', () => this.#streams.delete(stream));
    const session = stream.session as ServerHttp2Session;
    const info = this.#sessions.get(session);
    if (!info) return void stream.close();
    this.#trackStream(session, info, stream);
    const refuse = (status: number, reason: string) => {
      this.#opts.onRefused?.(status, reason);
      h2Responder(stream).refuse(status, { 'content-type': 'text/plain; charset=utf-8' }, `egressway: ${reason}\n`);
    };
    // ztunnel inbound.rs: anything but classic CONNECT is a 400 (RFC 9113 §8.5: no :scheme/:path).
    if (h[':method'] !== 'CONNECT' || h[':path'] !== undefined || h[':scheme'] !== undefined || h[':protocol'] !== undefined) {
      return refuse(400, `HBONE accepts only classic HTTP/2 CONNECT with :authority host:port (got ${String(h[':method']).slice(0, 16)}${h[':path'] !== undefined ? ' with :path' : ''})`);
    }
    const authority = h[':authority'] ?? '';
    if (!AUTHORITY_RE.test(authority)) return refuse(400, `CONNECT :authority "${authority.slice(0, 100)}" is not host:port`);
    // Envoy validates the peer's URI SAN as spiffe://<trust-domain>/...; a chained cert without one
    // is not a workload, and policies could not name it.
    if (!info.identity) return refuse(401, 'the client certificate has no spiffe://<trust-domain>/ns/<ns>/sa/<sa> URI SAN');
    const fwd = parseForwarded(header(h.forwarded));
    const baggage = parseBaggage(header(h.baggage));
    this.#opts.accept({
      stream: adaptStream(stream, info), authority, identity: info.identity, local: info.local,
      remote: fwd.for ?? info.remote, protocol: 'HTTP/2', userAgent: header(h['user-agent']),
      sourceWorkload: workloadFromBaggage(baggage), respond: h2Responder(stream),
      // With span export on, a refused or spliced tunnel's span joins the agent's trace.
      traceHeaders: h,
    });
  }
}

// host:port or [v6]:port with a numeric port; the router parses it again, strictly.
const AUTHORITY_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$/;

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

function addr(ip: string | undefined, port: number | undefined): string {
  const a = ip ?? '';
  return a.includes(':') ? `[${a}]:${port ?? 0}` : `${a}:${port ?? 0}`;
}

export function h2Responder(stream: ServerHttp2Stream): TunnelResponder {
  return {
    accept() {
      if (!stream.destroyed && !stream.headersSent) stream.respond({ ':status': 200 });
    },
    refuse(status, headers, body) {
      if (stream.destroyed || stream.headersSent) return void stream.close();
      const h: Record<string, string | number> = { ':status': status };
      for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
      h['content-length'] = Buffer.byteLength(body);
      stream.respond(h);
      stream.end(body);
    },
  };
}
