// The HTTP/CONNECT listener (15001): absolute-form requests (HTTP_PROXY), origin-form requests
// routed by Host (transparent redirection), CONNECT tunnels and Upgrade pass-through.
// Each request reads the snapshot once and keeps it until it ends.
import { listen } from './listen.ts';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { createServer as createH2cServer, type Http2Server } from 'node:http2';
import { isIP, Socket, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { identityFromSan, type Identity } from '../model/identity.ts';
import { Duplex } from 'node:stream';
import type { Cluster, Snapshot } from '../model/snapshot.ts';
import type { RequestRecord } from '../telemetry/record.ts';
import { formatAuthority, parseAuthority, splitAbsolute, type Authority } from './authority.ts';
import { classifyUpstreamError, DataplaneError, type FailureCode } from './errors.ts';
import { forwardRequestHeaders } from './headers.ts';
import { errReason, type DownstreamClose } from './http-forward.ts';
import { serveHttp } from './serve-http.ts';
import { http1Responder, localReply, refuseTunnel, type TunnelResponder } from './local-reply.ts';
import { planRoute, type Plan } from './plan.ts';
import { applyHeaderEdits, authorize, hasAuthorization, needsSni, noteVerdict, refuseDenied, replyDenied, withAuthorization, type AuthzInput } from './authorize.ts';
import { peekClientHello } from './client-hello.ts';
import type { HeaderEdits } from '../policy/request.ts';
import { normalizePath } from '../policy/normalize-path.ts';
import { addr, finisher, finishRecord, markFailure, newRecord, recordFromRequest, socketAddrs, type RecordSink, type TraceHeaders } from './record.ts';
import { dialTcp, splice } from './tunnel.ts';
import { DEFAULT_LIMITS, DownstreamGuard, type DownstreamLimits, type LimitKind } from './downstream-guard.ts';
import type { OverloadMonitor } from './overload.ts';
import type { Endpoint, Upstreams } from './upstream.ts';

export interface SnapshotSource {
  current(): Snapshot;
}

export interface ProxyDeps {
  readonly snapshots: SnapshotSource;
  readonly upstreams: Upstreams;
  readonly sink: RecordSink;
  readonly connectTimeoutMs?: number;
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
  readonly local: string;
  readonly remote: string;
  readonly remoteIp: string;
  /** The address the client connected to (the listener's, or the tunnel's local end). */
  readonly localIp: string;
  readonly sourceWorkload?: string;
}

interface Target {
  readonly authority: Authority;
  /** Host header to send upstream. */
  readonly host: string;
  readonly path: string;
  /** The authority came from the tunnel (CONNECT or HBONE) the request arrived in. */
  readonly tunneled: boolean;
}

export class ProxyListener {
  #server: Server;
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
  #h2c: Http2Server;
  #pendingH2: { authority: Authority; peer: Peer } | undefined;
  #h2Sessions = new WeakMap<object, H2Tunnel>();
  /** An HTTP request ended (its response closed). Bound once, shared by every Exchange. */
  #requestDone = () => {
    this.#inflight--;
    this.#settle();
  };
  #connections = 0;
  #guard: DownstreamGuard;
  #limits: DownstreamLimits;

  constructor(deps: ProxyDeps) {
    this.#deps = deps;
    const limits = (this.#limits = { ...DEFAULT_LIMITS, ...deps.limits });
    // Node's own request and headers timers stay off: the guard times every phase (Node's
    // headersTimeout is checked only every 30 s and cannot tell a never-used connection apart).
    // Kept-alive connections still close after the idle timeout by Node's keepAliveTimeout.
    const opts = {
      requestTimeout: 0, headersTimeout: 0, keepAliveTimeout: limits.idleTimeoutMs || 65_000,
      ...(deps.tls ? { handshakeTimeout: limits.requestHeadersTimeoutMs || 120_000 } : {}),
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res);
    this.#h2c = createH2cServer({ settings: { maxConcurrentStreams: 100 } });
    this.#h2c.on('session', (session) => {
      if (this.#pendingH2) this.#h2Sessions.set(session, this.#pendingH2);
      this.#pendingH2 = undefined;
    });
    this.#h2c.on('request', (req, res) => this.#onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse));
    const tls = deps.tls;
    this.#server = tls
      ? createTlsServer({ ...opts, cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: !!tls.ca, rejectUnauthorized: !!tls.ca, minVersion: 'TLSv1.2' }, onRequest)
      : createServer(opts, onRequest);
    if (tls?.ca) {
      this.#server.on('secureConnection', (s: TLSSocket) => {
        this.#identities.set(s, s.authorized ? identityFromSan(s.getPeerCertificate().subjectaltname) ?? null : null);
      });
      this.#server.on('tlsClientError', () => {});
    }
    // A client may shut its write side right after its request (HBONE streams, `nc -N`): answer
    // anyway, as Envoy does, instead of Node's default of aborting the request.
    (this.#server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    this.#server.on('connect', (req, socket, head) => this.#onConnect(req, socket as Socket, head));
    this.#server.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket as Socket, head));
    this.#server.on('connection', (sock: Socket) => {
      this.#connections++;
      sock.once('close', () => this.#connections--);
    });
    this.#server.on('clientError', (err, socket) => this.#onClientError(err, socket as Socket));
    this.#guard = new DownstreamGuard(limits, { onLimit: deps.onLimit, onStreamIdle: (res) => this.#onStreamIdle(res) });
    this.#guard.attach(this.#server, tls ? 'secureConnection' : 'connection');
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

  listen(port: number, host: string): Promise<AddressInfo> {
    return listen(this.#server, port, host);
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
    const idle = new Promise<void>((r) => (this.#isIdle() ? r() : this.#idleWaiters.push(r)));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => { timer = setTimeout(r, graceMs); });
    await Promise.race([idle, timeout]);
    clearTimeout(timer);
    this.#server.closeAllConnections();
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
    const peer = { identity: this.#identities.get(stream), local: addr(s.localAddress, s.localPort), remote: addr(remoteIp, s.remotePort), remoteIp, localIp: unmapped(s.localAddress ?? '') };
    if (remoteIp) this.#peers.set(stream, peer);
    return peer;
  }

  #identify(record: RequestRecord, peer: Peer): void {
    if (peer.sourceWorkload) record.sourceWorkload = peer.sourceWorkload;
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
    const snap = this.#deps.snapshots.current();
    const h2 = h2Tunnel(req, this.#h2Sessions);
    const peer = h2?.peer ?? this.#peer(req.socket);
    const record = recordFromRequest(req, 'http', peer, this.#deps.ownSpans);
    this.#identify(record, peer);
    this.#inflight++;
    const x = new Exchange(record, this.#deps.sink, this.#requestDone);
    (res as ExchangeResponse)[kExchange] = x;
    res.on('close', onResponseClose);
    if (this.#draining) res.shouldKeepAlive = false;
    const shed = this.#shed(req.socket);
    if (shed) {
      req.resume();
      return localReply(res, record, shed.code, shed.reason, true);
    }
    const target = this.#httpTarget(req, h2);
    if ('error' in target) return localReply(res, record, target.error, target.reason, this.#draining);
    record.path = target.path;
    record.authority = target.host;
    const plan = planRoute(snap, target.authority.host, target.authority.port, 'http');
    applyPlan(record, plan);
    if (plan.kind === 'reject') {
      req.resume();
      return localReply(res, record, plan.code, plan.message, this.#draining);
    }
    // Istio's default pathNormalization (BASE); the normalised path is what goes upstream.
    let path = target.path;
    if (path.includes('%') || path.includes('\\') || path.includes('/.')) {
      const n = normalizePath(path);
      if (!n.ok) {
        req.resume();
        return localReply(res, record, 'bad_path', n.reason, this.#draining);
      }
      path = n.path;
    }
    // Hot path: with no policy on the destination there is nothing to build or wait for.
    if (!hasAuthorization(snap, plan)) return this.#forwardAllowed(snap, req, res, x, peer, plan, target, path);
    const verdict = authorize(snap, plan, {
      protocol: 'http', sourceIp: peer.remoteIp, identity: peer.identity, destinationIp: dialledIp(target, peer),
      host: target.host, port: target.authority.port, method: req.method, path, headers: req.headers,
    });
    withAuthorization(verdict, record, () => req.destroyed || res.destroyed, (v) => {
      req.resume();
      replyDenied(res, record, v, this.#draining);
    }, (edits) => this.#forwardAllowed(snap, req, res, x, peer, plan, target, path, edits));
  }

  /** After authorization allowed it: headers, endpoint, upstream. */
  #forwardAllowed(snap: Snapshot, req: IncomingMessage, res: ServerResponse, x: Exchange, peer: Peer, plan: Plan & { kind: 'forward' | 'passthrough' }, target: Target, path: string, edits?: HeaderEdits): void {
    serveHttp({
      snap, req, res, record: x.record, plan, authority: target.authority, host: target.host, path,
      upstreams: this.#deps.upstreams, draining: this.#draining, edits, sourceIp: unmapped(peer.remoteIp),
      ownSpan: this.#deps.ownSpans, downstream: x,
    });
  }

  /** Where an HTTP request goes: the CONNECT authority inside a tunnel, else absolute-form, else Host. */
  #httpTarget(req: IncomingMessage, h2: H2Tunnel | undefined): Target | { error: FailureCode; reason: string } {
    const url = req.url ?? '/';
    const tunneled = h2?.authority ?? this.#tunnelTargets.get(req.socket);
    if (url.startsWith('/') || url === '*') {
      const hostHeader = req.headers.host ?? (req.headers[':authority'] as string | undefined);
      const authority = tunneled ?? parseAuthority(hostHeader, 80);
      if (!authority) return { error: 'bad_request', reason: `missing or invalid Host header "${hostHeader ?? ''}"` };
      return { authority, host: hostHeader ?? formatAuthority(authority.host, authority.port), path: url, tunneled: !!tunneled };
    }
    const abs = splitAbsolute(url);
    if (!abs) return { error: 'bad_request', reason: `request target "${url.slice(0, 200)}" is not origin-form or absolute-form` };
    if (abs.scheme !== 'http') {
      return { error: 'protocol_mismatch', reason: `${abs.scheme}:// requests must be tunnelled with CONNECT; send http:// and let a DestinationRule originate TLS, or use an https proxy client` };
    }
    const authority = tunneled ?? parseAuthority(abs.authority, 80);
    if (!authority) return { error: 'bad_request', reason: `invalid authority "${abs.authority}" in request target` };
    return { authority, host: abs.authority, path: abs.path, tunneled: !!tunneled };
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
    if (head.length) socket.unshift(head);
    const peer = this.#peer(socket);
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
      // HTTP/1.1 or HTTP/2 with prior knowledge: the client speaks first, so look at its bytes.
      t.stream.once('data', (first: Buffer) => {
        t.stream.pause();
        t.stream.unshift(first);
        if (isH2Preface(first)) {
          this.#pendingH2 = { authority, peer };
          // node:http2 reads a socket's native handle directly, past the byte we peeked at; a JS
          // Duplex in front makes it read through the stream, unshifted bytes included.
          this.#h2c.emit('connection', t.stream instanceof Socket ? jsDuplex(t.stream) : t.stream);
        } else {
          this.#server.emit('connection', t.stream);
        }
        t.stream.resume();
      });
      return;
    }
    const input: AuthzInput & { protocol: 'tcp' } = {
      protocol: 'tcp', sourceIp: peer.remoteIp, identity: peer.identity, host: t.authority, port: authority.port,
      destinationIp: dialledIp({ authority, tunneled: true }, peer),
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
    peekClientHello(t.stream, SNI_TIMEOUT_MS).then((sni) => {
      if (sni !== undefined) record.requestedServerName = sni;
      if (t.stream.destroyed) {
        this.#tunnels.delete(t.stream);
        this.#settle();
        markFailure(record, 'downstream_disconnect');
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
      dialTcp(ep, this.#deps.connectTimeoutMs ?? 10_000).then((up) => {
        up.once('close', slot);
        socketAddrs(record, up);
        record.responseCode = 200;
        if (!accepted) t.respond.accept();
        this.#splice(t.stream, up, record, finish);
      }, (err) => {
        slot();
        failed(classifyUpstreamError(err, false), errReason(err));
      });
    }, failed);
  }

  #splice(client: Duplex, up: Socket, record: RequestRecord, finish: () => void): void {
    this.#tunnels.add(client);
    this.#deps.onTunnelOpen?.(record);
    splice(client, up, (r) => {
      record.bytesReceived = r.received;
      record.bytesSent += r.sent;
      record.connectionTerminationDetails = r.idleTimeout ? 'idle_timeout' : r.error ? `${r.closedBy}_error: ${r.error.message}` : '';
      if (r.error && r.closedBy === 'upstream') markFailure(record, classifyUpstreamError(r.error, true), r.error.message);
      this.#tunnels.delete(client);
      this.#settle();
      finish();
    }, { idleTimeoutMs: this.#limits.tunnelIdleTimeoutMs, onIdleTimeout: () => this.#deps.onLimit?.('tunnel_idle_timeout') });
  }

  #onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const snap = this.#deps.snapshots.current();
    const peer = this.#peer(socket);
    const record = recordFromRequest(req, 'tcp', peer, this.#deps.ownSpans);
    this.#identify(record, peer);
    socket.on('error', () => {});
    const finish = finisher(record, this.#deps.sink);
    const respond = http1Responder(socket);
    const refuse = (code: FailureCode, reason: string, details?: string) => {
      refuseTunnel(respond, record, code, reason, details);
      finish();
    };
    const shed = this.#shed(socket);
    if (shed) return refuse(shed.code, shed.reason);
    const target = this.#httpTarget(req, h2Tunnel(req, this.#h2Sessions));
    if ('error' in target) return refuse(target.error, target.reason);
    record.path = target.path;
    record.authority = target.host;
    const plan = planRoute(snap, target.authority.host, target.authority.port, 'http');
    applyPlan(record, plan);
    if (plan.kind === 'reject') return refuse(plan.code, plan.message);
    const verdict = authorize(snap, plan, {
      protocol: 'http', sourceIp: peer.remoteIp, identity: peer.identity, destinationIp: dialledIp(target, peer),
      host: target.host, port: target.authority.port, method: req.method, path: target.path, headers: req.headers,
    });
    withAuthorization(verdict, record, () => socket.destroyed, (v) => {
      refuseDenied(respond, record, v);
      finish();
    }, (edits) => this.#upgradeAllowed(req, socket, head, record, plan, target, finish, refuse, edits));
  }

  /** After authorization allowed the Upgrade: dial, replay the request head, splice. */
  #upgradeAllowed(req: IncomingMessage, socket: Socket, head: Buffer, record: RequestRecord, plan: Plan & { kind: 'forward' | 'passthrough' }, target: Target,
    finish: () => void, refuse: (code: FailureCode, reason: string) => void, edits?: HeaderEdits): void {
    const fwd = forwardRequestHeaders(req.rawHeaders, target.host, true, this.#deps.ownSpans);
    if (edits) applyHeaderEdits(fwd.headers, edits);
    record.requestId = fwd.requestId;
    if (this.#deps.ownSpans) { record.traceparent = fwd.traceparent; record.parentSpanId = fwd.parentSpanId; }
    const cluster = plan.kind === 'forward' ? plan.cluster : undefined;
    this.#tunnels.add(socket);
    const failed = (code: FailureCode, reason: string) => {
      this.#tunnels.delete(socket);
      this.#settle();
      refuse(code, reason);
    };
    this.#withEndpoint(cluster, target.authority, record, (ep) => {
      dialTcp(ep, this.#deps.connectTimeoutMs ?? 10_000).then((up) => {
        socketAddrs(record, up);
        let head1 = `${req.method} ${target.path} HTTP/1.1\r\n`;
        for (let i = 0; i < fwd.headers.length; i += 2) head1 += `${fwd.headers[i]}: ${fwd.headers[i + 1]}\r\n`;
        up.write(`${head1}\r\n`);
        if (head.length) up.write(head);
        up.once('data', (chunk: Buffer) => {
          const m = /^HTTP\/1\.[01] (\d{3})/.exec(chunk.subarray(0, 16).toString('latin1'));
          record.responseCode = m ? Number(m[1]) : 0;
        });
        this.#splice(socket, up, record, finish);
      }, (err) => failed(classifyUpstreamError(err, false), errReason(err)));
    }, failed);
  }

  #onClientError(err: Error & { code?: string }, socket: Socket): void {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\negressway: malformed HTTP request (${err.code ?? err.message})\n`);
  }
}

const kExchange = Symbol('egressway.exchange');
type ExchangeResponse = ServerResponse & { [kExchange]?: Exchange };

/**
 * One HTTP request on the listener, reachable from its response so that a single shared 'close'
 * listener serves every request (hot path: no closure per request). A forwarder that must hear of
 * the client leaving registers itself as `closed` (DownstreamClose) instead of adding a listener.
 */
class Exchange implements DownstreamClose {
  closed: { onDownstreamClose(): void } | undefined = undefined;
  readonly record: RequestRecord;
  readonly sink: RecordSink;
  readonly done: () => void;

  constructor(record: RequestRecord, sink: RecordSink, done: () => void) {
    this.record = record;
    this.sink = sink;
    this.done = done;
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
  finishRecord(r, x.sink);
  x.done();
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

/**
 * Envoy's `destination.ip` at a waypoint is the inner connection's local address: the original
 * destination the client dialled, carried in the tunnel's authority (the service VIP or the
 * ServiceEntry address). A tunnel to a name, and a plain proxy request, have only the address the
 * client connected to.
 */
function dialledIp(target: Pick<Target, 'authority' | 'tunneled'>, peer: Peer): string {
  return target.tunneled && isIP(target.authority.host) ? unmapped(target.authority.host) : peer.localIp;
}

function hostOf(address: string): string {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']'));
  const colon = address.lastIndexOf(':');
  return colon > 0 ? address.slice(0, colon) : address;
}

function applyPlan(r: RequestRecord, plan: Plan): void {
  r.routeName = plan.routeName;
  if (plan.kind === 'forward') {
    r.upstreamCluster = plan.cluster.name;
    r.destinationService = plan.destination.host;
    r.destinationServiceNamespace = plan.destination.service.namespace;
  } else {
    r.upstreamCluster = plan.clusterName;
    r.destinationService = plan.clusterName;
  }
}
