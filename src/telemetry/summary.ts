// Per-service golden signals for the dashboard and `egressway stat`: a rolling window (60 × 1 s
// buckets by default) per destination_service, fed from the same RequestRecord sink as the metrics.
// Pure: the caller passes the clock; records are bucketed by their end time (start + duration).
//
// Latency resolution: durations arrive as whole milliseconds (Date.now() deltas). Each bucket keeps
// a sparse log-scale histogram (DDSketch-style, gamma 1.1), so a quantile is within ±5% of a value
// actually observed in that bucket's range — far finer than Prometheus's Envoy buckets (0.5, 1, 5,
// 10, 25, ... ms) and cheap: a request is one Map increment.
import type { RequestRecord } from './record.ts';

export interface SummaryOptions {
  /** Window length in seconds (one bucket per second). Default 60. */
  readonly windowSec?: number;
  /** How many recent denials and errors are kept (ring buffer). Default 50. */
  readonly recentCapacity?: number;
  /** Services tracked at most; idle ones are evicted first. Bounds memory under a flood of hosts. */
  readonly maxServices?: number;
}

export interface RecentEvent {
  readonly time: string; // ISO 8601
  readonly service: string;
  readonly authority: string;
  readonly method: string;
  readonly path: string;
  readonly code: number;
  readonly flags: string;
  readonly details: string;
  readonly protocol: 'http' | 'tcp';
}

export interface ServiceSummary {
  readonly service: string;
  readonly namespace: string;
  /** HTTP requests completed in the window. */
  readonly requests: number;
  readonly rps: number;
  /** Non-5xx / total over HTTP requests in the window (Istio's success definition); null when none. */
  readonly successRate: number | null;
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p99Ms: number | null;
  /** Open tunnels right now; null when the data plane does not report tunnel opens. */
  readonly activeTunnels: number | null;
  /** Tunnels (CONNECT / Upgrade) closed in the window, per second. */
  readonly tunnelsPerSec: number;
  readonly denials: number;
}

export interface Summary {
  readonly generatedAt: string;
  readonly windowSeconds: number;
  readonly services: readonly ServiceSummary[];
  readonly recent: readonly RecentEvent[];
}

/** One event loop's window as plain data (`run --concurrency N`), for the primary to add up. */
export interface SummaryState {
  readonly services: readonly (readonly [string, ServiceState])[];
  /** Oldest first. */
  readonly recent: readonly RecentEvent[];
  readonly startSec: number | undefined;
  readonly opensReported: boolean;
}

const GAMMA = 1.1;
const LOG_GAMMA = Math.log(GAMMA);
const ZERO = -1_000_000; // sketch index for durations under 0.1 ms (in practice: 0 ms)

export interface Bucket {
  sec: number;
  requests: number;
  failures: number; // 5xx
  denials: number;
  tunnels: number;
  sketch: Map<number, number>;
}

export interface ServiceState {
  namespace: string;
  ring: (Bucket | undefined)[];
  lastSec: number;
  active: number;
}

/** Sketch index of a duration: values in (γ^(i-1), γ^i] share index i. */
export function sketchIndex(ms: number): number {
  return ms < 0.1 ? ZERO : Math.ceil(Math.log(ms) / LOG_GAMMA);
}

/** Representative value of an index: the midpoint (in relative terms) of its range. */
export function sketchValue(i: number): number {
  return i === ZERO ? 0 : (2 * GAMMA ** i) / (GAMMA + 1);
}

/** True for what an operator wants to see in "recent denials and errors". */
export function isNotable(r: RequestRecord): boolean {
  return r.responseFlags !== '-' || r.responseCode === 0 || r.responseCode >= 400;
}

export class ServiceSummaries {
  readonly #window: number;
  readonly #recentCap: number;
  readonly #maxServices: number;
  readonly #services = new Map<string, ServiceState>();
  readonly #recent: RecentEvent[] = [];
  #recentNext = 0;
  #startSec: number | undefined;
  #opensReported = false;
  readonly #open = new WeakSet<RequestRecord>();

