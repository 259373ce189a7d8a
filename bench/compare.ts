// Puts several proxy-bench results side by side, one row per run plus a median row per Egressway
// checkout and commit, so that A/B runs of two commits read as two groups.
//
//   node_modules/.bin/node bench/compare.ts .bench/results-*.json
import { readFileSync } from 'node:fs';
import type { PhaseResult, Ratios } from './lib/report.ts';

interface Report {
  readonly startedAt: string;
  readonly egressway: { readonly root: string; readonly commit: string; readonly dirty: boolean };
  readonly options: { readonly accessLog: string; readonly seconds: number; readonly rate: number };
  readonly results: readonly PhaseResult[];
  readonly ratios: Ratios;
}

interface Row {
  readonly satRps: number;
  readonly satShare: number;
  readonly pacedP99Ms: number;
  readonly addedP99Ms: number;
  readonly cpuSPer1k: number;
  readonly peakRssMiB: number;
}

const COLUMNS: readonly (keyof Row)[] = ['satRps', 'satShare', 'pacedP99Ms', 'addedP99Ms', 'cpuSPer1k', 'peakRssMiB'];
const DIGITS: Record<keyof Row, number> = { satRps: 0, satShare: 3, pacedP99Ms: 2, addedP99Ms: 2, cpuSPer1k: 3, peakRssMiB: 0 };

function rowOf(r: Report): Row {
  const egw = (phase: string): PhaseResult => r.results.find((x) => x.target === 'egressway' && x.phase === phase)!;
  return {
    satRps: egw('saturation').load.rps, satShare: r.ratios.saturationShareOfBaseline,
    pacedP99Ms: egw('paced').load.p99Ms, addedP99Ms: r.ratios.addedP99MsVsDirect,
    cpuSPer1k: egw('paced').proxyCpuSPer1k ?? NaN, peakRssMiB: egw('paced').proxyPeakRssMiB ?? NaN,
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function line(label: string, row: Row): string {
  return `| ${label} | ${COLUMNS.map((c) => row[c].toFixed(DIGITS[c])).join(' | ')} |`;
}

function main(files: readonly string[]): void {
  if (files.length === 0) throw new Error('usage: node bench/compare.ts .bench/results-*.json');
  const groups = new Map<string, Row[]>();
  console.log(`| run | ${COLUMNS.join(' | ')} |`);
  console.log(`| --- |${' ---: |'.repeat(COLUMNS.length)}`);
  for (const file of files) {
    const r = JSON.parse(readFileSync(file, 'utf8')) as Report;
    const key = `${r.egressway.root} @ ${r.egressway.commit.slice(0, 10)}${r.egressway.dirty ? '+dirty' : ''}`
      + ` (access log ${r.options.accessLog}, ${r.options.seconds}s, ${r.options.rate} rps)`;
    const row = rowOf(r);
    groups.set(key, [...(groups.get(key) ?? []), row]);
    console.log(line(`${r.startedAt} ${key}`, row));
  }
  for (const [key, rows] of groups) {
    const med = Object.fromEntries(COLUMNS.map((c) => [c, median(rows.map((x) => x[c]))])) as unknown as Row;
    console.log(line(`**median of ${rows.length}** ${key}`, med));
  }
}

main(process.argv.slice(2));
