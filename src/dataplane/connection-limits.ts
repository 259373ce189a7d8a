// Envoy circuit breakers for one cluster, from DestinationRule connectionPool. Counted per cluster,
// as Envoy counts them, not per endpoint pool. With HTTP/1.1 each connection carries one request at
// a time, so a request beyond maxConnections waits for one ("pending"), and one beyond
// maxConnections + http1MaxPendingRequests overflows: 503 UO. http2MaxRequests caps outstanding
// requests whatever the protocol (Envoy max_requests). maxConnections also caps the cluster's open
// connections, pools (policy-pool.ts) and TCP tunnels together (Envoy's tcp_proxy refuses a
// connection beyond it: UO). Unset limits are unlimited, as Istio sets them.
import type { ConnectionLimits } from '../model/cluster-policy.ts';

export class ClusterLimiter {
  #limits: ConnectionLimits;
  #outstanding = 0;
  #retries = 0;
  #connections = 0;

  constructor(limits: ConnectionLimits) {
    this.#limits = limits;
  }

  get outstanding(): number {
    return this.#outstanding;
  }

  /** Upstream connections open or being opened, HTTP pools and TCP tunnels together. */
  get connections(): number {
    return this.#connections;
  }

  get limitsConnections(): boolean {
    return this.#limits.maxConnections !== undefined;
  }

  /** Whether one more connection fits under maxConnections (Envoy's `connections` circuit breaker). */
  canConnect(): boolean {
    const max = this.#limits.maxConnections;
    return max === undefined || this.#connections < max;
  }

  connectionOpened(): void {
    this.#connections++;
  }

  connectionClosed(): void {
    this.#connections--;
  }

  /** Takes a request slot; returns the overflow reason instead when the cluster is full. */
  acquire(cluster: string): string | undefined {
    const l = this.#limits;
    if (l.http2MaxRequests !== undefined && this.#outstanding >= l.http2MaxRequests) {
      return `cluster ${cluster} has ${this.#outstanding} requests outstanding, its http2MaxRequests is ${l.http2MaxRequests}`;
    }
    if (l.http1MaxPendingRequests !== undefined && l.maxConnections !== undefined) {
      const pending = this.#outstanding - l.maxConnections;
      if (pending >= l.http1MaxPendingRequests) {
        return `cluster ${cluster}: all ${l.maxConnections} connections (maxConnections) are busy and ${Math.max(pending, 0)} requests are pending (http1MaxPendingRequests ${l.http1MaxPendingRequests})`;
      }
    }
    this.#outstanding++;
    return undefined;
  }

  release(): void {
    this.#outstanding--;
  }

  /** A retry slot (Envoy max_retries: retries outstanding at once), or undefined on overflow. */
  acquireRetry(): (() => void) | undefined {
    const max = this.#limits.maxRetries;
    if (max !== undefined && this.#retries >= max) return undefined;
    this.#retries++;
    let done = false;
    return () => {
      if (!done) this.#retries--;
      done = true;
    };
  }
}
