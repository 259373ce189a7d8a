// remote.ip / remoteIpBlocks: Envoy's trusted client address with use_remote_address and
// xff_num_trusted_hops = N. With N > 0 it is the Nth address from the right of X-Forwarded-For;
// with N = 0, or fewer than N addresses, or one that is not an IP, it is the peer address.
import { isIP } from 'node:net';

export function remoteIpFromXff(xff: string | undefined, numTrustedProxies: number, peer: string): string {
  if (!xff || numTrustedProxies <= 0) return peer;
  // Hot path: walk the hops from the right, skipping empty ones, rather than split + map + filter
  // arrays of the whole header per request.
  let seen = 0;
  let end = xff.length;
  for (;;) {
    const comma = end === 0 ? -1 : xff.lastIndexOf(',', end - 1);
    const hop = xff.slice(comma + 1, end).trim();
    if (hop !== '' && ++seen === numTrustedProxies) return isIP(hop) ? hop : peer;
    if (comma < 0) return peer;
    end = comma;
  }
}
