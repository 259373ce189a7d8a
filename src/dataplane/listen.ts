// Binds a server and resolves with its address, or rejects with the bind error (EADDRINUSE...).
import type { AddressInfo, Server } from 'node:net';

export function listen(server: Pick<Server, 'once' | 'off' | 'listen' | 'address'>, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
