// Raw TCP and TLS echo servers: the far end of a CONNECT tunnel or a TCP passthrough route, where the
// proxy must move bytes without understanding them. An echo proves both directions in one round trip.

import { createServer as createTcpServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { closeServer, hostPort, listenLoopback, trackSockets } from './lifecycle.ts';
import type { Closable, LoopbackHost } from './lifecycle.ts';

export interface EchoServer extends Closable {
  readonly host: LoopbackHost;
  readonly port: number;
  readonly authority: string;
  readonly stats: { connections: number; bytes: number };
}

export interface TlsEchoOptions {
  cert: string;
  key: string;
  host?: LoopbackHost;
  ca?: string;
  requestCert?: boolean;
  ALPNProtocols?: string[];
}

export function startTcpEcho(opts: { host?: LoopbackHost } = {}): Promise<EchoServer> {
  return startEcho(createTcpServer(), 'connection', opts.host);
}

export function startTlsEcho(opts: TlsEchoOptions): Promise<EchoServer> {
  const { host, ...tlsOptions } = opts;
  return startEcho(createTlsServer(tlsOptions), 'secureConnection', host);
}

/** `event` is where application bytes flow: the raw socket for TCP, the decrypted one for TLS. */
async function startEcho(server: Server, event: string, host: LoopbackHost = '127.0.0.1'): Promise<EchoServer> {
  const stats = { connections: 0, bytes: 0 };
  const sockets = trackSockets(server, () => stats.connections++);
  server.on(event, (socket: Socket | TLSSocket) => {
    socket.on('data', (chunk: Buffer) => {
      stats.bytes += chunk.length;
    });
    socket.pipe(socket);
    // A peer reset is an expected test outcome, not an uncaught exception.
    socket.on('error', () => socket.destroy());
  });
  const port = await listenLoopback(server, host);
  return { host, port, authority: hostPort(host, port), stats, close: () => closeServer(server, sockets) };
}
