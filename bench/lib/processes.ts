// Child processes of the bench. Every server and every load generator runs in its own process so
// that /proc can tell their CPU apart and none shares an event loop with another. All of them are
// tracked here so that an interrupted bench leaves nothing running.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Server {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** The `listeners` object of the server's `listening` log line, e.g. {proxy: '127.0.0.1:PORT'}. */
  readonly listeners: Record<string, string>;
}

const live = new Map<number, ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  if (child.pid === undefined) throw new Error(`could not start ${child.spawnfile}`);
  live.set(child.pid, child);
  child.once('exit', () => live.delete(child.pid!));
  return child;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Reads a server's log so far; returns its listeners once it is ready, else undefined. */
export type ReadyParser = (log: string) => Record<string, string> | undefined;

/** The log's JSON lines, parsed; lines that are not JSON objects are skipped. */
export function jsonLines(log: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch { /* not JSON after all; keep looking */ }
  }
  return out;
}

/**
 * Finds the first JSON log line whose msg starts with `listening` and that carries a `listeners`
 * object. The bare word also matches Egressway versions that log `"msg":"listening"`.
 */
export function findListeners(log: string): Record<string, string> | undefined {
  for (const j of jsonLines(log)) {
    if (typeof j.msg === 'string' && /^listening\b/.test(j.msg) && j.listeners) return j.listeners as Record<string, string>;
  }
  return undefined;
}

function tail(file: string, lines = 15): string {
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Starts `node <args>` with stdout and stderr going to `<logDir>/<name>.log`, and waits until
 * `ready` finds its listeners in the log (by default, a `listening` line). A file rather than a
 * pipe: a pipe the bench stopped reading would stall the server once full, and reading it would
 * spend bench CPU during the measurement.
 */
export async function startServer(
  name: string, args: string[], logDir: string, ready: ReadyParser = findListeners, timeoutMs = 20_000, env: NodeJS.ProcessEnv = {},
): Promise<Server> {
  const logFile = join(logDir, `${name}.log`);
  const fd = openSync(logFile, 'w');
  const child = track(spawn(process.execPath, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } }));
  closeSync(fd);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited(child)) throw new Error(`${name} exited during startup; ${logFile} ends with:\n${tail(logFile)}`);
    const listeners = ready(readFileSync(logFile, 'utf8'));
    if (listeners) return { name, pid: child.pid!, logFile, listeners };
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not report its listeners within ${timeoutMs} ms; see ${logFile}`);
}

/** Runs a load generator to completion and returns its stdout; kills it at the deadline. */
export async function runToCompletion(cmd: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<string> {
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s; });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s; });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.once('close', (c, s) => r([c, s])));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${err.trim() || out.trim()}`);
  return out;
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(pid: number, graceMs = 7_000): Promise<void> {
  const child = live.get(pid);
  if (!child || exited(child)) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live.keys()].map((pid) => stopProcess(pid)));
}

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** utime + stime of the whole process (all threads: GC and libuv workers count too), in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may contain spaces and parentheses: count from the last ')'. After it come
  // field 3 (state) onwards, so utime (14) and stime (15) are at 11 and 12.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** `pid` and every live process below it (node:cluster workers), from /proc. */
export function processTree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* gone meanwhile */ }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [child, ppid] of parent) if (ppid === out[i]) out.push(child);
  return out;
}

/** cpuSeconds of a process and its live descendants: a cluster's primary and workers together. */
export function treeCpuSeconds(pid: number): number {
  let sum = 0;
  for (const p of processTree(pid)) {
    try {
      sum += cpuSeconds(p);
    } catch { /* exited between the listing and the read */ }
  }
  return sum;
}

/** CPU seconds of every bench server still running (generators are sampled once reaped, below). */
function liveChildrenCpuSeconds(): number {
  let sum = 0;
  for (const pid of live.keys()) sum += cpuSeconds(pid);
  return sum;
}

/**
 * This process plus its reaped children (cutime, cstime: fields 16 and 17), in seconds. A load
 * generator's CPU shows up here once it has exited and Node has waited for it.
 */
function selfAndReapedCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/**
 * Busy CPU seconds of the whole machine, all cores: everything in /proc/stat but idle and iowait.
 * irq and softirq are in: a process's system time already includes the softirq work done on its
 * behalf in its own context, and leaving them out undercounts the machine against its processes.
 * Loopback softirq work done in ksoftirqd is charged to no bench process, so under saturation a few
 * percent of the bench's own networking reads as other load.
 */
function machineBusyCpuSeconds(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / CLK_TCK;
}

export interface MachineSample {
  readonly wallS: number;
  readonly busyS: number;
  readonly benchS: number;
}

/** Take one before and one after a phase, while no load generator is running. */
export function sampleMachine(): MachineSample {
  const benchS = selfAndReapedCpuSeconds() + liveChildrenCpuSeconds();
  return { wallS: performance.now() / 1000, busyS: machineBusyCpuSeconds(), benchS };
}

/**
 * Share of the machine's CPU capacity that went to anything but the bench between two samples:
 * other processes, the kernel on their behalf, or the hypervisor (steal). On a 2-core machine any
 * of it comes straight out of the proxy's budget.
 */
export function otherCpuShare(a: MachineSample, b: MachineSample, cores: number): number {
  const other = (b.busyS - a.busyS) - (b.benchS - a.benchS);
  return Math.max(0, other / ((b.wallS - a.wallS) * cores));
}

/**
 * Sum of VmHWM over a process and its live descendants, in MiB: the peak of a one-process server,
 * and an upper bound for a cluster (each process's own peak, which need not coincide).
 */
export function treePeakRssMiB(pid: number): number {
  let sum = 0;
  for (const p of processTree(pid)) {
    try {
      sum += peakRssMiB(p);
    } catch { /* exited */ }
  }
  return sum;
}

/** VmHWM: the peak resident set size since the process started, in MiB. */
export function peakRssMiB(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}
