// The sandwich listener (Istio `ambient.istio.io/waypoint-inbound-binding: PROXY/<port>`): the
// node's ztunnel terminates HBONE and opens a plain TCP connection here that starts with a PROXY
// v2 header. The header is the only thing this door reads; the connection then becomes an
// InboundTunnel for ProxyListener.acceptTunnel, the same path as CONNECT and HBONE: routed by TLV
// 0xD1's hostname (else the destination address, as an HBONE authority is), authorized with TLV
// 0xD0's identity, HTTP served request by request, TCP spliced.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { cidrContains, parseCidr, parseIp, type Cidr } from '../model/cidr.ts';
import { formatAuthority } from './authority.ts';
import { listen } from './listen.ts';
import type { TunnelResponder } from './local-reply.ts';
import type { InboundTunnel } from './proxy-listener.ts';
import { parseProxyHeader, type ProxyHeader, type ProxyHeaderError } from './proxy-protocol.ts';
import { limitedWarn } from '../telemetry/log-limiter.ts';

/** Why a connection was closed before it became a tunnel: the `reason` metric label. */
export type ProxyRefusal = ProxyHeaderError | 'untrusted_peer' | 'header_timeout' | 'truncated' | 'max_connections';

export interface ProxyProtocolListenerOptions {
  /** Where connections go once their header is read: ProxyListener.acceptTunnel. */
  readonly accept: (t: InboundTunnel) => void;
  /**
   * Peers allowed to send headers (IPs or CIDRs); loopback by default, which is where ztunnel
   * connects from (it dials 127.0.0.1:<port> inside the waypoint pod's network namespace).
   */
  readonly trustedCidrs?: readonly string[];
  /** Envoy's listener_filters_timeout (15 s): a header not complete by then closes the connection. */
  readonly headerTimeoutMs?: number;
  /** Open connections on this listener, tunnels included; one more is closed at once. */
  readonly maxConnections?: number;
  readonly onRefused?: (reason: ProxyRefusal, message: string, peer: string) => void;
}

export const LOOPBACK_CIDRS = ['127.0.0.0/8', '::1/128'] as const;
export const DEFAULT_HEADER_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_CONNECTIONS = 10_000;

export class ProxyProtocolListener {
  #server: Server;
  #opts: ProxyProtocolListenerOptions;
  #trusted: Cidr[];
  #open = new Set<Socket>();
  /** Connections still reading their header: closed at once on shutdown. */
  #reading = new Set<Socket>();
  #closing = false;

