// Endpoint choice for one cluster (DestinationRule loadBalancer). Works on indices into the
// cluster's declared endpoints, over the candidates outlier detection left healthy.
//  - LEAST_REQUEST (Istio's default): fewest outstanding requests; ties go round-robin, so sequential
//    traffic spreads like ROUND_ROBIN. A full scan instead of Envoy's power-of-two-choices: clusters
//    here have a handful of endpoints, where the scan is both cheaper and exact.
//  - ROUND_ROBIN, RANDOM.
//  - CONSISTENT_HASH: a ring (Envoy ring_hash, minimumRingSize points, weighted) keyed by a header,
//    cookie, query parameter or source IP; a request without the key falls back to round-robin. An
//    ejected endpoint's share moves to the next healthy point on the ring.
import type { LoadBalancerPolicy } from '../model/cluster-policy.ts';

/** Request facts a load balancer may hash on. Header names lower-case, as Node gives them. */
export interface PickContext {
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
  readonly sourceIp?: string;
  /** Path with query string, as sent. */
  readonly path?: string;
  /** The hash cookie's value made for a request without one (hashCookie()), hashed as a sent one is. */
  readonly cookie?: string;
}

export interface LbHost {
  readonly key: string;
  readonly weight: number;
}

export class LoadBalancer {
  #policy: LoadBalancerPolicy;
  #hosts: readonly LbHost[];
  #rr = 0;
  #ring: { readonly hashes: Uint32Array; readonly hosts: Uint32Array } | undefined;

  constructor(policy: LoadBalancerPolicy | undefined, hosts: readonly LbHost[]) {
    this.#policy = policy ?? { kind: 'LEAST_REQUEST' };
    this.#hosts = hosts;
  }

  /** Turn counter, also used to rotate over a DNS name's addresses. */
  nextTurn(): number {
    const n = this.#rr;
    this.#rr = n + 1 > 1e9 ? 0 : n + 1;
    return n;
  }

  /** Picks among `healthy` (ascending indices, non-empty). `active(i)` is i's outstanding requests. */
  choose(healthy: readonly number[], active: (i: number) => number, ctx: PickContext | undefined): number {
    const p = this.#policy;
    switch (p.kind) {
      case 'RANDOM': return healthy[Math.floor(Math.random() * healthy.length)]!;
      case 'ROUND_ROBIN': return healthy[this.nextTurn() % healthy.length]!;
      case 'CONSISTENT_HASH': {
        const key = hashKey(p, ctx);
        if (key !== undefined) return this.#onRing(key, healthy);
        return healthy[this.nextTurn() % healthy.length]!;
      }
      default: return leastRequest(healthy, active, this.nextTurn());
    }
  }

  #onRing(key: string, healthy: readonly number[]): number {
    const ring = (this.#ring ??= buildRing(this.#hosts, this.#policy.kind === 'CONSISTENT_HASH' ? this.#policy.minimumRingSize : 1024));
    const ok = new Set(healthy);
    const h = fnv1a(key);
    let lo = 0;
    let hi = ring.hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ring.hashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < ring.hashes.length; i++) {
      const host = ring.hosts[(lo + i) % ring.hashes.length]!;
      if (ok.has(host)) return host;
    }
    return healthy[0]!;
  }
}

function leastRequest(healthy: readonly number[], active: (i: number) => number, turn: number): number {
  const n = healthy.length;
  let best = healthy[turn % n]!;
  let min = active(best);
  for (let k = 1; k < n && min > 0; k++) {
    const i = healthy[(turn + k) % n]!;
    const a = active(i);
    if (a < min) {
      best = i;
      min = a;
    }
  }
  return best;
}

function hashKey(p: Extract<LoadBalancerPolicy, { kind: 'CONSISTENT_HASH' }>, ctx: PickContext | undefined): string | undefined {
  if (!ctx) return undefined;
  const header = (name: string) => {
    const v = ctx.headers?.[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
  if (p.httpHeaderName) return header(p.httpHeaderName);
  if (p.useSourceIp) return ctx.sourceIp || undefined;
  if (p.httpCookie) return cookie(header('cookie'), p.httpCookie) ?? ctx.cookie;
  if (p.httpQueryParameterName && ctx.path) {
    const q = ctx.path.indexOf('?');
    return q < 0 ? undefined : new URLSearchParams(ctx.path.slice(q + 1)).get(p.httpQueryParameterName) ?? undefined;
  }
  return undefined;
}

function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return unquote(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** Envoy's parseCookieValue strips one pair of double quotes (its own Set-Cookie writes them). */
function unquote(v: string): string {
  return v.length >= 2 && v[0] === '"' && v[v.length - 1] === '"' ? v.slice(1, -1) : v;
}

/**
 * Envoy's router (addDownstreamSetCookie) for a consistent-hash cookie the request lacks: a value
 * from the connection's two addresses, and the Set-Cookie that makes later requests stick
 * (`name="value"; Max-Age=N; Path=p; attr=v; HttpOnly`). Undefined when no cookie is to be made.
 */
export function hashCookie(p: LoadBalancerPolicy | undefined, cookieHeader: string | string[] | undefined, connection: string): { value: string; setCookie: string } | undefined {
  if (p?.kind !== 'CONSISTENT_HASH' || !p.httpCookie || !p.cookie) return undefined;
  if (cookie(Array.isArray(cookieHeader) ? cookieHeader.join('; ') : cookieHeader, p.httpCookie) !== undefined) return undefined;
  const value = fnv1a(connection).toString(16).padStart(8, '0') + fnv1a(`${connection}#`).toString(16).padStart(8, '0');
  const c = p.cookie;
  let setCookie = `${p.httpCookie}="${value}"`;
  if (c.maxAgeS) setCookie += `; Max-Age=${c.maxAgeS}`;
  if (c.path) setCookie += `; Path=${c.path}`;
  for (const [k, v] of c.attributes ?? []) setCookie += v ? `; ${k}=${v}` : `; ${k}`;
  return { value, setCookie: `${setCookie}; HttpOnly` };
}

function buildRing(hosts: readonly LbHost[], size: number): { hashes: Uint32Array; hosts: Uint32Array } {
  const total = hosts.reduce((s, h) => s + Math.max(h.weight, 1), 0) || 1;
  const points: [number, number][] = [];
  hosts.forEach((h, i) => {
    const n = Math.max(1, Math.ceil((size * Math.max(h.weight, 1)) / total));
    for (let r = 0; r < n; r++) points.push([fnv1a(`${h.key}_${r}`), i]);
  });
  points.sort((a, b) => a[0] - b[0]);
  return { hashes: Uint32Array.from(points, (p) => p[0]), hosts: Uint32Array.from(points, (p) => p[1]) };
}

/** 32-bit FNV-1a with a final avalanche: cheap, and spreads short keys over the ring. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