  constructor(o: SummaryOptions = {}) {
    this.#window = o.windowSec ?? 60;
    this.#recentCap = o.recentCapacity ?? 50;
    this.#maxServices = o.maxServices ?? 1000;
  }

  /** A tunnel (protocolKind 'tcp') began (needs a data-plane hook); its close arrives later through record(). */
  tunnelOpened(r: RequestRecord): void {
    this.#opensReported = true;
    this.#open.add(r);
    this.#state(r, Math.floor(r.startTime / 1000)).active++;
  }

  record(r: RequestRecord): void {
    const endMs = r.startTime + r.durationMs;
    const sec = Math.floor(endMs / 1000);
    this.#startSec ??= Math.floor(r.startTime / 1000);
    const s = this.#state(r, sec);
    const b = this.#bucket(s, sec);
    if (r.protocolKind === 'tcp') {
      // Hot path: only tunnels are ever in #open, so HTTP requests skip the WeakSet lookup.
      if (this.#open.delete(r)) s.active = Math.max(0, s.active - 1);
      b.tunnels++;
    } else {
      b.requests++;
      if (r.responseCode >= 500 || r.responseCode === 0) b.failures++;
      const i = sketchIndex(r.durationMs);
      b.sketch.set(i, (b.sketch.get(i) ?? 0) + 1);
    }
    if (r.responseCode === 403 || r.responseFlags === 'NR' || r.responseFlags === 'UAEX' || r.responseFlags === 'RL') b.denials++;
    if (isNotable(r)) this.#remember(r, endMs);
  }

