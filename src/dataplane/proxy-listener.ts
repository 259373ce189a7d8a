// The HTTP/CONNECT listener (15001): absolute-form requests (HTTP_PROXY), origin-form requests
// routed by Host (transparent redirection), CONNECT tunnels and WebSocket upgrades. Every HTTP
// request, including those read inside terminated CONNECT and HBONE tunnels and upgrades, goes
// through #serve: admit() (normalise, route, authorize), then serveHttp().
// Each request reads the snapshot once and keeps it until it ends.
import { listen } from './listen.ts';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer, STATUS_CODES } from '../node-http.ts';
import { createServer as createTlsServer } from 'node:https';
import type { Http2Server, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import { Socket, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { identityFromSan, type Identity, type PodIdentities, type PodWorkload } from '../model/identity.ts';
import { Duplex } from 'node:stream';
import type { Cluster, Snapshot } from '../model/snapshot.ts';
import type { RequestRecord } from '../telemetry/record.ts';
import { admit, applyPlan, dialledIp, HEAD_LIMITS, shouldUpgrade, type Admission, type Arrival } from './admit.ts';
import { formatAuthority, parseAuthority, type Authority } from './authority.ts';
import { classifyUpstreamError, DataplaneError, type FailureCode } from './errors.ts';
import { errReason, type DownstreamClose } from './http-forward.ts';
import { serveHttp } from './serve-http.ts';
import { localReply, refuseTunnel, type TunnelResponder } from './local-reply.ts';
import { planRoute, type Plan } from './plan.ts';
import { authorize, needsSni, noteVerdict, replyDenied, type AuthzInput } from './authorize.ts';
import { peekClientHello } from './client-hello.ts';
import { addr, finisher, finishRecord, markFailure, newRecord, recordFromRequest, socketAddrs, type RecordSink, type TraceHeaders } from './record.ts';
import { clientErrorReply, http1Responder, lingeringClose, upgradeResponse } from './socket-response.ts';
import { dialTunnel, splice } from './tunnel.ts';
import type { TcpProxySettings } from '../model/cluster-policy.ts';
import { DEFAULT_LIMITS, DownstreamGuard, type DownstreamLimits, type LimitKind } from './downstream-guard.ts';
import type { OverloadMonitor } from './overload.ts';
import type { Endpoint, Outcome, Upstreams } from './upstream.ts';

/** A tunnel's dial as outlier detection sees it (Envoy tcp_proxy's putResult). */
const CONNECTED: Outcome = { status: 200 };
const CONNECT_FAILED: Outcome = { localFailure: true };

export interface SnapshotSource {
  current(): Snapshot;
}

export interface ProxyDeps {
  readonly snapshots: SnapshotSource;
  /** Plaintext clients looked up among the Pods by source IP (--identify-pods-by-ip). */
  readonly pods?: PodIdentities;
  readonly upstreams: Upstreams;
  readonly sink: RecordSink;
  readonly connectTimeoutMs?: number;
  /** How long a tunnel that a connection.sni policy applies to waits for the client's ClientHello. */
  readonly sniTimeoutMs?: number;
  /**
   * TLS for the proxy listener itself (PEM). With `ca`, clients must present a certificate that
   * chains to it, and the SPIFFE ID in it becomes the request's source identity.
   */
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca?: string };
  /** Called when a tunnel (CONNECT or Upgrade) is established, before any byte flows. */
  readonly onTunnelOpen?: (r: RequestRecord) => void;
  /** Spans are exported (--otlp-endpoint): upstream traceparents name the waypoint's span as parent. */
  readonly ownSpans?: boolean;
  /** Timeouts and the connection cap (downstream-guard.ts); Envoy's defaults when absent. */
  readonly limits?: Partial<DownstreamLimits>;
  /** The overload guard shared with the HBONE listener: above it, new requests and tunnels get 503 OM. */
  readonly overload?: OverloadMonitor;
  /** A limit tripped, for egressway_downstream_limit_total. */
  readonly onLimit?: (kind: LimitKind) => void;
}

/**
 * A tunnel request, however it arrived: CONNECT on this listener, or an HBONE stream on 15008.
 * Both take the same path through routing, policy, upstream and telemetry.
 */
export interface InboundTunnel {
  /** The tunnel's bytes, after the request head. */
  readonly stream: Duplex;
  /** CONNECT authority as sent: host:port or VIP:port. */
  readonly authority: string;
  /** Verified peer identity; null when the peer presented no SPIFFE ID; undefined without mTLS. */
  readonly identity: Identity | null | undefined;
  readonly local: string;
  readonly remote: string;
  readonly protocol: string;
  readonly userAgent?: string;
  /** Source workload name from baggage, for telemetry. */
  readonly sourceWorkload?: string;
  /** The request's headers, for its trace context (traceparent, tracestate) when spans are exported. */
  readonly traceHeaders?: TraceHeaders;
  readonly respond: TunnelResponder;
}

interface Peer {
  readonly identity: Identity | null | undefined;
  /** A plaintext client found among the Pods by its IP (--identify-pods-by-ip); never with mTLS. */
  readonly pod?: PodWorkload;
  /** The pod's namespace, for `namespaces` in policy, when the operator enabled it. */
  readonly podNamespace?: string;
  readonly local: string;
  readonly remote: string;
  readonly remoteIp: string;
  /** The address the client connected to (the listener's, or the tunnel's local end). */
  readonly localIp: string;
  readonly sourceWorkload?: string;
}

export class ProxyListener {
  #server: Server;
  /** The plain parser for terminated tunnels: #server itself unless the listener speaks TLS. */
  #inner: Server;
  #deps: ProxyDeps;
  /** Sockets that arrived by CONNECT to an HTTP port: their requests route by the CONNECT authority. */
  #tunnelTargets = new WeakMap<Duplex, Authority>();
  #tunnels = new Set<Duplex>();
  #inflight = 0;
  #draining = false;
  #idleWaiters: (() => void)[] = [];
  /** Verified client identity per TLS connection, parsed once at handshake. */
  #identities = new WeakMap<Duplex, Identity | null>();
  /** Streams handed in by acceptTunnel: their peer is not the stream's socket address. */
  #peers = new WeakMap<Duplex, Peer>();
  /**
   * HTTP/2 with prior knowledge inside terminated tunnels (gRPC clients). Its requests take the
   * same path as HTTP/1.1 ones; tunnel facts are keyed by the h2 session, since a compat
   * request's `socket` is a proxy object, not the tunnel stream.
   */
  #h2cServer: Http2Server | undefined;
  #pendingH2: { authority: Authority; peer: Peer } | undefined;
  #h2Sessions = new WeakMap<object, H2Tunnel>();
  /** An HTTP request's outcome from admit(), and its end (response closed). Bound once, shared by every Exchange. */
  #exchangeHooks: ExchangeHooks = {
    admitted: (x, a) => this.#admitted(x, a),
    finish: (r) => finishRecord(r, this.#deps.sink),
    done: () => {
      this.#inflight--;
      this.#settle();
    },
  };
  #connections = 0;
  /** Connections whose parser failed: their error reply is written (or waiting) already. */
  #clientErrors = new WeakSet<Duplex>();
  #guard: DownstreamGuard;
  #limits: DownstreamLimits;

  constructor(deps: ProxyDeps) {
    this.#deps = deps;
    const limits = (this.#limits = { ...DEFAULT_LIMITS, ...deps.limits });
    // Head limits as Envoy's (admit.ts); only enabled upgrades (websocket) leave the parser for 'upgrade'.
    // Node's own request and headers timers stay off: the guard times every phase (Node's
    // headersTimeout is checked only every 30 s and cannot tell a never-used connection apart).
    // Kept-alive connections still close after the idle timeout by Node's keepAliveTimeout.
    const opts = {
      requestTimeout: 0, headersTimeout: 0, keepAliveTimeout: limits.idleTimeoutMs || 65_000,
      maxHeaderSize: HEAD_LIMITS.maxHeaderBytes, shouldUpgradeCallback: shouldUpgrade,
      ...(deps.tls ? { handshakeTimeout: limits.requestHeadersTimeoutMs || 120_000 } : {}),
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res);
    const tls = deps.tls;
    this.#server = tls
      ? createTlsServer({ ...opts, cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: !!tls.ca, rejectUnauthorized: !!tls.ca, minVersion: 'TLSv1.2' }, onRequest)
      : createServer(opts, onRequest);
    // Terminated tunnels (CONNECT to an HTTP port, HBONE, PROXY protocol) carry plain HTTP: with a TLS
    // listener they need a plain parser of their own, or it waits for a handshake that never comes.
    this.#inner = tls ? createServer(opts, onRequest) : this.#server;
    if (tls?.ca) {
      this.#server.on('secureConnection', (s: TLSSocket) => {
        this.#identities.set(s, s.authorized ? identityFromSan(s.getPeerCertificate().subjectaltname) ?? null : null);
      });
      this.#server.on('tlsClientError', () => {});
    }
    this.#guard = new DownstreamGuard(limits, { onLimit: deps.onLimit, onStreamIdle: (res) => this.#onStreamIdle(res) });
    this.#configure(this.#server, tls ? 'secureConnection' : 'connection');
    if (this.#inner !== this.#server) this.#configure(this.#inner, 'connection');
  }

  /**
   * Made on the first prior-knowledge connection: node:http2 is 9.6 MiB of RSS that a waypoint whose
   * clients never speak h2c inside a tunnel should not pay (issue 16). getBuiltinModule is synchronous.
   */
  get #h2c(): Http2Server {
    if (this.#h2cServer) return this.#h2cServer;
    const { createServer: createH2cServer } = process.getBuiltinModule('node:http2');
    const h2c = (this.#h2cServer = createH2cServer({ settings: { maxConcurrentStreams: 100 } }));
    h2c.on('session', (session) => {
      if (this.#pendingH2) this.#h2Sessions.set(session, this.#pendingH2);
      this.#pendingH2 = undefined;
      session.on('error', () => {});
      this.#timeH2c(session);
    });
    // An HTTP/2 CONNECT inside a terminated tunnel: 403 upgrade_failed and a record, as for HTTP/1.1
    // (#onConnect); node's own answer was a 405 that no access log saw.
    h2c.on('connect', (req, res) => {
      const h2 = h2Tunnel(req as unknown as IncomingMessage, this.#h2Sessions);
      const peer = h2?.peer ?? this.#peer(req.socket);
      const record = recordFromRequest(req as unknown as IncomingMessage, 'tcp', peer, this.#deps.ownSpans);
      this.#identify(record, peer);
      const inside = h2 ? formatAuthority(h2.authority.host, h2.authority.port) : 'an HTTP port';
      localReply(res as unknown as ServerResponse, record, 'upgrade_failed', `CONNECT inside a tunnel to ${inside} (an HTTP port) is not allowed`);
      res.once('close', () => finishRecord(record, this.#deps.sink));
    });
    h2c.on('request', (req, res) => {
      const ms = this.#limits.streamIdleTimeoutMs;
      if (ms > 0) req.stream.setTimeout(ms, () => this.#onH2StreamIdle(req.stream, res as unknown as ServerResponse));
      this.#onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    });
    return h2c;
  }

  /**
   * An h2c session inside a tunnel has the limits of a connection, as Envoy's HTTP/2 codec applies
   * them: closed (GOAWAY) after --idle-timeout with no stream open, which also bounds a stream
   * whose headers never complete; each stream has --stream-idle-timeout (#onH2StreamIdle).
   */
  #timeH2c(session: ServerHttp2Session): void {
    const ms = this.#limits.idleTimeoutMs;
    if (ms <= 0) return;
    let open = 0;
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      idle = setTimeout(() => {
        this.#deps.onLimit?.('idle_timeout');
        session.close();
        setTimeout(() => session.destroy(), 1_000).unref(); // a stream still half received
      }, ms).unref();
    };
    arm();
    session.on('stream', (stream) => {
      open++;
      clearTimeout(idle);
      stream.once('close', () => {
        if (--open === 0 && !session.closed && !session.destroyed) arm();
      });
    });
    session.once('close', () => clearTimeout(idle));
  }

  /** Stream idle timeout on an h2c stream: 408 SI while the response has not begun, else a reset; the session lives on. */
  #onH2StreamIdle(stream: ServerHttp2Stream, res: ServerResponse): void {
    this.#deps.onLimit?.('stream_idle_timeout');
    const x = (res as ExchangeResponse)[kExchange];
    if (!x || res.headersSent) return void stream.close(H2_CANCEL);
    x.closed?.onDownstreamClose();
    localReply(res, x.record, 'stream_idle_timeout', `no byte received or sent for ${this.#limits.streamIdleTimeoutMs} ms (--stream-idle-timeout)`);
    res.once('finish', () => stream.close(H2_NO_ERROR));
  }

  /** The same parser settings and handlers on the listener and on the inner parser for tunnels. */
  #configure(server: Server, connectionEvent: 'connection' | 'secureConnection'): void {
    // A client may shut its write side right after its request (HBONE streams, `nc -N`): answer
    // anyway, as Envoy does, instead of Node's default of aborting the request.
    (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    server.on('connect', (req, socket, head) => this.#onConnect(req, socket as Socket, head));
    server.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head));
    // Node keeps the first N header fields and drops the rest silently: one more than the limit
    // tells admit() the limit was passed.
    server.maxHeadersCount = HEAD_LIMITS.maxHeaders + 1;
    server.on('connection', (sock: Socket) => {
      this.#connections++;
      sock.once('close', () => this.#connections--);
    });
    server.on('clientError', (err, socket) => this.#onClientError(err, socket));
    this.#guard.attach(server, connectionEvent);
  }

  /** Why this request or tunnel must be refused now (overload guard, connection cap), if it must. */
  #shed(socket: object): { code: FailureCode; reason: string } | undefined {
    const o = this.#deps.overload;
    if (o?.overloaded) return { code: 'overload', reason: o.shed() };
    if (this.#guard.refusing && this.#guard.isRefused(socket)) {
      const max = this.#limits.maxConnections;
      return { code: 'downstream_overflow', reason: `the waypoint has ${max} connections open, its --max-connections; retry later, spread clients over more replicas, or raise the limit (and ulimit -n)` };
    }
    return undefined;
  }

  /** Stream idle timeout: 408 SI while the response has not begun (the upstream try is cancelled), else a reset. */
  #onStreamIdle(res: ServerResponse): void {
    const x = (res as ExchangeResponse)[kExchange];
    if (!x || res.headersSent) return void res.destroy();
    x.closed?.onDownstreamClose();
    localReply(res, x.record, 'stream_idle_timeout', `no byte received or sent for ${this.#limits.streamIdleTimeoutMs} ms (--stream-idle-timeout)`, true);
    // The request body will not come: close once the 408 is out rather than wait for it.
    res.once('finish', () => res.socket?.destroySoon());
  }

  listen(port: number, host: string, reusePort = false): Promise<AddressInfo> {
    return listen(this.#server, port, host, reusePort);
  }

  get activeRequests(): number {
    return this.#inflight;
  }

  /** Open downstream connections (kept-alive idle ones included). */
  get activeConnections(): number {
    return this.#connections;
  }

  get activeTunnels(): number {
    return this.#tunnels.size;
  }

  /** Stops accepting, lets in-flight requests and tunnels finish for up to `graceMs`, then cuts them. */
  async drain(graceMs: number): Promise<void> {
    this.#draining = true;
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    this.#server.closeIdleConnections();
    if (this.#inner !== this.#server) this.#inner.closeIdleConnections();
    const idle = new Promise<void>((r) => (this.#isIdle() ? r() : this.#idleWaiters.push(r)));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => { timer = setTimeout(r, graceMs); });
    await Promise.race([idle, timeout]);
    clearTimeout(timer);
    this.#server.closeAllConnections();
    if (this.#inner !== this.#server) this.#inner.closeAllConnections();
    for (const t of this.#tunnels) t.destroy();
    // A refused CONNECT held half open is no longer Node's, but server.close() waits for it.
    this.#guard.destroyAll();
    await closed;
  }

  /** Who is on the other end of `stream`: a handed-in tunnel's peer, or the socket itself. */
  #peer(stream: Duplex): Peer {
    const known = this.#peers.get(stream);
    if (known) return known;
    const s = stream as Socket;
    const remoteIp = s.remoteAddress ?? '';
    // Once per connection: kept-alive connections carry many requests with the same peer.
    const identity = this.#identities.get(stream);
    const pods = this.#deps.pods;
    const pod = identity === undefined && pods ? pods.lookup(unmapped(remoteIp)) : undefined;
    const peer: Peer = {
      identity, local: addr(s.localAddress, s.localPort), remote: addr(remoteIp, s.remotePort), remoteIp, localIp: unmapped(s.localAddress ?? ''),
      ...(pod ? { pod, ...(pods!.namespacesInPolicy ? { podNamespace: pod.namespace } : {}) } : {}),
    };
    if (remoteIp) this.#peers.set(stream, peer);
    return peer;
  }

  #identify(record: RequestRecord, peer: Peer): void {
    if (peer.sourceWorkload) record.sourceWorkload = peer.sourceWorkload;
    if (peer.pod) {
      // Known by its IP only: telemetry says where it came from, and that the connection was plaintext
      // (connection_security_policy stays "none", source_principal "unknown").
      record.sourceNamespace = peer.pod.namespace;
      record.sourceWorkload ||= peer.pod.workload;
    }
    if (peer.identity === undefined) return;
    // A client certificate was verified at the handshake: mutual TLS, with or without a SPIFFE ID.
    record.connectionSecurityPolicy = 'mutual_tls';
    if (peer.identity) {
      record.sourcePrincipal = peer.identity.uri;
      record.sourceNamespace = peer.identity.namespace;
    }
  }

  #isIdle(): boolean {
    return this.#inflight === 0 && this.#tunnels.size === 0;
  }

  #settle(): void {
    if (this.#draining && this.#isIdle()) for (const w of this.#idleWaiters.splice(0)) w();
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    // Pipelined behind a response still owed: not before its turn (#waitTurn).
    if (!res.socket) return this.#waitTurn(req, res);
    const h2 = h2Tunnel(req, this.#h2Sessions);
    const peer = h2?.peer ?? this.#peer(req.socket);
    const record = recordFromRequest(req, 'http', peer, this.#deps.ownSpans);
    this.#serve(req, res, record, peer, h2?.authority ?? this.#tunnelTargets.get(req.socket));
  }

  /**
   * HTTP/1.1 pipelining, one request at a time per connection, as Envoy's codec dispatches them (it
   * stops reading after a request until its response is done). Node parses and emits every request
   * of a read at once and only orders the responses: without this, one write of 2,000 pipelined
   * requests opened 2,000 upstream connections at once, held after the client left. A request whose
   * response is queued behind another (Node has not given it the socket) waits for the socket, and
   * the connection is not read meanwhile, so at most one read's worth of requests waits.
   */
  #waitTurn(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket as Pipelined;
    const waiting = (socket[kWaiting] ?? 0) + 1;
    socket[kWaiting] = waiting;
    // One request waiting is the common case of keep-alive, not pipelining: the client sent its next
    // request as soon as it read the response, before Node saw that response's write finish (an HBONE
    // stream's write callback comes late). Pausing then cost a pause/resume of the stream per request
    // (13% of the HBONE path's CPU). From the second, the client pipelines: stop reading.
    if (waiting === 2) {
      socket[kPaused] = true;
      socket.pause();
    }
    res.once('socket', () => {
      if (--socket[kWaiting]! === 0 && socket[kPaused]) {
        socket[kPaused] = false;
        socket.resume();
      }
      this.#onRequest(req, res);
    });
  }

  /**
   * An enabled Upgrade (websocket): Node hands the socket over. The request takes the same path as
   * any other (admit -> serveHttp), answered through a ServerResponse on that socket; only an
   * upstream's 101 turns the socket into a tunnel. After any other answer the connection is
   * closed, as Envoy does when an upgrade request's stream ends without the upgrade.
   */
  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    // Pipelined behind a request whose response is still owed: Node hands the socket over at once
    // (a ServerResponse on it would throw ERR_HTTP_SOCKET_ASSIGNED). Answer in order: after it.
    const busy = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (busy) {
      busy.once('close', () => setImmediate(() => {
        if (socket.destroyed) return;
        this.#onUpgrade(req, socket, head);
      }));
      return;
    }
    // Node no longer tracks this socket: drain must find it, before and after a 101.
    this.#tunnels.add(socket);
    socket.once('close', () => {
      this.#tunnels.delete(socket);
      this.#settle();
    });
    const peer = this.#peer(socket);
    const record = recordFromRequest(req, 'tcp', peer, this.#deps.ownSpans);
    this.#serve(req, upgradeResponse(req, socket), record, peer, this.#tunnelTargets.get(socket), { socket, head });
  }

  /** Every HTTP request, whatever door it came through: admit (normalise, route, authorize), then serve. */
  #serve(req: IncomingMessage, res: ServerResponse, record: RequestRecord, peer: Peer, tunnel: Authority | undefined, upgrade?: Upgrading): void {
    const snap = this.#deps.snapshots.current();
    this.#identify(record, peer);
    this.#inflight++;
    const x = new Exchange(req, res, record, peer, tunnel, upgrade, snap, this.#exchangeHooks);
    (res as ExchangeResponse)[kExchange] = x;
    res.on('close', onResponseClose);
    if (this.#draining) res.shouldKeepAlive = false;
    const shed = this.#shed(req.socket);
    if (shed) {
      req.resume();
      return localReply(res, record, shed.code, shed.reason, true);
    }
    admit(snap, x, record);
  }

  /** admit()'s outcome: a local reply, a denial, or serveHttp. */
  #admitted(x: Exchange, a: Admission): void {
    const { req, res, record } = x;
    if ('refused' in a) {
      req.resume();
      return localReply(res, record, a.refused, a.reason, this.#draining || a.close || bodyPending(req), a.details);
    }
    if ('denied' in a) {
      req.resume();
      return replyDenied(res, record, a.denied, this.#draining || a.close || bodyPending(req));
    }
    const upgrade = x.upgrade;
    serveHttp({
      snap: x.snap, req, res, record, admitted: a, upstreams: this.#deps.upstreams, draining: this.#draining,
      sourceIp: unmapped(x.peer.remoteIp), ownSpan: this.#deps.ownSpans, downstream: x,
      onUpgrade: upgrade && ((status, headers, up) => this.#upgraded(x, upgrade.socket, upgrade.head, status, headers, up)),
    });
  }

  /** The upstream answered 101: the request's record now lives as long as the tunnel. */
  #upgraded(x: Exchange, client: Duplex, head: Buffer, status: number, headers: readonly string[], up: Duplex): void {
    const { record, res } = x;
    (res as ExchangeResponse)[kExchange] = undefined;
    res.detachSocket(client as Socket);
    if (client.destroyed) {
      up.destroy();
      markFailure(record, 'downstream_disconnect');
      finishRecord(record, this.#deps.sink);
      return x.hooks.done();
    }
    record.responseCode = status;
    socketAddrs(record, up as Socket);
    let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
    for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
    client.write(`${text}\r\n`);
    // Bytes the client sent after its request head belong to the new protocol: the upstream's now.
    if (head.length) up.write(head);
    this.#splice(client, up as Socket, record, finisher(record, this.#deps.sink));
    x.hooks.done();
  }

  /** Picks an endpoint (sync when DNS is cached) and maps pick failures to their codes. */
  #withEndpoint(
    cluster: Cluster | undefined,
    authority: Authority, record: RequestRecord,
    ok: (ep: Endpoint) => void, fail: (code: FailureCode, reason: string) => void,
  ): void {
    const onErr = (err: unknown) => fail(err instanceof DataplaneError ? err.code : 'dns_failure', errReason(err));
    const use = (ep: Endpoint) => {
      record.upstreamHost = ep.authority ?? formatAuthority(ep.address, ep.port);
      ok(ep);
    };
    try {
      const ep = this.#deps.upstreams.pick(cluster, authority.host, authority.port);
      if (ep instanceof Promise) ep.then(use, onErr);
      else use(ep);
    } catch (err) {
      onErr(err);
    }
  }

  #onConnect(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => {});
    const peer = this.#peer(socket);
    const inside = this.#tunnelTargets.get(socket);
    if (inside) {
      // A CONNECT inside a terminated tunnel: the service's HTTP port does not tunnel. Envoy's HCM
      // treats CONNECT as an upgrade type that Istio enables only on the HBONE listener: 403.
      const record = newRecord({ kind: 'tcp', method: 'CONNECT', path: '', protocol: `HTTP/${req.httpVersion}`, authority: req.url ?? '', userAgent: '', requestId: '', local: peer.local, remote: peer.remote });
      this.#identify(record, peer);
      refuseTunnel(http1Responder(socket), record, 'upgrade_failed', `CONNECT inside a tunnel to ${formatAuthority(inside.host, inside.port)} (an HTTP port) is not allowed`);
      lingeringClose(socket); // Node no longer reads this socket: read to the client's FIN, then close
      return finishRecord(record, this.#deps.sink);
    }
    if (head.length) socket.unshift(head);
    this.acceptTunnel({
      stream: socket, authority: req.url ?? '', identity: peer.identity, local: peer.local, remote: peer.remote,
      protocol: `HTTP/${req.httpVersion}`, userAgent: req.headers['user-agent'], traceHeaders: req.headers, respond: http1Responder(socket),
    });
  }

  /** Routes, authorizes and opens a tunnel. HTTP ports are terminated and served request by request. */
  acceptTunnel(t: InboundTunnel): void {
    const snap = this.#deps.snapshots.current();
    const record = newRecord({
      kind: 'tcp', method: 'CONNECT', path: '', protocol: t.protocol, authority: t.authority,
      userAgent: t.userAgent ?? '', requestId: '', local: t.local, remote: t.remote,
      traced: this.#deps.ownSpans, traceHeaders: t.traceHeaders,
    });
    const peer: Peer = { identity: t.identity, local: t.local, remote: t.remote, remoteIp: hostOf(t.remote), localIp: unmapped(hostOf(t.local)), sourceWorkload: t.sourceWorkload };
    this.#identify(record, peer);
    const finish = finisher(record, this.#deps.sink);
    const refuse = (code: FailureCode, reason: string, details?: string) => {
      refuseTunnel(t.respond, record, code, reason, details);
      finish();
    };
    const shed = this.#shed(t.stream);
    if (shed) return refuse(shed.code, shed.reason);
    const authority = parseAuthority(t.authority, 0);
    if (!authority || authority.port === 0) return refuse('bad_request', `CONNECT target "${t.authority}" must be host:port`);
    const plan = planRoute(snap, authority.host, authority.port, 'connect');
    applyPlan(record, plan);
    if (plan.kind === 'reject') return refuse(plan.code, plan.message);
    if (plan.kind === 'forward' && plan.terminate) {
      // L7 port: answer the CONNECT, then parse what flows inside as HTTP through the same path.
      this.#tunnelTargets.set(t.stream, authority);
      this.#peers.set(t.stream, peer);
      t.respond.accept();
      // Until its first byte, and as HTTP/1.1 after, timed as any connection (idle, request headers):
      // a client that sends nothing after its CONNECT is closed by --idle-timeout. A stream the
      // guard does not know (HBONE, PROXY protocol) gets the same bound on its first byte.
      if (!this.#guard.resume(t.stream)) this.#firstByteTimeout(t.stream);
      // HTTP/1.1 or HTTP/2 with prior knowledge: the client speaks first, so look at its bytes.
      t.stream.once('data', (first: Buffer) => {
        t.stream.pause();
        t.stream.unshift(first);
        if (isH2Preface(first)) {
          this.#guard.release(t.stream); // the h2c session times itself (#timeH2c)
          this.#pendingH2 = { authority, peer };
          // node:http2 reads a socket's native handle directly, past the byte we peeked at; a JS
          // Duplex in front makes it read through the stream, unshifted bytes included.
          this.#h2c.emit('connection', t.stream instanceof Socket ? jsDuplex(t.stream) : t.stream);
        } else {
          this.#inner.emit('connection', t.stream);
        }
        t.stream.resume();
      });
      return;
    }
    const input: AuthzInput & { protocol: 'tcp' } = {
      protocol: 'tcp', sourceIp: peer.remoteIp, identity: peer.identity, plaintextNamespace: peer.podNamespace, host: t.authority, port: authority.port,
      destinationIp: dialledIp({ authority }, peer),
    };
    if (!needsSni(snap, plan)) {
      const verdict = authorize(snap, plan, input);
      if (verdict) noteVerdict(record, verdict);
      if (verdict && !verdict.allow) return refuse('rbac_denied', verdict.reason, verdict.details);
      return this.#dialTunnel(t, plan, authority, record, finish, refuse, false);
    }
    // A policy reads connection.sni: as the waypoint does (its tls_inspector runs on the tunnel's
    // inner connection), open the tunnel, read the ClientHello without terminating TLS, then decide.
    // A deny can then only close the tunnel, as Envoy's RBAC network filter does.
    t.respond.accept();
    record.responseCode = 200;
    this.#tunnels.add(t.stream);
    peekClientHello(t.stream, this.#deps.sniTimeoutMs ?? SNI_TIMEOUT_MS).then((peek) => {
      const sni = peek.kind === 'sni' ? peek.sni : undefined;
      if (sni !== undefined) record.requestedServerName = sni;
      if (t.stream.destroyed || peek.kind === 'refuse') {
        this.#tunnels.delete(t.stream);
        this.#settle();
        if (peek.kind === 'refuse') {
          markFailure(record, 'bad_request', peek.reason);
          record.connectionTerminationDetails = peek.reason;
          t.stream.destroy();
        } else markFailure(record, 'downstream_disconnect');
        return finish();
      }
      const verdict = authorize(snap, plan, { ...input, ...(sni !== undefined ? { sni } : {}) });
      if (verdict) noteVerdict(record, verdict);
      if (verdict && !verdict.allow) {
        markFailure(record, 'rbac_denied', verdict.reason, verdict.details);
        record.connectionTerminationDetails = verdict.reason;
        this.#tunnels.delete(t.stream);
        this.#settle();
        t.stream.destroy();
        return finish();
      }
      this.#dialTunnel(t, plan, authority, record, finish, refuse, true);
    });
  }

  /** A terminated tunnel the guard does not time: closed when no byte comes within --idle-timeout. */
  #firstByteTimeout(stream: Duplex): void {
    const ms = this.#limits.idleTimeoutMs;
    if (ms <= 0) return;
    const timer = setTimeout(() => {
      this.#deps.onLimit?.('idle_timeout');
      stream.destroy();
    }, ms).unref();
    const clear = () => clearTimeout(timer);
    stream.once('data', clear);
    stream.once('close', clear);
  }

  /** Dials the tunnel's upstream and splices; `accepted`: the client already has its 200. */
  #dialTunnel(t: InboundTunnel, plan: Plan & { kind: 'forward' | 'passthrough' }, authority: Authority, record: RequestRecord,
    finish: () => void, refuse: (code: FailureCode, reason: string) => void, accepted: boolean): void {
    const cluster = plan.kind === 'forward' ? plan.cluster : undefined;
    this.#tunnels.add(t.stream);
    const failed = (code: FailureCode, reason: string) => {
      this.#tunnels.delete(t.stream);
      this.#settle();
      if (!accepted) return refuse(code, reason);
      markFailure(record, code, reason);
      t.stream.destroy();
      finish();
    };
    this.#withEndpoint(cluster, authority, record, (ep) => {
      // tcp.maxConnections counts the cluster's connections, tunnels included (tcp_proxy: UO).
      const slot = this.#deps.upstreams.connectionSlot(cluster);
      if (typeof slot === 'string') return failed('upstream_overflow', slot);
      // tcp_proxy tells outlier detection how the connect went (LocalOriginConnectSuccessFinal or
      // ConnectFailed/Timeout); without splitExternalLocalOriginErrors Envoy counts them as 200 / 503.
      dialTunnel(ep, this.#deps.upstreams.tunnelDial(cluster)).then((up) => {
        this.#deps.upstreams.report(ep, CONNECTED);
        up.once('close', slot);
        socketAddrs(record, up);
        record.responseCode = 200;
        if (!accepted) t.respond.accept();
        this.#splice(t.stream, up, record, finish, plan.kind === 'forward' ? plan.tcpProxy : undefined);
      }, (err) => {
        slot();
        this.#deps.upstreams.report(ep, CONNECT_FAILED);
        failed(classifyUpstreamError(err, false), errReason(err));
      });
    }, failed);
  }

  #splice(client: Duplex, up: Socket, record: RequestRecord, finish: () => void, tcpProxy?: TcpProxySettings): void {
    this.#tunnels.add(client);
    this.#deps.onTunnelOpen?.(record);
    splice(client, up, (r) => {
      record.bytesReceived = r.received;
      record.bytesSent += r.sent;
      record.connectionTerminationDetails = r.idleTimeout ? 'idle_timeout' : r.maxDuration ? 'max_connection_duration_reached' : r.error ? `${r.closedBy}_error: ${r.error.message}` : '';
      // tcp_proxy onMaxDownstreamConnectionDuration: flag DT (DurationTimeout).
      if (r.maxDuration) record.responseFlags = 'DT';
      else if (r.error && r.closedBy === 'upstream') markFailure(record, classifyUpstreamError(r.error, true), r.error.message);
      this.#tunnels.delete(client);
      this.#settle();
      finish();
    }, {
      idleTimeoutMs: tcpProxy?.idleTimeoutMs ?? this.#limits.tunnelIdleTimeoutMs, onIdleTimeout: () => this.#deps.onLimit?.('tunnel_idle_timeout'),
      ...(tcpProxy?.maxConnectionDurationMs ? { maxDurationMs: tcpProxy.maxConnectionDurationMs, onMaxDuration: () => this.#deps.onLimit?.('tunnel_max_duration') } : {}),
    });
  }

  /**
   * A request Node's parser refused. Its answer must not overtake responses still owed for requests
   * pipelined before it, so it waits for them (Node's own handler writes it at once, in place of an
   * unanswered earlier response); then the connection is closed, as nothing after it can be parsed.
   */
  #onClientError(err: Error & { code?: string }, socket: Duplex): void {
    if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
    if (this.#clientErrors.has(socket)) return; // the parser reports again on each later read
    this.#clientErrors.add(socket);
    const reply = clientErrorReply(err.code, err.message);
    this.#logClientError(socket, reply, err.code ?? err.message);
    const flush = () => {
      if (socket.destroyed || !socket.writable) return;
      const busy = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
      if (!busy) return lingeringClose(socket, reply);
      if (!busy.req.complete) {
        // The request in flight is the malformed one (its body): answer it if nothing was sent yet.
        if (!busy.headersSent) socket.write(reply);
        return void socket.destroy();
      }
      busy.once('close', () => setImmediate(flush));
    };
    flush();
  }

  /** One access-log line and metric for a request the parser refused (Envoy: flag DPE). */
  #logClientError(socket: Duplex, reply: string, code: string): void {
    const peer = this.#peer(socket);
    const record = newRecord({ kind: 'http', method: '', path: '', protocol: 'HTTP/1.1', authority: '', userAgent: '', requestId: '', local: peer.local, remote: peer.remote });
    this.#identify(record, peer);
    record.responseCode = Number(reply.slice(9, 12));
    record.responseFlags = 'DPE';
    record.responseCodeDetails = code === 'HPE_HEADER_OVERFLOW' ? 'http1.headers_too_large' : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_header_timeout' : 'http1.codec_error';
    record.connectionTerminationDetails = code;
    finishRecord(record, this.#deps.sink);
  }
}

const kExchange = Symbol('egressway.exchange');
/** Pipelined requests on a connection waiting for their turn (#waitTurn). */
const kWaiting = Symbol('egressway.waiting');
const kPaused = Symbol('egressway.pipelining-paused');
type Pipelined = Duplex & { [kWaiting]?: number; [kPaused]?: boolean };
type ExchangeResponse = ServerResponse & { [kExchange]?: Exchange };

interface ExchangeHooks {
  admitted(x: Exchange, a: Admission): void;
  /** Hands a finished record to telemetry. */
  finish(r: RequestRecord): void;
  done(): void;
}

/** The socket Node handed over for an enabled Upgrade, with the bytes it read past the head. */
interface Upgrading {
  readonly socket: Duplex;
  readonly head: Buffer;
}

/**
 * One HTTP request on the listener: admit()'s Arrival, and reachable from its response so that a
 * single shared 'close' listener serves every request (hot path: no closure per request). A
 * forwarder that must hear of the client leaving registers itself as `closed` (DownstreamClose)
 * instead of adding a listener.
 */
class Exchange implements DownstreamClose, Arrival {
  closed: { onDownstreamClose(): void } | undefined = undefined;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly record: RequestRecord;
  readonly peer: Peer;
  readonly tunnel: Authority | undefined;
  readonly upgrade: Upgrading | undefined;
  readonly snap: Snapshot;
  readonly hooks: ExchangeHooks;

  constructor(req: IncomingMessage, res: ServerResponse, record: RequestRecord, peer: Peer, tunnel: Authority | undefined, upgrade: Upgrading | undefined, snap: Snapshot, hooks: ExchangeHooks) {
    this.req = req;
    this.res = res;
    this.record = record;
    this.peer = peer;
    this.tunnel = tunnel;
    this.upgrade = upgrade;
    this.snap = snap;
    this.hooks = hooks;
  }

  get upgradeEvent(): boolean {
    return this.upgrade !== undefined;
  }

  onAdmission(a: Admission): void {
    this.hooks.admitted(this, a);
  }
}

function onResponseClose(this: ServerResponse): void {
  const x = (this as ExchangeResponse)[kExchange];
  if (!x) return; // finished once already
  (this as ExchangeResponse)[kExchange] = undefined;
  // The forwarder first, so the record is complete (DC, aborted upstream) before it is finished.
  x.closed?.onDownstreamClose();
  const r = x.record;
  if (!this.writableFinished && !r.responseFlags.startsWith('U')) markFailure(r, 'downstream_disconnect');
  x.hooks.finish(r);
  x.hooks.done();
}

// RST_STREAM codes (RFC 9113 §7); node:http2's constants would load the module (see #h2c).
const H2_NO_ERROR = 0, H2_CANCEL = 8;

/**
 * An HTTP/1 request answered before its body arrived: Envoy closes the connection after such a
 * reply (HCM doEndStream, remote not complete), rather than read a body nobody wants for as long as
 * the client sends it (a refused upload kept the connection, its bytes resetting every timeout).
 * A request without a body is complete here even if Node has not said so yet.
 */
function bodyPending(req: IncomingMessage): boolean {
  if (req.complete || req.httpVersionMajor !== 1) return false;
  const h = req.headers;
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** A plain JS Duplex over a socket: what node:http2 then reads is the stream, not the fd. */
function jsDuplex(socket: Socket): Duplex {
  const d = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, encoding, cb) {
      socket.write(chunk, encoding, cb);
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  socket.on('data', (c: Buffer) => {
    if (!d.push(c)) socket.pause();
  });
  socket.once('end', () => d.push(null));
  socket.once('close', () => d.destroy());
  socket.on('error', (e) => d.destroy(e));
  return d;
}

function isH2Preface(b: Buffer): boolean {
  const n = Math.min(b.length, H2_PREFACE.length);
  return n >= 3 && b.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
}

interface H2Tunnel {
  readonly authority: Authority;
  readonly peer: Peer;
}

/** The tunnel an HTTP/2 compat request arrived in (undefined for HTTP/1.1 requests). */
function h2Tunnel(req: IncomingMessage, sessions: WeakMap<object, H2Tunnel>): H2Tunnel | undefined {
  const session = (req as unknown as { stream?: { session?: object } }).stream?.session;
  return session ? sessions.get(session) : undefined;
}

/** An IPv4-mapped IPv6 address as plain IPv4, so source-IP hashing sees one address per client. */
function unmapped(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** How long a tunnel that must be authorized by SNI waits for the client's ClientHello. */
const SNI_TIMEOUT_MS = 5_000;

function hostOf(address: string): string {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']'));
  const colon = address.lastIndexOf(':');
  return colon > 0 ? address.slice(0, colon) : address;
}
