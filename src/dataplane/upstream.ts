// Upstream endpoints and connection pools. One undici Pool per (cluster, endpoint address) so that
// per-cluster settings (DestinationRule pools, TLS) can be applied per pool; pools of clusters that
// left the snapshot are closed gracefully on swap.
import { Pool } from 'undici';
import type { Cluster } from '../model/snapshot.ts';
import { DataplaneError } from './errors.ts';
import type { DnsCache } from './resolver.ts';
import { isIP } from 'node:net';
import { DialPolicy, type AddressOrigin } from './ssrf.ts';

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export interface UpstreamOptions {
  readonly connectTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
  readonly dialPolicy?: DialPolicy;
}

export class Upstreams {
  #pools = new Map<string, { cluster: string; pool: Pool }>();
  #rr = new Map<string, number>();
  #dns: DnsCache;
  #opts: UpstreamOptions;
  #policy: DialPolicy;

  constructor(dns: DnsCache, opts: UpstreamOptions = {}) {
    this.#dns = dns;
    this.#opts = opts;
    this.#policy = opts.dialPolicy ?? new DialPolicy();
  }

  get dns(): DnsCache {
    return this.#dns;
  }

  /**
   * Picks the endpoint to dial. `cluster` is undefined for passthrough. NONE and DYNAMIC_DNS
   * clusters dial the requested host at the port's targetPort.
   */
  pick(cluster: Cluster | undefined, requestHost: string, requestPort: number): Endpoint | Promise<Endpoint> {
    if (!cluster) return this.#fromName('PassthroughCluster', requestHost, requestPort, 'request');
    if (cluster.resolution === 'NONE' || cluster.resolution === 'DYNAMIC_DNS') {
      return this.#fromName(cluster.name, requestHost, cluster.targetPort, 'request');
    }
    const eps = cluster.endpoints;
    if (eps.length === 0) throw new DataplaneError('no_healthy_upstream', `cluster ${cluster.name} has no endpoints (STATIC ServiceEntry without endpoints?)`);
    // Round-robin over declared endpoints, then over each endpoint's addresses.
    const i = this.#next(cluster.name);
    const ep = eps[i % eps.length]!;
    // An IP the ServiceEntry names is trusted; a name it names is only as good as its DNS answer.
    const origin: AddressOrigin = isIP(ep.address) ? 'registry' : 'dns';
    return this.#fromName(cluster.name, ep.address, ep.port, origin, Math.floor(i / eps.length));
  }

  #fromName(key: string, name: string, port: number, origin: AddressOrigin, turn?: number): Endpoint | Promise<Endpoint> {
    const got = this.#dns.resolve(name);
    const choose = (addrs: readonly string[]): Endpoint => {
      if (addrs.length === 0) throw new DataplaneError('no_healthy_upstream', `${name} resolved to no addresses`);
      const n = turn ?? this.#next(`${key}|${name}`);
      const address = addrs[n % addrs.length]!;
      // Checked on the address about to be dialled, so a rebinding DNS answer cannot evade it.
      const refused = this.#policy.check(address, origin, name);
      if (refused) throw new DataplaneError('ssrf_refused', refused.reason);
      return { address, port };
    };
    return Array.isArray(got) ? choose(got as readonly string[]) : (got as Promise<readonly string[]>).then(choose);
  }

  #next(key: string): number {
    const n = this.#rr.get(key) ?? 0;
    this.#rr.set(key, n + 1 > 1e9 ? 0 : n + 1);
    return n;
  }

  pool(clusterName: string, ep: Endpoint): Pool {
    const origin = ep.address.includes(':') ? `http://[${ep.address}]:${ep.port}` : `http://${ep.address}:${ep.port}`;
    const key = `${clusterName}|${origin}`;
    let p = this.#pools.get(key)?.pool;
    if (!p) {
      p = new Pool(origin, {
        connect: { timeout: this.#opts.connectTimeoutMs ?? 10_000 },
        keepAliveTimeout: this.#opts.keepAliveTimeoutMs ?? 60_000,
        // Envoy's waypoint has no route timeout by default; its stream idle timeout is 5 minutes.
        headersTimeout: 300_000,
        bodyTimeout: 300_000,
      });
      this.#pools.set(key, { cluster: clusterName, pool: p });
    }
    return p;
  }

  /** Closes pools of clusters no longer in `live`; in-flight requests finish first. */
  retain(live: ReadonlySet<string>): void {
    for (const [key, { cluster, pool }] of this.#pools) {
      if (cluster !== 'PassthroughCluster' && !live.has(cluster)) {
        this.#pools.delete(key);
        pool.close().catch(() => {});
      }
    }
  }

  async close(): Promise<void> {
    const all = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.allSettled(all.map((p) => p.pool.destroy()));
  }
}
