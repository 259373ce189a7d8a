// The data-plane workers of `run --concurrency N`, seen from the primary: start them (the first one
// picks any port-0 port, the others bind the same ports with SO_REUSEPORT), send each snapshot to
// all of them (as a change to the last one), read their metrics and summaries, restart one that dies (with backoff, one log line
// each time), and drain them all on SIGTERM.
import module from 'node:module';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { Snapshot } from '../model/snapshot.ts';
import { foldCumulative, type MetricsState } from '../telemetry/metrics.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Collected, FromWorker, Replicas, ToWorker, WorkerInit, WorkerOptions } from './protocol.ts';
import { snapshotDelta, type SnapshotDelta } from './snapshot-delta.ts';

const ENTRY = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/**
 * A worker starts with Node's compile cache when this thread has it (bin/egressway.js turns it on): a
 * worker does not inherit module.enableCompileCache(), and without it each worker of a source checkout
 * loads Node's TypeScript stripper (amaro: about 15 MiB of WebAssembly memory and code per worker, for
 * the life of the process) and compiles every module again. A data: URL module rather than an `eval`
 * worker, because Node runs NODE_OPTIONS' --import/--require preloads in the former only.
 */
export function workerEntry(entry: URL, compileCache: boolean): URL {
  if (!compileCache) return entry;
  const src = `import m from 'node:module'; m.enableCompileCache?.(); await import(${JSON.stringify(entry.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(src)}`);
}

/**
 * A worker's V8 young generation (`run --max-semi-space-size`): two semi-spaces and a new
 * large-object space of the same size, so V8 takes a third of maxYoungGenerationSizeMb as the
 * semi-space (rounded up to a power of two: 8 gives at most 16 MiB of new space, against V8's 64).
 * Undefined: V8's own default (or node's --max-semi-space-size, which every worker inherits).
 */
export function youngGenerationLimits(semiSpaceMb: number | undefined): ResourceLimits | undefined {
  return semiSpaceMb ? { maxYoungGenerationSizeMb: 3 * semiSpaceMb } : undefined;
}

/** Restart delays: 250 ms, doubled for each restart in the last minute, at most 30 s. */
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 30_000;
const CRASH_WINDOW_MS = 60_000;
/** This many crashes of one worker within CRASH_WINDOW_MS: the process gives up (exit 70). */
export const MAX_CRASHES = 5;
/** A scrape waits this long for a worker's metrics; a worker that does not answer is left out. */
const COLLECT_TIMEOUT_MS = 2000;

type State = 'starting' | 'ready' | 'restarting' | 'stopped';

interface Slot {
  readonly index: number;
  worker?: Worker;
  state: State;
  version?: string;
  /** The version the worker holds once it has read every message sent to it so far. */
  sent?: string;
  crashes: number[];
  timer?: NodeJS.Timeout;
  drained?: () => void;
  /** Its metrics at the last scrape: carried over if it dies (see retiredMetrics). */
  lastMetrics?: MetricsState;
}

export interface PoolOptions {
  readonly size: number;
  readonly options: WorkerOptions;
  /** Each worker's largest V8 semi-space in MiB (youngGenerationLimits); undefined: V8's. */
  readonly maxSemiSpaceMb?: number;
  readonly logLevel: string;
  readonly log: Logger;
  /** Where workers' stdout lines go (the primary's one writer). */
  readonly out: (s: string) => void;
  readonly testHooks: boolean;
  /** The primary's current Secrets, pods and certificate, for a worker's init (a restart gets them too). */
  readonly replicas: () => Replicas;
  /** A worker crashed MAX_CRASHES times within a minute: the process must exit non-zero. */
  readonly onFatal: (message: string) => void;
}

export type Listeners = { readonly proxy: string; readonly hbone?: string; readonly proxyProtocol?: string };

export class WorkerPool {
  readonly #o: PoolOptions;
  readonly #slots: Slot[];
  #snapshot!: Snapshot;
  #ports!: WorkerInit['ports'];
  #draining = false;
  #collectId = 0;
  readonly #pending = new Map<number, { got: Collected[]; left: number; done: () => void }>();
  #retired: Promise<MetricsState | undefined> = Promise.resolve(undefined);

