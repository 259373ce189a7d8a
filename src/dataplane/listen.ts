// Binds a server and resolves with its address, or rejects with the bind error (EADDRINUSE...).
// `reusePort` (SO_REUSEPORT, Linux): the data-plane workers of `run --concurrency N` each bind the
// same port and the kernel spreads new connections over them.
import type { AddressInfo, Server } from 'node:net';

export function listen(server: Pick<Server, 'once' | 'off' | 'listen' | 'address'>, port: number, host: string, reusePort = false): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, ...(reusePort ? { reusePort } : {}) }, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