  constructor(opts: ProxyProtocolListenerOptions) {
    this.#opts = opts;
    this.#trusted = (opts.trustedCidrs ?? LOOPBACK_CIDRS).map((c) => {
      const cidr = parseCidr(c);
      // The CLI validates the flag; a bad value here is a programming error.
      if (!cidr) throw new Error(`PROXY protocol listener: "${c}" is not an IP or CIDR`);
      return cidr;
    });
    // Half-open as the HTTP server is: a client's FIN after its request still gets the answer.
    this.#server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.#onConnection(s));
  }

  listen(port: number, host: string, reusePort = false): Promise<AddressInfo> {
    return listen(this.#server, port, host, reusePort);
  }

  get activeConnections(): number {
    return this.#open.size;
  }

  /** Stops accepting; open tunnels get up to `graceMs` (ProxyListener drains them), then are cut. */
  async close(graceMs = 0): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    for (const s of this.#reading) s.destroy();
    const deadline = Date.now() + graceMs;
    while (this.#open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const s of this.#open) s.destroy();
    await closed;
  }

  #onConnection(sock: Socket): void {
    sock.on('error', () => {});
    this.#open.add(sock);
    sock.once('close', () => this.#open.delete(sock));
    const peer = sock.remoteAddress;
    // Reset before it was accepted: nobody to refuse.
    if (!peer) return void sock.destroy();
    const max = this.#opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (this.#open.size > max) return this.#refuse(sock, 'max_connections', `${max} connections are open (--proxy-protocol-max-connections)`);
    const ip = parseIp(peer);
    if (!ip || !this.#trusted.some((c) => cidrContains(c, ip))) {
      return this.#refuse(sock, 'untrusted_peer', `${peer} is not a trusted peer (loopback or --proxy-protocol-trusted-cidr); only the node's ztunnel may send PROXY headers`);
    }
    this.#readHeader(sock);
  }

  #readHeader(sock: Socket): void {
    this.#reading.add(sock);
    let buf: Buffer = Buffer.alloc(0);
    const ms = this.#opts.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
    const stop = () => {
      clearTimeout(timer);
      sock.removeListener('data', onData);
      sock.removeListener('end', onEnd);
      sock.removeListener('close', onClose);
      this.#reading.delete(sock);
    };
    const refuse = (reason: ProxyRefusal, message: string) => {
      stop();
      this.#refuse(sock, reason, message);
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const r = parseProxyHeader(buf);
      if (r.kind === 'incomplete') return;
      if (r.kind === 'error') return refuse(r.code, r.message);
      stop();
      this.#handOff(sock, r.header, buf.subarray(r.header.length));
    };
    const onEnd = () => refuse('truncated', `the peer closed after ${buf.length} byte(s), before a complete PROXY v2 header`);
    // A reset (no FIN) ends the header phase too; on shutdown that is us, and not counted.
    const onClose = () => (this.#closing ? stop() : refuse('truncated', `the connection was reset after ${buf.length} byte(s), before a complete PROXY v2 header`));
    const timer = setTimeout(() => refuse('header_timeout', `no complete PROXY v2 header within ${ms} ms (${buf.length} byte(s) received)`), ms);
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('close', onClose);
  }

  #handOff(sock: Socket, h: ProxyHeader, rest: Buffer): void {
    // As node:http hands a CONNECT socket over: neither flowing nor paused, so whoever reads next
    // (a 'data' listener or pipe()) starts the flow, and the bytes after the header come first.
    (sock as { readableFlowing: boolean | null }).readableFlowing = null;
    if (rest.length > 0) sock.unshift(rest);
    const local = formatAuthority(h.destination.ip, h.destination.port);
    this.#opts.accept({
      stream: sock,
      // ztunnel sends 0xD1 when the HBONE authority was a hostname; the address is then one of the
      // service's, and the hostname is what routes (a VIP is cluster-local).
      authority: h.hostname ? `${h.hostname}:${h.destination.port}` : local,
      identity: h.identity, local, remote: formatAuthority(h.source.ip, h.source.port), protocol: 'PROXY',
      respond: closeResponder(sock),
    });
  }

  #refuse(sock: Socket, reason: ProxyRefusal, message: string): void {
    this.#opts.onRefused?.(reason, message, sock.remoteAddress ?? '');
    sock.destroy();
  }
}

/** PROXY protocol has no reply: an accepted tunnel just carries bytes, a refused one is closed. */
function closeResponder(sock: Socket): TunnelResponder {
  return {
    accept() {},
    refuse() {
      sock.destroy();
    },
    closesOnly: true,
  };
}

export interface ProxyProtocolOptions {
  /** Istio's sandwich binding port is whatever the annotation says; 15088 by convention. */
  readonly port: number;
  /** The whole allow-list (the CLI passes loopback plus --proxy-protocol-trusted-cidr); loopback if unset. */
  readonly trustedCidrs?: readonly string[];
  readonly headerTimeoutMs?: number;
  readonly maxConnections?: number;
  /** SO_REUSEPORT: one listener per data-plane worker on the same port (`run --concurrency`). */
  readonly reusePort?: boolean;
}

interface Wiring {
  readonly accept: (t: InboundTunnel) => void;
  readonly log: { warn(obj: object, msg: string): void };
  readonly refused: { inc(labels: { reason: ProxyRefusal }): void };
}

/** Starts the listener with refusals counted by reason and logged (one line per reason per 10 s). */
export async function startProxyProtocol(o: ProxyProtocolOptions, host: string, w: Wiring): Promise<{ readonly address: string; readonly listener: ProxyProtocolListener }> {
  // Every refusal is counted; the log gets one line per reason every 10 s, whatever a peer sends.
  const warn = limitedWarn(w.log);
  const listener = new ProxyProtocolListener({
    accept: w.accept, trustedCidrs: o.trustedCidrs, headerTimeoutMs: o.headerTimeoutMs, maxConnections: o.maxConnections,
    onRefused: (reason, message, peer) => {
      w.refused.inc({ reason });
      warn(reason, { reason, peer }, `PROXY protocol connection from ${peer} closed (${reason}): ${message}`);
    },
  });
  try {
    const a = await listener.listen(o.port, host, o.reusePort);
    return { address: formatAuthority(a.address, a.port), listener };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot listen for proxyProtocol: ${e.code === 'EADDRINUSE' ? `port ${o.port} is already in use; pass --proxy-protocol-port <port>` : e.message}`);
  }
}
