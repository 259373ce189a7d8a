// Turns phase measurements into the comparisons and PASS/FAIL verdicts the bench exists for, and
// renders them as markdown. Pure: no I/O.
import type { LoadResult } from './load.ts';
import type { Measurement } from './measure.ts';

export type TargetName = 'direct' | 'baseline' | 'egressway';
export type Phase = 'saturation' | 'paced';

/** What every measured phase reports, whatever the bench. */
export interface PhaseCore {
  readonly phase: Phase;
  readonly load: LoadResult;
  /** Requests the upstream served in the phase window, counted by the upstream itself. */
  readonly upstreamServed: number;
  /** The upstream's count agrees with what the client saw (see `reconcile`). */
  readonly verified: boolean;
  /** Upstream CPU (user + system) per 1000 requests it served. */
  readonly upstreamCpuSPer1k: number;
  /** Share of the machine's CPU taken by processes outside the bench during the phase. */
  readonly otherCpuShare: number;
}

export interface PhaseResult extends PhaseCore {
  readonly target: TargetName;
  /** Proxy CPU (user + system) per 1000 requests the upstream served; absent for `direct`. */
  readonly proxyCpuSPer1k?: number;
  /** Proxy VmHWM at the end of the phase (it only grows). */
  readonly proxyPeakRssMiB?: number;
}

/**
 * Above this, other work on the machine distorts the phase enough to say so. Not lower: the
 * measure itself reads a few percent at saturation on a quiet machine (see machineBusyCpuSeconds).
 */
export const OTHER_CPU_WARN = 0.1;

export interface Goals {
  /** Egressway req/s at saturation as a share of the baseline's. */
  readonly minSaturationShare: number;
  /** At the paced rate. */
  readonly maxCpuSPer1k: number;
  /** Egressway p99 minus direct p99 at the paced rate. */
  readonly maxAddedP99Ms: number;
}

export const GOALS: Goals = { minSaturationShare: 0.85, maxCpuSPer1k: 0.15, maxAddedP99Ms: 2 };

export interface Check {
  readonly name: string;
  readonly measured: string;
  readonly goal: string;
  readonly pass: boolean;
  /** False when a phase this check reads had other load on the machine (OTHER_CPU_WARN). */
  readonly quiet: boolean;
}

export interface Ratios {
  readonly saturationShareOfBaseline: number;
  readonly addedP99MsVsDirect: number;
  readonly baselineAddedP99MsVsDirect: number;
}

/**
 * Every 2xx the client saw must have been served by the upstream, so `served` is at least the
 * client's 2xx count. It may exceed it only by requests whose answer the client never counted:
 * errors, and at most `inflight` requests cut off when the generator stopped.
 */
export function reconcile(load: LoadResult, served: number, inflight: number): boolean {
  const expected = load.ok + load.warmupOk;
  return load.ok > 0 && served >= expected && served <= expected + load.errors + inflight;
}

/** Whether the run's numbers can be trusted at all: nothing failed and every count reconciled. */
export function trustworthy(results: readonly PhaseCore[]): boolean {
  return results.every((x) => x.verified && x.load.errors === 0);
}

function find(results: readonly PhaseResult[], target: TargetName, phase: Phase): PhaseResult {
  const r = results.find((x) => x.target === target && x.phase === phase);
  if (!r) throw new Error(`no ${target} ${phase} result`);
  return r;
}

export function ratios(results: readonly PhaseResult[]): Ratios {
  const directP99 = find(results, 'direct', 'paced').load.p99Ms;
  const saturated = (t: TargetName): number => find(results, t, 'saturation').load.rps;
  return {
    saturationShareOfBaseline: saturated('egressway') / saturated('baseline'),
    addedP99MsVsDirect: find(results, 'egressway', 'paced').load.p99Ms - directP99,
    baselineAddedP99MsVsDirect: find(results, 'baseline', 'paced').load.p99Ms - directP99,
  };
}

