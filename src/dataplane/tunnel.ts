// Opaque byte tunnels: CONNECT to TLS/TCP ports and HTTP Upgrade (WebSocket) pass-through.
// `pipe` gives back-pressure both ways; half-close is forwarded so request/response protocols
// that shut down their write side still get their answer.
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { buildConnector } from 'undici';
import { DataplaneError } from './errors.ts';
import type { Endpoint } from './upstream.ts';

/**
 * How a tunnel dials its cluster (Envoy cluster connect_timeout, upstream tcp_keepalive, transport
 * socket), worked out once per cluster by UpstreamPools.tunnelDial.
 */
export interface TunnelDial {
  readonly timeoutMs: number;
  readonly keepAliveMs?: number;
  /** DestinationRule tls SIMPLE / MUTUAL: the cluster's TLS connector (tls-origination.ts). */
  readonly tls?: buildConnector.connector;
}

export function dialTunnel(ep: Endpoint, d: TunnelDial): Promise<Socket> {
  if (!d.tls) return dialTcp(ep, d.timeoutMs, d.keepAliveMs);
  const connector = d.tls;
  return new Promise((resolve, reject) => {
    // The connector bounds the TCP connect and the handshake by the timeout and calls back once.
    connector({ hostname: ep.address, host: ep.address, port: String(ep.port), protocol: 'https:' } as buildConnector.Options, (err, socket) => {
      if (err) reject(err);
      else resolve(socket as Socket);
    });
  });
}

export function dialTcp(ep: Endpoint, timeoutMs: number, keepAliveMs?: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: ep.address, port: ep.port, allowHalfOpen: true, ...(keepAliveMs ? { keepAlive: true, keepAliveInitialDelay: keepAliveMs } : {}) });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new DataplaneError('connect_timeout', `connect to ${ep.address}:${ep.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export interface SpliceResult {
  /** Bytes from the client to the upstream. */
  readonly received: number;
  /** Bytes from the upstream to the client. */
  readonly sent: number;
  readonly error?: Error;
  /** Which side ended first, for connection_termination_details. */
  readonly closedBy: 'downstream' | 'upstream';
  /** Closed by the tunnel idle timeout. */
  readonly idleTimeout?: boolean;
  /** Closed by the DestinationRule's maxConnectionDuration (Envoy flag DT). */
  readonly maxDuration?: boolean;
}

export interface TunnelIdle {
  /** Envoy tcp_proxy idle_timeout (1 h): no byte either way for this long closes both sides. 0: none. */
  readonly idleTimeoutMs: number;
  readonly onIdleTimeout?: () => void;
  /** tcp_proxy max_downstream_connection_duration: closes both sides this long after the tunnel opened. */
  readonly maxDurationMs?: number;
  readonly onMaxDuration?: () => void;
}

// How long the surviving side of a tunnel may flush after the other side closed.
const FLUSH_MS = 1000;

export function splice(client: Duplex, upstream: Socket, done: (r: SpliceResult) => void, idle?: TunnelIdle): void {
  let closed = 0;
  let idleOut = false;
  let maxOut = false;
  let maxTimer: NodeJS.Timeout | undefined;
  let error: Error | undefined;
  let closedBy: SpliceResult['closedBy'] | undefined;
  const onClose = (side: SpliceResult['closedBy']) => () => {
    closedBy ??= side;
    if (++closed < 2) {
      // One side is gone for good: let the other flush what it has, then tear it down.
      const other = side === 'downstream' ? upstream : client;
      other.end();
      setTimeout(() => other.destroy(), FLUSH_MS).unref();
      return;
    }
    clearTimeout(maxTimer);
    done({ received: upstream.bytesWritten, sent: upstream.bytesRead, error, closedBy, ...(idleOut ? { idleTimeout: true } : {}), ...(maxOut ? { maxDuration: true } : {}) });
  };
  const onError = (err: Error) => {
    error ??= err;
    client.destroy();
    upstream.destroy();
  };
  client.on('error', onError);
  upstream.on('error', onError);
  client.once('close', onClose('downstream'));
  upstream.once('close', onClose('upstream'));
  client.pipe(upstream);
  upstream.pipe(client);
  // Every byte of the tunnel is read or written on the upstream socket, so its own activity timer
  // (reset by reads and writes alike) is the tunnel's idle timer: no timer per chunk.
  if (idle && idle.idleTimeoutMs > 0) {
    upstream.setTimeout(idle.idleTimeoutMs, () => {
      idleOut = true;
      closedBy ??= 'downstream';
      idle.onIdleTimeout?.();
      client.destroy();
      upstream.destroy();
    });
  }
  if (idle?.maxDurationMs) {
    maxTimer = setTimeout(() => {
      maxOut = true;
      idle.onMaxDuration?.();
      closedBy ??= 'downstream';
      client.destroy();
      upstream.destroy();
    }, idle.maxDurationMs);
  }
}
