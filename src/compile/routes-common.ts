// Pieces shared by the VirtualService and HTTPRoute route compilers.
import type { HeaderOps, RetryPolicy, WeightedCluster } from '../model/route.ts';
import { mergeOps } from '../model/header-ops.ts';
import { parseDurationMs } from '../config/kinds/virtual-service-rules.ts';
import type { HTTPRetry } from '../config/kinds/virtual-service.ts';

export { parseDurationMs };

/**
 * Istio's mesh default retry policy (retry.go DefaultPolicy()), which waypoints apply when no route
 * sets one (istio#60682): 2 retries on connection-level failures and on a 503 response.
 */
export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 2,
  retryOn: new Set(['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes']),
  retriableStatusCodes: new Set([503]),
  backoffBaseMs: 25,
  backoffMaxMs: 250,
};


export function headerOps(
  set: Iterable<readonly [string, string]> = [], add: Iterable<readonly [string, string]> = [], remove: readonly string[] = [],
): HeaderOps | undefined {
  const ops: HeaderOps = {
    set: [...set].map(([k, v]) => [k.toLowerCase(), wireValue(v)] as const),
    add: [...add].map(([k, v]) => [k.toLowerCase(), wireValue(v)] as const),
    remove: remove.map((k) => k.toLowerCase()),
  };
  return ops.set.length + ops.add.length + ops.remove.length ? ops : undefined;
}

/**
 * Envoy sends a configured value's UTF-8 bytes; Node writes header strings as latin1 and refuses a
 * character past U+00FF, which failed every request on the route (503 UC, 502 UPE), and would send
 * `é` as one byte. So a value that is not ASCII is kept as its UTF-8 bytes, one latin1 char each.
 */
function wireValue(v: string): string {
  return /[^\u0000-\u007f]/.test(v) ? Buffer.from(v, 'utf8').toString('latin1') : v;
}

export { mergeOps };

/**
 * retry.ConvertPolicy: no policy is DefaultPolicy(); attempts 0 (or less) turns retries off; else
 * DefaultPolicy() with the policy's attempts, retryOn (replacing the conditions and the 503),
 * perTryTimeout and backoff.
 */
export function convertRetry(r: HTTPRetry | undefined): RetryPolicy {
  if (!r) return DEFAULT_RETRY;
  const p = retryPolicy({
    attempts: Math.max(0, r.attempts ?? 0),
    retryOn: r.retryOn ? r.retryOn.split(',') : undefined,
    perTryTimeoutMs: r.perTryTimeout ? parseDurationMs(r.perTryTimeout) : undefined,
    backoffMs: r.backoff ? parseDurationMs(r.backoff) : undefined,
  });
  return r.retryIgnorePreviousHosts === undefined ? p : { ...p, avoidPreviousHosts: r.retryIgnorePreviousHosts };
}

export function retryPolicy(opts: {
  attempts: number; retryOn?: readonly string[]; codes?: readonly number[]; perTryTimeoutMs?: number; backoffMs?: number;
}): RetryPolicy {
  const on = new Set<string>();
  // ConvertPolicy starts from DefaultPolicy(): without a retryOn the default's codes (503) stay;
  // a retryOn replaces both the conditions and the codes (parseRetryOn).
  const codes = new Set<number>(opts.codes ?? (opts.retryOn === undefined ? DEFAULT_RETRY.retriableStatusCodes : []));
  for (const raw of opts.retryOn ?? [...DEFAULT_RETRY.retryOn]) {
    const t = raw.trim();
    if (/^\d{3}$/.test(t)) {
      codes.add(Number(t));
      on.add('retriable-status-codes');
    } else if (t) on.add(t);
  }
  if (codes.size) on.add('retriable-status-codes');
  const base = opts.backoffMs ?? DEFAULT_RETRY.backoffBaseMs;
  // retry.go ConvertPolicy: attempts <= 0 is no retry policy at all, so its perTryTimeout is dropped
  // too (an HTTPRoute `retry: {attempts: 0}` with `backendRequest` has no timeout in Envoy).
  const perTryTimeoutMs = opts.attempts > 0 ? opts.perTryTimeoutMs : undefined;
  return { attempts: opts.attempts, retryOn: on, retriableStatusCodes: codes, perTryTimeoutMs, backoffBaseMs: base, backoffMaxMs: base * 10 };
}

/** Cumulative weights; a destination without a weight gets 100 / n when all are unweighted. */
export function weighted<T extends Omit<WeightedCluster, 'upTo'>>(items: readonly (T & { weight?: number })[]): { clusters: WeightedCluster[]; total: number } {
  const anyWeight = items.some((i) => i.weight !== undefined);
  let upTo = 0;
  const clusters: WeightedCluster[] = [];
  for (const it of items) {
    const w = anyWeight ? it.weight ?? 0 : 1;
    if (w <= 0) continue;
    upTo += w;
    const { weight: _w, ...rest } = it;
    clusters.push({ ...rest, upTo });
  }
  return { clusters, total: upTo };
}