export function checks(results: readonly PhaseResult[], r: Ratios, rate: number, goals = GOALS): Check[] {
  const egwPaced = find(results, 'egressway', 'paced');
  const cpu = egwPaced.proxyCpuSPer1k ?? NaN;
  const clean = trustworthy(results);
  const quietDuring = (...phases: PhaseResult[]): boolean => phases.every((x) => x.otherCpuShare <= OTHER_CPU_WARN);
  const sat = quietDuring(find(results, 'egressway', 'saturation'), find(results, 'baseline', 'saturation'));
  const p99 = quietDuring(egwPaced, find(results, 'direct', 'paced'));
  const check = (name: string, measured: string, goal: string, pass: boolean, quiet: boolean): Check =>
    ({ name, measured, goal, pass, quiet });
  return [
    check('saturation req/s vs baseline', pct(r.saturationShareOfBaseline), `>= ${pct(goals.minSaturationShare)}`,
      r.saturationShareOfBaseline >= goals.minSaturationShare, sat),
    check(`CPU-s per 1000 req at ${rate} rps`, cpu.toFixed(3), `<= ${goals.maxCpuSPer1k}`,
      cpu <= goals.maxCpuSPer1k, quietDuring(egwPaced)),
    check(`added p99 vs direct at ${rate} rps`, `${r.addedP99MsVsDirect.toFixed(2)} ms`, `<= ${goals.maxAddedP99Ms} ms`,
      r.addedP99MsVsDirect <= goals.maxAddedP99Ms, p99),
    // Counting is exact whatever else runs on the machine.
    check('no errors; upstream counts match', clean ? 'yes' : 'no', 'yes', clean, true),
  ];
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

export function opt(x: number | undefined, digits: number): string {
  return x === undefined ? '—' : x.toFixed(digits);
}

export function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** A markdown table; a header ending in `:` (the colon is dropped) is right-aligned. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [
    row(headers.map((h) => h.replace(/:$/, ''))),
    row(headers.map((h) => (h.endsWith(':') ? '---:' : '---'))),
    ...rows.map(row),
  ];
}

/** `(matches)` when the upstream's count reconciled with the client's, else `(MISMATCH)`. */
export function servedCell(served: number, verified: boolean): string {
  return `${served} ${verified ? '(matches)' : '(MISMATCH)'}`;
}

function resultsTable(results: readonly PhaseResult[]): string[] {
  return table(
    ['target', 'phase', 'req/s:', 'p50 ms:', 'p99 ms:', 'errors:', 'proxy CPU-s / 1k req:', 'proxy peak RSS MiB:', 'upstream served'],
    results.map((x) => [x.target, x.phase, x.load.rps.toFixed(0), x.load.p50Ms.toFixed(2), x.load.p99Ms.toFixed(2),
      String(x.load.errors), opt(x.proxyCpuSPer1k, 3), opt(x.proxyPeakRssMiB, 0), servedCell(x.upstreamServed, x.verified)]),
  );
}

export function verdict(c: Check): string {
  return `${c.pass ? 'PASS' : 'FAIL'}${c.quiet ? '' : ' (unreliable: other load)'}`;
}

/** Warning lines for every labelled phase during which other work took over OTHER_CPU_WARN of the machine. */
export function noiseWarnings(phases: readonly { readonly label: string; readonly otherCpuShare: number }[]): string[] {
  const noisy = phases.filter((x) => x.otherCpuShare > OTHER_CPU_WARN);
  if (noisy.length === 0) return [];
  return [
    '',
    ...noisy.map((x) => `WARNING: ${x.label}: ${pct(x.otherCpuShare)} of the machine's CPU went to processes outside the bench`),
    'Those numbers are distorted; rerun when the machine is quiet.',
  ];
}

/** The goal table under a bench's results. */
export function checksTable(cs: readonly Check[]): string[] {
  return table(['goal', 'measured:', 'target:', 'verdict'], cs.map((c) => [c.name, c.measured, c.goal, verdict(c)]));
}

export function markdown(results: readonly PhaseResult[], r: Ratios, cs: readonly Check[]): string {
  return [
    ...resultsTable(results),
    ...noiseWarnings(results.map((x) => ({ label: `${x.target} ${x.phase}`, otherCpuShare: x.otherCpuShare }))),
    '',
    `egressway / baseline req/s at saturation: ${pct(r.saturationShareOfBaseline)}`,
    `added p99 vs direct at the paced rate: egressway ${r.addedP99MsVsDirect.toFixed(2)} ms, `
      + `baseline ${r.baselineAddedP99MsVsDirect.toFixed(2)} ms`,
    '',
    ...checksTable(cs),
  ].join('\n');
}

