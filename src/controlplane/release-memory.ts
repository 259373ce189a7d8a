// Gives memory back after a config load, as Envoy's overload manager does with its shrink_heap
// action (tcmalloc's release to the OS). V8 keeps what a load used: a compile's allocation burst
// grows the young generation to its maximum and it stays committed (30 MiB after loading 3,000
// resources, 60 MiB after 20 reloads of them, next to 25 MiB of live heap; bench/memory.ts). One
// "last resort" full GC (V8's CollectAllAvailableGarbage: it compacts, shrinks the young
// generation back to its initial size and returns the freed pages) takes that back.
//
// It costs a pause: about 120 ms of CPU with 3,000 resources loaded, 40 ms with the quickstart. So
// it runs a quiet `delayMs` after the last swap, at most once per `minIntervalMs`, and is put off
// while the event loop is more than 1% busy: with --concurrency 1, and in each worker, that loop
// serves the traffic. Under load the young generation is in use: given back then, V8 grows it
// again at the cost of more scavenges per request (measured with bench/head-to-head.ts: a release
// run in the workers during a warm-up cost 20-30% of their throughput for the next 15 s). The
// threshold was 5% until a worker serving 500 requests/s (one of two at 1000 rps, about 4% busy)
// was seen releasing mid-load: a 100 ms pause of that worker and 9% more CPU per request over the
// next minute (bench/threads-cpu.ts, --trace-gc). At 1% a loop serving up to about 100 requests/s
// still releases.
import v8 from 'node:v8';
import vm from 'node:vm';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export interface ReleaseOptions {
  /** Quiet time after the last schedule() (a snapshot swap) before the release. */
  readonly delayMs?: number;
  /** At most one release per this interval (Kubernetes churn swaps all the time). */
  readonly minIntervalMs?: number;
  /** Event-loop utilization over the quiet time above which the release waits another delayMs. */
  readonly maxUtilization?: number;
}

export interface ReleaseStats {
  /** Releases run. */
  readonly runs: number;
  /** Wall time the releases paused this thread, in seconds. */
  readonly pauseSeconds: number;
  /** Releases put off because the event loop was busy. */
  readonly putOff: number;
}

type GcFunction = (options?: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

let gcFunction: GcFunction | undefined;

/**
 * V8's gc() without running the process with --expose-gc: the flag applies to contexts created after
 * it is set, so a new context hands over its gc (it collects the whole isolate, not only that
 * context), and the flag is turned off again at once, so no later context sees a global gc.
 */
function gc(): GcFunction {
  if (gcFunction) return gcFunction;
  const own = (globalThis as { gc?: GcFunction }).gc;
  if (typeof own === 'function') return (gcFunction = own);
  v8.setFlagsFromString('--expose-gc');
  try {
    gcFunction = vm.runInNewContext('gc') as GcFunction;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  return gcFunction;
}

export class MemoryReleaser {
  readonly #delayMs: number;
  readonly #minIntervalMs: number;
  readonly #maxUtilization: number;
  #timer: NodeJS.Timeout | undefined;
  #since: EventLoopUtilization | undefined;
  #lastRun = -Infinity;
  #stats = { runs: 0, pauseSeconds: 0, putOff: 0 };

  constructor(o: ReleaseOptions = {}) {
    this.#delayMs = o.delayMs ?? 2000;
    this.#minIntervalMs = o.minIntervalMs ?? 30_000;
    this.#maxUtilization = o.maxUtilization ?? 0.01;
  }

  get stats(): ReleaseStats {
    return { ...this.#stats };
  }

  /** A snapshot was swapped in: release `delayMs` after the last such call (debounced). */
  schedule(): void {
    clearTimeout(this.#timer);
    this.#since = performance.eventLoopUtilization();
    const wait = Math.max(this.#delayMs, this.#lastRun + this.#minIntervalMs - performance.now());
    this.#timer = setTimeout(() => this.#fire(), wait).unref();
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire(): void {
    this.#timer = undefined;
    const busy = performance.eventLoopUtilization(this.#since).utilization;
    if (busy > this.#maxUtilization) {
      this.#stats.putOff++;
      return this.schedule();
    }
    const start = performance.now();
    gc()({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    this.#lastRun = performance.now();
    this.#stats.runs++;
    this.#stats.pauseSeconds += (this.#lastRun - start) / 1000;
  }
}
