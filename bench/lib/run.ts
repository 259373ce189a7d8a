// What every bench script does around its measurements: the common flags, a run directory for logs
// and generated config, the quiet-machine check before anything starts, stopping every child on exit
// or interrupt, and the JSON results file with the facts needed to compare runs later.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { PhaseOptions } from './measure.ts';
import { otherCpuShare, sampleMachine, stopAll } from './processes.ts';
import { OTHER_CPU_WARN } from './report.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface CommonOptions extends PhaseOptions {
  readonly accessLog: 'off' | 'json';
  /**
   * `egressway run --concurrency`, passed as EGRESSWAY_CONCURRENCY so that a checkout from before
   * the flag (--egressway-root) still starts. Default 1: the figures stay comparable with older runs.
   */
  readonly concurrency: number;
  /** Checkout whose src/ is benchmarked: lets one harness measure another commit. */
  readonly egresswayRoot: string;
}

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

const COMMON: OptionSpec = {
  duration: { type: 'string', default: '10' }, warmup: { type: 'string', default: '2' },
  connections: { type: 'string', default: '50' }, rate: { type: 'string', default: '1000' },
  'access-log': { type: 'string', default: 'off' }, 'egressway-root': { type: 'string', default: REPO },
  concurrency: { type: 'string', default: '1' },
};

export function intOption(name: string, s: string, min: number): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${s}"`);
  return n;
}

/**
 * Parses the common flags (--duration, --warmup, --connections, --rate, --access-log,
 * --egressway-root) plus a script's own; returns the common ones typed and the rest as strings.
 */
export function parseOptions(extra: OptionSpec = {}): { common: CommonOptions; values: Record<string, string | undefined> } {
  const { values } = parseArgs({ options: { ...COMMON, ...extra } });
  const v = values as Record<string, string | undefined>;
  const accessLog = v['access-log'];
  if (accessLog !== 'off' && accessLog !== 'json') throw new Error(`--access-log must be off or json, got "${accessLog}"`);
  return {
    common: {
      seconds: intOption('duration', v.duration!, 1), warmupSeconds: intOption('warmup', v.warmup!, 0),
      connections: intOption('connections', v.connections!, 1), rate: intOption('rate', v.rate!, 1),
      accessLog, egresswayRoot: resolve(v['egressway-root']!), concurrency: intOption('concurrency', v.concurrency!, 1),
    },
    values: v,
  };
}

/** An optional integer flag (`--size`): undefined when absent. */
export function optionalInt(values: Record<string, string | undefined>, name: string, min: number): number | undefined {
  const v = values[name];
  return v === undefined ? undefined : intOption(name, v, min);
}

export function gitState(dir: string): { commit: string; dirty: boolean } {
  try {
    const git = (...args: string[]): string =>
      execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git('rev-parse', 'HEAD');
    const dirty = git('status', '--porcelain') !== '';
    return { commit, dirty };
  } catch {
    return { commit: 'none', dirty: true };
  }
}

/** One second with nothing of ours running: how busy is the machine before we start? */
async function preflightOtherCpuShare(): Promise<number> {
  const a = sampleMachine();
  await sleep(1000);
  const share = otherCpuShare(a, sampleMachine(), os.cpus().length);
  if (share > OTHER_CPU_WARN) {
    process.stderr.write(`WARNING: other processes already use ${(share * 100).toFixed(0)}% of the machine's CPU; `
      + 'the results will be distorted\n');
  }
  return share;
}

export interface BenchRun {
  readonly stamp: string;
  /** `.bench/run-<stamp>/`: server logs, generated config and certificates. */
  readonly runDir: string;
  readonly idleOtherCpuShare: number;
}

/** Creates the run directory, stops every child on SIGINT/SIGTERM, and checks the machine is quiet. */
export async function beginRun(): Promise<BenchRun> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = join(REPO, '.bench', `run-${stamp}`);
  mkdirSync(runDir, { recursive: true });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stopAll().then(() => process.exit(130)));
  process.stderr.write(`${os.cpus().length} CPUs shared by load generator, proxies and upstream; logs in ${runDir}\n`);
  return { stamp, runDir, idleOtherCpuShare: await preflightOtherCpuShare() };
}

/**
 * Writes `.bench/<name>-<stamp>.json` with the run's environment (Egressway and harness commits, Node,
 * CPUs, the idle check) ahead of `body`, and returns its path.
 */
export function writeReport(name: string, run: BenchRun, o: CommonOptions, body: Record<string, unknown>): string {
  const file = join(REPO, '.bench', `${name}-${run.stamp}.json`);
  const report = {
    startedAt: run.stamp,
    egressway: { root: o.egresswayRoot, ...gitState(o.egresswayRoot) }, harness: gitState(REPO),
    node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, idleOtherCpuShare: run.idleOtherCpuShare,
    options: o, ...body, logs: run.runDir,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

/**
 * Prints the bench's markdown, writes its JSON report and says where. Exit code 1 when the numbers
 * cannot be trusted (errors, unmatched counts); a missed performance goal is a finding, not a failure.
 */
export function finishRun(
  name: string, run: BenchRun, o: CommonOptions, text: string, body: Record<string, unknown>, trusted: boolean,
): void {
  process.stdout.write(`${text}\n`);
  process.stdout.write(`\nwrote ${writeReport(name, run, o, body)}\n`);
  if (!trusted) process.exitCode = 1;
}

/** Runs a bench's main: children are stopped whatever happens, and a failure sets exit code 1. */
export function main(name: string, fn: () => Promise<void>): void {
  fn().finally(() => stopAll()).catch((err: Error) => {
    process.stderr.write(`${name}: ${err.message}\n`);
    process.exitCode = 1;
  });
}