  constructor(o: PoolOptions) {
    this.#o = o;
    this.#slots = Array.from({ length: o.size }, (_, index) => ({ index, state: 'starting' as State, crashes: [] }));
  }

  /** Starts every worker on `snapshot`; rejects with the first one's error if one cannot start. */
  async start(snapshot: Snapshot): Promise<Listeners> {
    this.#snapshot = snapshot;
    const o = this.#o.options;
    this.#ports = { proxy: o.ports.proxy, hbone: o.hbone?.port, proxyProtocol: o.proxyProtocol?.port };
    try {
      const first = await this.#spawn(this.#slots[0]!);
      this.#ports = { proxy: portOf(first.proxy), hbone: first.hbone ? portOf(first.hbone) : undefined, proxyProtocol: first.proxyProtocol ? portOf(first.proxyProtocol) : undefined };
      await Promise.all(this.#slots.slice(1).map((s) => this.#spawn(s)));
      return first;
    } catch (err) {
      this.#draining = true;
      await Promise.allSettled(this.#slots.map((s) => s.worker?.terminate()));
      throw err;
    }
  }

  /**
   * Every worker serves `snapshot` next (a restarted worker starts on it). A worker that holds the
   * previous one gets only what changed: one delta, computed once for all of them.
   */
  broadcast(snapshot: Snapshot): void {
    const prev = this.#snapshot;
    this.#snapshot = snapshot;
    let delta: SnapshotDelta | undefined;
    for (const s of this.#slots) {
      if (s.state !== 'ready') continue;
      if (s.sent !== prev?.version) this.#sendSnapshot(s);
      else {
        this.#send(s, { t: 'delta', delta: (delta ??= snapshotDelta(prev, snapshot)) });
        s.sent = snapshot.version;
      }
    }
  }

  #sendSnapshot(s: Slot): void {
    this.#send(s, { t: 'snapshot', snapshot: this.#snapshot });
    s.sent = this.#snapshot.version;
  }

  /**
   * A change to the replicated state, to every worker that has one: a starting worker too (its
   * init was taken before this change; the message waits in its port until it listens).
   */
  replicate(m: ToWorker & { t: 'credentials' | 'pods' | 'identity' }): void {
    for (const s of this.#slots) if (s.state === 'ready' || s.state === 'starting') this.#send(s, m);
  }

  /** Why the workers are not all serving the current snapshot, if they are not. */
  notReady(): string | undefined {
    for (const s of this.#slots) {
      if (s.state !== 'ready') return `worker ${s.index} of ${this.#slots.length} is ${s.state}`;
      if (s.version !== this.#snapshot.version) return `worker ${s.index} of ${this.#slots.length} has not applied snapshot ${this.#snapshot.version} yet`;
    }
    return undefined;
  }

  /** Metrics, summary and totals of every ready worker that answers within 2 s. */
  collect(): Promise<Collected[]> {
    const ready = this.#slots.filter((s) => s.state === 'ready');
    const id = ++this.#collectId;
    return new Promise((resolve) => {
      const entry = { got: [] as Collected[], left: ready.length, done: () => { clearTimeout(timer); this.#pending.delete(id); resolve(entry.got); } };
      const timer = setTimeout(entry.done, COLLECT_TIMEOUT_MS);
      this.#pending.set(id, entry);
      if (ready.length === 0) return entry.done();
      for (const s of ready) this.#send(s, { t: 'collect', id });
    });
  }

  /**
   * The counters and histograms of every worker that died, as of its last scrape: the primary adds
   * them to the exposition, so the merged counters never go backwards when a worker is restarted.
   * One folded state, however many restarts.
   */
  retiredMetrics(): Promise<MetricsState | undefined> {
    return this.#retired;
  }

  /** Drains every worker (each finishes in-flight requests for up to graceMs) and ends them. */
  async drain(graceMs: number): Promise<void> {
    this.#draining = true;
    await Promise.all(this.#slots.map(async (s) => {
      clearTimeout(s.timer);
      const w = s.worker;
      if (!w || s.state === 'stopped') return;
      const drained = new Promise<void>((r) => { s.drained = r; w.once('exit', () => r()); });
      this.#send(s, { t: 'drain', graceMs });
      // A worker stuck past its grace (and the access-log flush after it) is ended anyway.
      const timer = setTimeout(() => void w.terminate(), graceMs + 5000);
      await drained;
      clearTimeout(timer);
      s.state = 'stopped';
      await w.terminate();
    }));
  }

  /** Test hook (EGRESSWAY_TEST_HOOKS=1): worker `index` throws an uncaught exception. */
  crash(index: number): void {
    const s = this.#slots[index];
    if (s) this.#send(s, { t: 'crash' });
  }

  #send(s: Slot, m: ToWorker): void {
    s.worker?.postMessage(m);
  }

  /** Starts the worker of `s` and resolves with its listeners once it listens. */
  #spawn(s: Slot): Promise<Listeners> {
    const init: WorkerInit = {
      index: s.index, replicas: this.#o.replicas(), options: this.#o.options, logLevel: this.#o.logLevel, snapshot: this.#snapshot, ports: this.#ports, testHooks: this.#o.testHooks,
    };
    const w = new Worker(workerEntry(ENTRY, module.getCompileCacheDir?.() !== undefined), {
      workerData: init, stdout: false, stderr: false, resourceLimits: youngGenerationLimits(this.#o.maxSemiSpaceMb),
    });
    s.worker = w;
    s.state = 'starting';
    s.version = this.#snapshot.version;
    s.sent = this.#snapshot.version;
    let failure: string | undefined;
    return new Promise((resolve, reject) => {
      let listening = false;
      w.on('message', (m: FromWorker) => {
        switch (m.t) {
          case 'out': return this.#o.out(m.s);
          case 'listening':
            listening = true;
            s.state = 'ready';
            // A snapshot may have been swapped while this worker started.
            if (s.sent !== this.#snapshot.version) this.#sendSnapshot(s);
            return resolve(m.listeners);
          case 'failed':
            failure = m.message;
            return void w.terminate();
          case 'swapped':
            s.version = m.version;
            return;
          case 'resync':
            this.#o.log.warn({ worker: s.index, version: m.version }, `worker ${s.index} could not apply a snapshot change to snapshot ${m.version}; sending it the whole snapshot`);
            return this.#sendSnapshot(s);
          case 'collected': {
            const p = this.#pending.get(m.id);
            if (!p) return;
            p.got.push(m.data);
            s.lastMetrics = m.data.metrics;
            if (--p.left === 0) p.done();
            return;
          }
          case 'drained':
            return s.drained?.();
        }
      });
      w.on('error', (err) => { failure ??= `${err.name}: ${err.message}`; });
      w.on('exit', (code) => {
        if (s.worker !== w) return;
        const why = failure ?? `exit code ${code}`;
        if (!listening) reject(new Error(why));
        if (this.#draining || s.state === 'stopped') return;
        if (listening) this.#crashed(s, why);
      });
    });
  }

  #crashed(s: Slot, why: string): void {
    const last = s.lastMetrics;
    s.lastMetrics = undefined;
    if (last) {
      const before = this.#retired;
      this.#retired = before.then((r) => foldCumulative(r ? [r, last] : [last]));
    }
    const now = Date.now();
    s.crashes = [...s.crashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
    s.worker = undefined;
    const n = s.crashes.length;
    if (n >= MAX_CRASHES) {
      s.state = 'stopped';
      const msg = `worker ${s.index} died (${why}) ${n} times within ${CRASH_WINDOW_MS / 1000} s; giving up: the waypoint exits 70 so that its supervisor restarts it`;
      this.#o.log.error({ worker: s.index, crashes: n }, msg);
      return this.#o.onFatal(msg);
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (n - 1));
    s.state = 'restarting';
    this.#o.log.error({ worker: s.index, crashes: n, restartInMs: delay }, `worker ${s.index} died (${why}); restarting it in ${delay} ms (crash ${n} in the last minute; ${MAX_CRASHES} end the process); its connections were cut and the other workers keep serving`);
    s.timer = setTimeout(() => void this.#restart(s), delay);
  }

  async #restart(s: Slot): Promise<void> {
    if (this.#draining) return;
    try {
      await this.#spawn(s);
      this.#o.log.info({ worker: s.index }, `worker ${s.index} restarted and listening`);
    } catch (err) {
      if (!this.#draining) this.#crashed(s, (err as Error).message);
    }
  }
}

function portOf(authority: string): number {
  return Number(authority.slice(authority.lastIndexOf(':') + 1));
}