/** One configuration a bench compares (a policy count, a path, an upstream), measured in both phases. */
export interface VariantResult {
  readonly variant: string;
  readonly saturation: Measurement;
  readonly paced: Measurement;
}

function phasesOf(results: readonly VariantResult[]): { variant: string; m: Measurement }[] {
  return results.flatMap((r) => [{ variant: r.variant, m: r.saturation }, { variant: r.variant, m: r.paced }]);
}

/** Every variant, both phases; CPU and peak RSS columns for each watched process in `watched`. */
export function variantTable(results: readonly VariantResult[], watched: readonly string[]): string[] {
  return table(
    ['variant', 'phase', 'req/s:', 'p50 ms:', 'p99 ms:', 'errors:', ...watched.map((w) => `${w} CPU-s / 1k req:`),
      ...watched.map((w) => `${w} peak RSS MiB:`), 'upstream CPU-s / 1k req:', 'upstream served'],
    phasesOf(results).map(({ variant, m }) => [
      variant, m.phase, m.load.rps.toFixed(0), m.load.p50Ms.toFixed(2), m.load.p99Ms.toFixed(2), String(m.load.errors),
      ...watched.map((w) => opt(m.cpuSPer1k[w], 3)), ...watched.map((w) => opt(m.peakRssMiB[w], 0)),
      m.upstreamCpuSPer1k.toFixed(3), servedCell(m.upstreamServed, m.verified),
    ]),
  );
}

/** noiseWarnings for every variant's phases, and for any `extra` labelled measurement (a micro-benchmark). */
export function variantNoise(
  results: readonly VariantResult[], extra: readonly { readonly label: string; readonly otherCpuShare: number }[] = [],
): string[] {
  return noiseWarnings([
    ...phasesOf(results).map(({ variant, m }) => ({ label: `${variant} ${m.phase}`, otherCpuShare: m.otherCpuShare })), ...extra,
  ]);
}

export function variantsTrustworthy(results: readonly VariantResult[]): boolean {
  return trustworthy(phasesOf(results).map((x) => x.m));
}

/** Whether every given phase ran on a quiet machine. */
export function quiet(...phases: readonly PhaseCore[]): boolean {
  return phases.every((x) => x.otherCpuShare <= OTHER_CPU_WARN);
}

/** The counting check every bench ends with; exact whatever else runs on the machine. */
export function countingCheck(results: readonly VariantResult[]): Check {
  const clean = variantsTrustworthy(results);
  return { name: 'no errors; upstream counts match', measured: clean ? 'yes' : 'no', goal: 'yes', pass: clean, quiet: true };
}

/** A difference with its sign: `+0.12`, `-0.50`. */
export function delta(x: number, digits: number): string {
  return `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;
}

/** `a / b` as `1.23×`. */
export function times(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}

export interface VariantReport {
  /** Lines above the tables (what was measured). */
  readonly intro?: readonly string[];
  /** The bench's own table: one row per variant with the numbers it exists for. */
  readonly summary: readonly string[];
  readonly results: readonly VariantResult[];
  /** Watched processes to show CPU and RSS for in the detail table. */
  readonly watched: readonly string[];
  /** Other labelled measurements to warn about (a micro-benchmark). */
  readonly extraNoise?: readonly { readonly label: string; readonly otherCpuShare: number }[];
  /** Comparison lines between the tables and the goals. */
  readonly comparisons: readonly string[];
  readonly checks: readonly Check[];
}

/** A variant bench's markdown: intro, summary table, every phase in detail, noise warnings, comparisons, goals. */
export function variantMarkdown(r: VariantReport): string {
  return [
    ...(r.intro ? [...r.intro, ''] : []),
    ...r.summary,
    '',
    ...variantTable(r.results, r.watched),
    ...variantNoise(r.results, r.extraNoise),
    '',
    ...r.comparisons,
    '',
    ...checksTable(r.checks),
  ].join('\n');
}
