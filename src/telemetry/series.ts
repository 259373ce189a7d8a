// Labeled counters and histograms for the per-request Istio metrics, with their own Prometheus text
// exposition. Hand-written because prom-client validates and hashes every label on every
// observation, even through a bound child: with Istio's 25 labels and four metrics per request
// that was 13% of the proxy's CPU at saturation (bench/, --cpu-prof). Here a series is found
// once per label tuple and an observation is an array increment.

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelString(names: readonly string[], values: readonly string[]): string {
  let s = '';
  for (let i = 0; i < names.length; i++) s += `${i ? ',' : ''}${names[i]}="${escapeLabel(values[i] ?? '')}"`;
  return s;
}

export interface CounterSeries {
  inc(n?: number): void;
}

export interface HistogramSeries {
  observe(v: number): void;
}

/**
 * A family's series as plain data, so `run --concurrency N` can move them between threads and add
 * them up: a counter's value, or a histogram's per-bucket counts (not cumulative), sum and count.
 */
export interface FamilyState {
  readonly kind: 'counter' | 'histogram';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly bounds?: readonly number[];
  /** [rendered label string, value] in first-seen order. */
  readonly series: readonly (readonly [string, number | HistogramState])[];
}

export interface HistogramState {
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

abstract class Family<S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly all = new Map<string, S>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  /** The series for these label values (in labelNames order), created on first use. */
  series(values: readonly string[]): S {
    const labels = labelString(this.labelNames, values);
    let s = this.all.get(labels);
    if (!s) this.all.set(labels, (s = this.create()));
    return s;
  }

  protected abstract create(): S;
  abstract render(): string;
  abstract state(): FamilyState;
  /** Adds another family's series (same name, labels and buckets) to this one's. */
  abstract absorb(s: FamilyState): void;

  protected seriesByLabels(labels: string): S {
    let s = this.all.get(labels);
    if (!s) this.all.set(labels, (s = this.create()));
    return s;
  }
}

class CounterValue implements CounterSeries {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
}

export class CounterFamily extends Family<CounterValue> {
  protected create(): CounterValue {
    return new CounterValue();
  }

  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    for (const [labels, s] of this.all) out += `${this.name}{${labels}} ${s.value}\n`;
    return out;
  }

  state(): FamilyState {
    return { kind: 'counter', name: this.name, help: this.help, labelNames: this.labelNames, series: [...this.all].map(([l, s]) => [l, s.value] as const) };
  }

  absorb(st: FamilyState): void {
    for (const [labels, v] of st.series) this.seriesByLabels(labels).inc(v as number);
  }
}

class HistogramValue implements HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  readonly #bounds: readonly number[];

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.#bounds;
    // Linear scan: 19 bounds and most observations land in the first few.
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

export class HistogramFamily extends Family<HistogramValue> {
  readonly #bounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]) {
    super(name, help, labelNames);
    this.#bounds = bounds;
  }

  protected create(): HistogramValue {
    return new HistogramValue(this.#bounds);
  }

  render(): string {
    const n = this.name;
    let out = `# HELP ${n} ${this.help}\n# TYPE ${n} histogram\n`;
    for (const [labels, s] of this.all) {
      let cum = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cum += s.counts[i]!;
        out += `${n}_bucket{${labels},le="${this.#bounds[i]}"} ${cum}\n`;
      }
      out += `${n}_bucket{${labels},le="+Inf"} ${s.count}\n${n}_sum{${labels}} ${s.sum}\n${n}_count{${labels}} ${s.count}\n`;
    }
    return out;
  }

  state(): FamilyState {
    return {
      kind: 'histogram', name: this.name, help: this.help, labelNames: this.labelNames, bounds: this.#bounds,
      series: [...this.all].map(([l, s]) => [l, { counts: [...s.counts], sum: s.sum, count: s.count }] as const),
    };
  }

  absorb(st: FamilyState): void {
    for (const [labels, v] of st.series) {
      const h = v as HistogramState;
      const s = this.seriesByLabels(labels);
      for (let i = 0; i < h.counts.length; i++) s.counts[i]! += h.counts[i]!;
      s.sum += h.sum;
      s.count += h.count;
    }
  }
}

/** An empty family shaped like `s`, to absorb several workers' states into. */
export function familyLike(s: FamilyState): CounterFamily | HistogramFamily {
  return s.kind === 'counter' ? new CounterFamily(s.name, s.help, s.labelNames) : new HistogramFamily(s.name, s.help, s.labelNames, s.bounds ?? []);
}
