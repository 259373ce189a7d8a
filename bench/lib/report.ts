// Turns phase measurements into the comparisons and PASS/FAIL verdicts the bench exists for, and
// renders them as markdown. Pure: no I/O.
import type { LoadResult } from './load.ts';

export type TargetName = 'direct' | 'baseline' | 'egressway';
export type Phase = 'saturation' | 'paced';

export interface PhaseResult {
  readonly target: TargetName;
  readonly phase: Phase;
  readonly load: LoadResult;
  /** Requests the upstream served in the phase window, counted by the upstream itself. */
  readonly upstreamServed: number;
  /** The upstream's count agrees with what the client saw (see `reconcile`). */
  readonly verified: boolean;
  /** Proxy CPU (user + system) per 1000 requests the upstream served; absent for `direct`. */
  readonly proxyCpuSPer1k?: number;
  readonly upstreamCpuSPer1k: number;
  /** Proxy VmHWM at the end of the phase (it only grows). */
  readonly proxyPeakRssMiB?: number;
  /** Share of the machine's CPU taken by processes outside the bench during the phase. */
  readonly otherCpuShare: number;
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
export function trustworthy(results: readonly PhaseResult[]): boolean {
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

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function opt(x: number | undefined, digits: number): string {
  return x === undefined ? '—' : x.toFixed(digits);
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function resultsTable(results: readonly PhaseResult[]): string[] {
  const lines = [
    row(['target', 'phase', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'proxy CPU-s / 1k req', 'proxy peak RSS MiB',
      'upstream served']),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---']),
  ];
  for (const x of results) {
    const served = `${x.upstreamServed} ${x.verified ? '(matches)' : '(MISMATCH)'}`;
    lines.push(row([x.target, x.phase, x.load.rps.toFixed(0), x.load.p50Ms.toFixed(2), x.load.p99Ms.toFixed(2),
      String(x.load.errors), opt(x.proxyCpuSPer1k, 3), opt(x.proxyPeakRssMiB, 0), served]));
  }
  return lines;
}

function verdict(c: Check): string {
  return `${c.pass ? 'PASS' : 'FAIL'}${c.quiet ? '' : ' (unreliable: other load)'}`;
}

function noiseWarnings(results: readonly PhaseResult[]): string[] {
  const noisy = results.filter((x) => x.otherCpuShare > OTHER_CPU_WARN);
  if (noisy.length === 0) return [];
  return [
    '',
    ...noisy.map((x) => `WARNING: ${x.target} ${x.phase}: ${pct(x.otherCpuShare)} of the machine's CPU went to `
      + 'processes outside the bench'),
    'Those numbers are distorted; rerun when the machine is quiet.',
  ];
}

export function markdown(results: readonly PhaseResult[], r: Ratios, cs: readonly Check[]): string {
  return [
    ...resultsTable(results),
    ...noiseWarnings(results),
    '',
    `egressway / baseline req/s at saturation: ${pct(r.saturationShareOfBaseline)}`,
    `added p99 vs direct at the paced rate: egressway ${r.addedP99MsVsDirect.toFixed(2)} ms, `
      + `baseline ${r.baselineAddedP99MsVsDirect.toFixed(2)} ms`,
    '',
    row(['goal', 'measured', 'target', 'verdict']),
    row(['---', '---:', '---:', '---']),
    ...cs.map((c) => row([c.name, c.measured, c.goal, verdict(c)])),
  ].join('\n');
}
