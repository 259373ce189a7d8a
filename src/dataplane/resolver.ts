// Cached DNS for upstream endpoints. Two sources, as Envoy offers two resolvers:
//  - 'system': getaddrinfo (dns.lookup), which honours /etc/hosts and nsswitch like curl does; it
//    reports no TTL, so answers live for `refreshMs` (Istio's dnsRefreshRate).
//  - servers given: c-ares queries to those servers, and answers live for their own TTL (Istio sets
//    respect_dns_ttl), clamped to [minTtlMs, refreshMs].
// Expired answers are served while a refresh runs (Envoy keeps the last host set), so only the
// first request for a name waits on DNS. Failures are cached briefly so a dead name is not hammered.
// Names a client chose (wildcard DYNAMIC_DNS, NONE, ALLOW_ANY passthrough) live in a separate table
// bounded like Envoy's dynamic forward proxy DNS cache (max_hosts, 1024), least recently used out;
// names from the config (DNS endpoints) are bounded by the config and never pushed out by them.
import { isIP } from 'node:net';
import { LruMap } from './lru.ts';
import { lookup, Resolver as AresResolver } from 'node:dns/promises';
import { DataplaneError } from './errors.ts';

export interface ResolverOptions {
  readonly servers?: readonly string[];
  readonly refreshMs?: number;
  readonly minTtlMs?: number;
  readonly negativeTtlMs?: number;
  readonly timeoutMs?: number;
  /** Request-chosen names kept at most (Envoy dynamic forward proxy max_hosts). */
  readonly maxHosts?: number;
}

export const DEFAULT_DNS_MAX_HOSTS = 1024;

type Table = Map<string, Entry> | LruMap<string, Entry>;

interface Entry {
  addresses: readonly string[];
  expires: number;
  error?: DataplaneError;
  refreshing?: Promise<readonly string[]>;
}

export class DnsCache {
  #entries = new Map<string, Entry>();
  #client: LruMap<string, Entry>;
  #ares: AresResolver | undefined;
  #refreshMs: number;
  #minTtlMs: number;
  #negativeMs: number;
  #queries = 0;

  constructor(opts: ResolverOptions = {}) {
    this.#refreshMs = opts.refreshMs ?? 60_000;
    this.#minTtlMs = opts.minTtlMs ?? 1_000;
    this.#negativeMs = opts.negativeTtlMs ?? 1_000;
    this.#client = new LruMap(opts.maxHosts ?? DEFAULT_DNS_MAX_HOSTS);
    if (opts.servers?.length) {
      this.#ares = new AresResolver({ timeout: opts.timeoutMs ?? 2_000, tries: 2 });
      this.#ares.setServers([...opts.servers]);
    }
  }

  /** Number of upstream DNS queries made (for tests and stats). */
  get queries(): number {
    return this.#queries;
  }

  /** Request-chosen names cached now, and how many were pushed out (metrics). */
  get requestHosts(): { readonly size: number; readonly max: number; readonly evictions: number } {
    return { size: this.#client.size, max: this.#client.max, evictions: this.#client.evictions };
  }

  /**
   * Addresses for a name; synchronous when cached. Rejects with DataplaneError('dns_failure').
   * `fromRequest`: the client chose the name, so it goes to the bounded table.
   */
  resolve(name: string, fromRequest = false): readonly string[] | Promise<readonly string[]> {
    const table = fromRequest ? this.#client : this.#entries;
    const e = table.get(name);
    // Hot path: only names that are not IPs ever get an entry, so the isIP regexes run only on a miss.
    if (e === undefined && isIP(name)) return [name];
    const now = Date.now();
    if (e && e.expires > now) {
      if (e.error) throw e.error;
      return e.addresses;
    }
    if (e && !e.error && e.addresses.length) {
      this.#refresh(table, name).catch(() => {}); // stale-while-revalidate
      return e.addresses;
    }
    return this.#refresh(table, name);
  }

  #refresh(table: Table, name: string): Promise<readonly string[]> {
    const e = table.get(name);
    if (e?.refreshing) return e.refreshing;
    const p = this.#query(name).then(
      ({ addresses, ttlMs }) => {
        table.set(name, { addresses, expires: Date.now() + ttlMs });
        return addresses;
      },
      (err: unknown) => {
        const code = (err as { code?: string }).code ?? 'EUNKNOWN';
        const error = new DataplaneError('dns_failure', `DNS lookup of ${name} failed: ${code}`);
        const prev = table.get(name);
        // Keep serving a previous answer when a refresh fails, as Envoy does.
        if (prev && prev.addresses.length && !prev.error) {
          table.set(name, { addresses: prev.addresses, expires: Date.now() + this.#negativeMs });
          return prev.addresses;
        }
        table.set(name, { addresses: [], error, expires: Date.now() + this.#negativeMs });
        throw error;
      },
    );
    if (e) e.refreshing = p;
    else table.set(name, { addresses: [], expires: 0, refreshing: p });
    return p;
  }

  async #query(name: string): Promise<{ addresses: string[]; ttlMs: number }> {
    this.#queries++;
    if (!this.#ares) {
      const all = await lookup(name, { all: true });
      return { addresses: all.map((a) => a.address), ttlMs: this.#refreshMs };
    }
    const [v4, v6] = await Promise.allSettled([
      this.#ares.resolve4(name, { ttl: true }),
      this.#ares.resolve6(name, { ttl: true }),
    ]);
    const recs = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
    if (recs.length === 0) throw v4.status === 'rejected' ? v4.reason : new Error('ENODATA');
    const ttl = Math.min(...recs.map((r) => r.ttl)) * 1000;
    return { addresses: recs.map((r) => r.address), ttlMs: Math.min(Math.max(ttl, this.#minTtlMs), this.#refreshMs) };
  }
}
