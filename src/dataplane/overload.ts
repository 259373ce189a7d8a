// The overload guard, after Envoy's overload manager: a resource monitor sampled every 250 ms
// (Envoy's refresh_interval) and one action, stop_accepting_requests. Above the heap threshold, new
// requests and tunnels are answered 503 with flag OM at once, and requests already in flight finish.
// Envoy's example config stops accepting requests at 95-99% of a fixed heap; V8 spends most of its
// time in garbage collection well before its heap limit, so the default here is 95% of it.
import { getHeapStatistics } from 'node:v8';

export interface OverloadOptions {
  /** Fraction of V8's heap limit (heap_size_limit) above which requests are refused. 0 disables. */
  readonly heapFraction?: number;
  /** How often the heap is sampled. */
  readonly intervalMs?: number;
  /** Heap pressure source (tests); default: V8's used heap over its limit. */
  readonly sample?: () => { used: number; limit: number };
  /** Called once per new refusal (a request or tunnel shed), for the metric. */
  readonly onShed?: () => void;
}

export const DEFAULT_OVERLOAD_HEAP_FRACTION = 0.95;

function v8Heap(): { used: number; limit: number } {
  const h = getHeapStatistics();
  return { used: h.used_heap_size, limit: h.heap_size_limit };
}

export class OverloadMonitor {
  #fraction: number;
  #sample: () => { used: number; limit: number };
  #timer: NodeJS.Timeout | undefined;
  #onShed: (() => void) | undefined;
  /** Hot path: a plain field that request handlers read; the timer writes it. */
  overloaded = false;
  #reason = '';

  constructor(o: OverloadOptions = {}) {
    this.#fraction = o.heapFraction ?? DEFAULT_OVERLOAD_HEAP_FRACTION;
    this.#sample = o.sample ?? v8Heap;
    this.#onShed = o.onShed;
    if (this.#fraction > 0) {
      this.#timer = setInterval(() => this.check(), o.intervalMs ?? 250);
      this.#timer.unref();
    }
  }

  /** Samples the heap now (the timer calls it; tests may too). */
  check(): void {
    const { used, limit } = this.#sample();
    const pressure = limit > 0 ? used / limit : 0;
    this.overloaded = this.#fraction > 0 && pressure >= this.#fraction;
    if (this.overloaded) {
      this.#reason = `the waypoint is overloaded: heap ${mib(used)} MiB is ${Math.round(pressure * 100)}% of its ${mib(limit)} MiB limit, above --overload-heap-threshold ${Math.round(this.#fraction * 100)}%; requests in flight finish, new ones are refused until memory is freed. Next: add waypoint replicas, raise node --max-old-space-size, or lower --max-connections`;
    }
  }

  /** Why requests are being refused (valid while `overloaded`). Counts one shed request. */
  shed(): string {
    this.#onShed?.();
    return this.#reason;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

function mib(n: number): number {
  return Math.round(n / (1 << 20));
}