  snapshot(nowMs: number): Summary {
    const nowSec = Math.floor(nowMs / 1000);
    // Rates divide by the time actually covered, so a fresh process does not read low for a minute.
    const covered = Math.max(1, Math.min(this.#window, nowSec - (this.#startSec ?? nowSec) + 1));
    const services: ServiceSummary[] = [];
    for (const [name, s] of this.#services) {
      if (nowSec - s.lastSec >= this.#window && s.active === 0) {
        this.#services.delete(name);
        continue;
      }
      services.push(this.#summarise(name, s, nowSec, covered));
    }
    services.sort((a, b) => a.service.localeCompare(b.service));
    return { generatedAt: new Date(nowMs).toISOString(), windowSeconds: this.#window, services, recent: this.recent() };
  }

  /** The window as plain data (structured-clone safe: Maps and arrays). */
  state(): SummaryState {
    return { services: [...this.#services], recent: this.recent().reverse(), startSec: this.#startSec, opensReported: this.#opensReported };
  }

  /**
   * Adds another loop's window to this one: buckets of the same second add up (sketches too, so
   * percentiles are of all the requests), open tunnels add up, recent events interleave by time.
   */
  absorb(st: SummaryState): void {
    if (st.startSec !== undefined) this.#startSec = Math.min(this.#startSec ?? st.startSec, st.startSec);
    this.#opensReported ||= st.opensReported;
    for (const [name, other] of st.services) {
      let s = this.#services.get(name);
      if (!s) this.#services.set(name, (s = { namespace: other.namespace, ring: new Array(this.#window), lastSec: other.lastSec, active: 0 }));
      s.lastSec = Math.max(s.lastSec, other.lastSec);
      s.active += other.active;
      for (const b of other.ring) {
        const mine = b && s.ring[b.sec % this.#window];
        if (!b || (mine && mine.sec > b.sec)) continue; // a second this window has already left
        const into = this.#bucket(s, b.sec);
        into.requests += b.requests;
        into.failures += b.failures;
        into.denials += b.denials;
        into.tunnels += b.tunnels;
        for (const [i, c] of b.sketch) into.sketch.set(i, (into.sketch.get(i) ?? 0) + c);
      }
    }
    const events = [...this.recent().reverse(), ...st.recent].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    this.#recent.length = 0;
    this.#recentNext = 0;
    for (const e of events.slice(-this.#recentCap)) this.#push(e);
  }

  /** Recent denials and errors, newest first. */
  recent(): RecentEvent[] {
    const n = this.#recent.length;
    const out: RecentEvent[] = [];
    for (let k = 1; k <= n; k++) out.push(this.#recent[(this.#recentNext - k + n) % n]!);
    return out;
  }

  #summarise(name: string, s: ServiceState, nowSec: number, covered: number): ServiceSummary {
    let requests = 0, failures = 0, denials = 0, tunnels = 0;
    const merged = new Map<number, number>();
    for (const b of s.ring) {
      if (!b || b.sec <= nowSec - this.#window || b.sec > nowSec) continue;
      requests += b.requests;
      failures += b.failures;
      denials += b.denials;
      tunnels += b.tunnels;
      for (const [i, c] of b.sketch) merged.set(i, (merged.get(i) ?? 0) + c);
    }
    const q = quantiles(merged, requests, [0.5, 0.9, 0.99]);
    return {
      service: name, namespace: s.namespace, requests, rps: round(requests / covered),
      successRate: requests ? round((requests - failures) / requests, 4) : null,
      p50Ms: q[0]!, p90Ms: q[1]!, p99Ms: q[2]!,
      activeTunnels: this.#opensReported ? s.active : null,
      tunnelsPerSec: round(tunnels / covered), denials,
    };
  }

  #state(r: RequestRecord, sec: number): ServiceState {
    let s = this.#services.get(r.destinationService);
    if (!s) {
      if (this.#services.size >= this.#maxServices) this.#evictOldest();
      s = { namespace: r.destinationServiceNamespace, ring: new Array(this.#window), lastSec: sec, active: 0 };
      this.#services.set(r.destinationService, s);
    }
    if (sec > s.lastSec) s.lastSec = sec;
    return s;
  }

  #bucket(s: ServiceState, sec: number): Bucket {
    const slot = sec % this.#window;
    let b = s.ring[slot];
    if (!b || b.sec !== sec) {
      b = { sec, requests: 0, failures: 0, denials: 0, tunnels: 0, sketch: new Map() };
      s.ring[slot] = b;
    }
    return b;
  }

  #evictOldest(): void {
    let oldest: string | undefined;
    let at = Infinity;
    for (const [name, s] of this.#services) {
      if (s.active === 0 && s.lastSec < at) {
        at = s.lastSec;
        oldest = name;
      }
    }
    if (oldest !== undefined) this.#services.delete(oldest);
  }

  #remember(r: RequestRecord, endMs: number): void {
    const e: RecentEvent = {
      time: new Date(endMs).toISOString(), service: r.destinationService, authority: r.authority.slice(0, 255),
      method: r.method, path: r.path.slice(0, 200), code: r.responseCode, flags: r.responseFlags,
      details: r.responseCodeDetails, protocol: r.protocolKind,
    };
    this.#push(e);
  }

  #push(e: RecentEvent): void {
    if (this.#recent.length < this.#recentCap) this.#recent.push(e);
    else this.#recent[this.#recentNext] = e;
    this.#recentNext = (this.#recentNext + 1) % this.#recentCap;
  }
}

/** Nearest-rank quantiles over a sparse sketch; null when empty. */
export function quantiles(sketch: ReadonlyMap<number, number>, total: number, qs: readonly number[]): (number | null)[] {
  if (total === 0) return qs.map(() => null);
  const idx = [...sketch.keys()].sort((a, b) => a - b);
  return qs.map((q) => {
    const rank = Math.max(1, Math.ceil(q * total));
    let seen = 0;
    for (const i of idx) {
      seen += sketch.get(i)!;
      if (seen >= rank) return round(sketchValue(i), 2);
    }
    return round(sketchValue(idx[idx.length - 1]!), 2);
  });
}

function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
