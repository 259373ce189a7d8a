// remote.ip / remoteIpBlocks: Envoy's trusted client address with use_remote_address and
// xff_num_trusted_hops = N. With N > 0 it is the Nth address from the right of X-Forwarded-For;
// with N = 0, or fewer than N addresses, or one that is not an IP, it is the peer address.
import { isIP } from 'node:net';

export function remoteIpFromXff(xff: string | undefined, numTrustedProxies: number, peer: string): string {
  if (!xff || numTrustedProxies <= 0) return peer;
  const hops = xff.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (hops.length < numTrustedProxies) return peer;
  const ip = hops[hops.length - numTrustedProxies]!;
  return isIP(ip) ? ip : peer;
}
