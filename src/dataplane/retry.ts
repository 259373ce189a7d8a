// Which outcomes a route's retry policy retries, in Envoy's retry_on vocabulary
// (x-envoy-retry-on), and the back-off between tries. PURE apart from the jitter draw.
import type { RetryPolicy } from '../model/route.ts';
import type { FailureCode } from './errors.ts';
import type { ResponseHead } from './headers.ts';

const GRPC_RETRY: Readonly<Record<string, string>> = { 1: 'cancelled', 4: 'deadline-exceeded', 13: 'internal', 8: 'resource-exhausted', 14: 'unavailable' };

/** A failure before response headers (connect failure, reset, per-try timeout). */
export function retriableFailure(p: RetryPolicy, code: FailureCode | 'per_try_timeout'): boolean {
  const on = p.retryOn;
  switch (code) {
    case 'connect_failure':
    case 'connect_timeout':
      return on.has('connect-failure') || on.has('5xx') || on.has('gateway-error') || on.has('reset');
    case 'upstream_reset_before_headers':
    case 'upstream_closed_before_headers':
      return on.has('reset') || on.has('reset-before-request') || on.has('5xx') || on.has('gateway-error');
    case 'per_try_timeout':
      return on.has('5xx') || on.has('gateway-error') || on.has('reset');
    default:
      return false;
  }
}

/** A response that arrived: its status and the head's facts (grpc-status, x-envoy-ratelimited). */
export function retriableResponse(p: RetryPolicy, status: number, head: ResponseHead): boolean {
  const on = p.retryOn;
  if (on.has('5xx') && status >= 500) return true;
  if (on.has('gateway-error') && (status === 502 || status === 503 || status === 504)) return true;
  if (on.has('retriable-4xx') && status === 409) return true;
  if (on.has('retriable-status-codes') && p.retriableStatusCodes.has(status)) return true;
  if (on.has('envoy-ratelimited') && head.rateLimited) return true;
  const grpc = head.grpcStatus;
  if (grpc !== undefined && GRPC_RETRY[grpc] && on.has(GRPC_RETRY[grpc]!)) return true;
  return false;
}

/** Envoy's fully jittered exponential back-off: uniform in [0, min(base * 2^n, max)). */
export function backoffMs(p: RetryPolicy, retryIndex: number, random = Math.random): number {
  const cap = Math.min(p.backoffBaseMs * 2 ** retryIndex, p.backoffMaxMs);
  return Math.floor(random() * cap);
}
