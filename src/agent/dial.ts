// One outbound decision per client connection: through the bound waypoint over HBONE, direct
// (--passthrough, or NO_PROXY in HTTP proxy mode), or refused with a reason the client can read.
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HbonePool } from '../hbone/client-pool.ts';
import type { AgentRoutes, WaypointTarget } from './routes.ts';

export type DialResult =
  | { readonly ok: true; readonly stream: Duplex; readonly via: 'hbone' | 'direct' }
  | { readonly ok: false; readonly status: number; readonly reason: string };

export interface DialDeps {
  readonly routes: () => AgentRoutes;
  readonly pool: HbonePool;
  readonly passthrough: boolean;
  /** Trust domain of our identity, for the waypoint's expected SPIFFE ID. */
  readonly trustDomain: () => string;
  readonly baggage?: string;
  readonly connectTimeoutMs?: number;
}

/** Where a destination goes, decided without any I/O (the route table is in memory). */
export type Destination =
  | { readonly kind: 'hbone'; readonly waypoint: WaypointTarget; readonly authority: string; readonly service: string }
  | { readonly kind: 'direct' }
  | { readonly kind: 'refuse'; readonly status: number; readonly reason: string };

export function destination(d: DialDeps, host: string, port: number, direct = false): Destination {
  const route = d.routes().lookup(host, port);
  if (route.kind === 'none' || direct) {
    if (!direct && !d.passthrough) return { kind: 'refuse', status: 403, reason: `${route.kind === 'none' ? route.reason : ''}; refused (run the agent with --passthrough to send such traffic direct)` };
    return { kind: 'direct' };
  }
  const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return { kind: 'hbone', waypoint: route.waypoint, authority, service: route.service };
}

export async function dial(d: DialDeps, host: string, port: number, client: string, direct = false): Promise<DialResult> {
  const dest = destination(d, host, port, direct);
  if (dest.kind === 'refuse') return { ok: false, status: dest.status, reason: dest.reason };
  if (dest.kind === 'direct') return dialDirect(host, port, d.connectTimeoutMs ?? 10_000);
  return openHbone(d, dest, client);
}

/** One CONNECT stream to the destination's waypoint, on the pooled HTTP/2 connection. */
export async function openHbone(d: DialDeps, dest: Destination & { kind: 'hbone' }, client: string): Promise<DialResult> {
  const wp = dest.waypoint;
  try {
    const r = await d.pool.open(
      { address: wp.address, identity: `spiffe://${d.trustDomain()}/ns/${wp.namespace}/sa/${wp.name}` },
      { authority: dest.authority, forwardedFor: client, forwardedHost: dest.service, baggage: d.baggage },
    );
    if (r.ok) return { ok: true, stream: r.stream, via: 'hbone' };
    return { ok: false, status: r.status, reason: `waypoint ${wp.key} answered ${r.status}: ${r.body.trim()}` };
  } catch (err) {
    return { ok: false, status: 503, reason: `cannot reach waypoint ${wp.key} at ${wp.address}: ${(err as Error).message}` };
  }
}

function dialDirect(host: string, port: number, timeoutMs: number): Promise<DialResult> {
  return new Promise((resolve) => {
    const s = connect({ host, port, allowHalfOpen: true });
    const t = setTimeout(() => {
      s.destroy();
      resolve({ ok: false, status: 504, reason: `direct connect to ${host}:${port} timed out` });
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.removeAllListeners('error');
      resolve({ ok: true, stream: s, via: 'direct' });
    });
    s.once('error', (err) => {
      clearTimeout(t);
      resolve({ ok: false, status: 502, reason: `direct connect to ${host}:${port}: ${err.message}` });
    });
  });
}

/** Byte copy both ways with back-pressure (pipe), half-close forwarded, either error ends both. */
export function join(a: Duplex, b: Duplex): void {
  const kill = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', kill);
  b.on('error', kill);
  // When one side closes, the other gets a second to flush; the timer goes as soon as it closes
  // (a pending timer would keep both streams, and everything they reference, alive for that second).
  const linger = (closed: Duplex, other: Duplex) => closed.once('close', () => {
    if (other.destroyed) return;
    const t = setTimeout(() => other.destroy(), 1000).unref();
    other.once('close', () => clearTimeout(t));
  });
  linger(a, b);
  linger(b, a);
  a.pipe(b);
  b.pipe(a);
}
