// Shared plumbing for every helper that owns a socket server: listen on an ephemeral loopback port,
// remember every accepted socket, and close without waiting for keep-alive or upgraded connections.
// `server.close()` alone waits for idle keep-alive sockets and never sees sockets detached by an HTTP
// Upgrade, which is exactly how a test suite ends up hanging for minutes after its last assertion.

import type { AddressInfo, Server, Socket } from 'node:net';
import type { TestContext } from 'node:test';

/** The only hosts a helper may bind or target (see STYLE.md: loopback only). */
export type LoopbackHost = '127.0.0.1' | '::1';

export interface Closable {
  close(): Promise<void>;
}

/** Formats host:port, bracketing IPv6 so the result can be put straight into a URL. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Listens on port 0 of a loopback host and resolves with the port the kernel picked. */
export function listenLoopback(server: Server, host: LoopbackHost = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Remembers every socket a server accepts so that `close()` can destroy them, upgraded ones included.
 * Listens on `connection`, which TLS servers also emit for the raw TCP socket before the handshake.
 */
export function trackSockets(server: Server, onOpen?: (socket: Socket) => void): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    onOpen?.(socket);
  });
  return sockets;
}

/** Stops accepting, destroys every tracked socket and resolves once the server has fully closed. */
export function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      destroyAll(sockets);
      resolve();
      return;
    }
    // The callback's error only says "not running", which a second close() legitimately hits.
    server.close(() => resolve());
    destroyAll(sockets);
  });
}

function destroyAll(sockets: Set<Socket>): void {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
}

/** Registers `resource.close()` to run after the test and returns the resource, for one-line setup. */
export function closeAfter<T extends Closable>(t: TestContext, resource: T): T {
  t.after(() => resource.close());
  return resource;
}

/**
 * Resolves with the promise's value, or rejects with `message` after `ms`. The timer is cleared either
 * way so a settled wait never keeps the event loop alive.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
