// Runs the real CLI (`egressway run`) as a child process, the way an operator does, and learns its
// ports from the log line it prints once every listener is bound:
//   {"msg":"listening","listeners":{"proxy":"127.0.0.1:PORT","admin":"127.0.0.1:PORT",...}}
// Every port is 0 on the command line, so tests can run in parallel without colliding.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostPort, withTimeout } from './lifecycle.ts';
import type { Closable } from './lifecycle.ts';
import { LogCollector } from './log-lines.ts';
import type { LogLine, LogPredicate } from './log-lines.ts';

export type { LogLine, LogPredicate } from './log-lines.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// The pinned Node 24 (the system one is too old to strip types). It is a symlink to the real binary,
// so signals sent to the child reach Node itself, not a wrapper script.
const PINNED_NODE = join(REPO_ROOT, 'node_modules/.bin/node');
const STDERR_LIMIT = 64 * 1024;
// Every listener on port 0: the CLI's fixed defaults (15000, 15020, 15021) would collide between test
// files running in parallel. A later flag wins in commander, so `args` can still pin one.
const EPHEMERAL_PORTS = ['--proxy-port', '0', '--admin-port', '0', '--status-port', '0', '--stats-port', '0'];

// Children still alive when the test process exits (a test forgot close(), or crashed) are killed, so no
// waypoint outlives its suite holding ports.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAtExit(child: ChildProcess): void {
  liveChildren.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of liveChildren) c.kill('SIGKILL');
  });
}

export interface WaypointOptions {
  /** Config folder for `--config`; empty with `--kubernetes` in args. */
  configDir: string;
  /** Extra CLI arguments after `run --config <dir> --proxy-port 0 --admin-port 0 ...` (all four ports). */
  args?: readonly string[];
  env?: Readonly<Record<string, string>>;
  /** How long to wait for the listening line. Default 15 s: a cold start compiles TypeScript. */
  startTimeoutMs?: number;
  /** Script to run, relative to the repo root. Self-tests point this at a stand-in CLI. */
  entry?: string;
}

export interface ListenerAddress {
  host: string;
  port: number;
  /** host:port, bracketed for IPv6. */
  authority: string;
  /** 'http://' + authority, e.g. for `fetchVia(waypoint.listeners.proxy.url, ...)`. */
  url: string;
}

export interface Waypoint extends Closable {
  readonly pid: number;
  /** Every listener named in the listening line, by name: proxy, admin, status, stats... */
  readonly listeners: Readonly<Record<string, ListenerAddress>>;
  /** Shorthand for listeners.proxy.url. */
  readonly proxyUrl: string;
  /** Every stdout line so far, parsed. */
  readonly logs: readonly LogLine[];
  /** stderr so far (the last 64 KiB). */
  readonly stderr: string;
  /** Exit code once exited (128 + signal number for a signal), else null. */
  readonly exitCode: number | null;
  waitForLog(predicate: LogPredicate, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code when the process exits by itself. */
  waitForExit(timeoutMs?: number): Promise<number>;
  /** Sends `signal` and resolves with the exit code; SIGKILLs after `timeoutMs` (then 137). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number>;
}

/** Spawns the CLI and resolves once it reports its listeners; rejects with its stderr otherwise. */
export async function startWaypoint(opts: WaypointOptions): Promise<Waypoint> {
  const proc = new CliProcess(spawnCli(opts));
  const isListening: LogPredicate = (line) => line.msg === 'listening' && typeof line.listeners === 'object';
  let ready: LogLine;
  try {
    ready = await proc.logs.waitFor(isListening, opts.startTimeoutMs ?? 15_000, () => proc.describe());
  } catch (err) {
    await proc.kill('SIGKILL', 2_000);
    throw new Error(`waypoint did not start: ${(err as Error).message}`, { cause: err });
  }
  const listeners = parseListeners(ready.listeners as Record<string, unknown>);
  return {
    pid: proc.pid,
    listeners,
    proxyUrl: listeners.proxy?.url ?? '',
    logs: proc.logs.lines,
    get stderr() {
      return proc.stderr;
    },
    get exitCode() {
      return proc.exitCode;
    },
    waitForLog: (predicate, ms = 5_000) => proc.logs.waitFor(predicate, ms, () => proc.describe()),
    waitForExit: (ms = 5_000) => withTimeout(proc.exited, ms, () => `waypoint still running after ${ms}ms`),
    stop: (signal = 'SIGTERM', ms = 5_000) => proc.kill(signal, ms),
    close: async () => void (await proc.kill('SIGTERM', 5_000)),
  };
}

function spawnCli(opts: WaypointOptions): ChildProcess {
  const node = existsSync(PINNED_NODE) ? PINNED_NODE : process.execPath;
  const entry = opts.entry ?? 'src/cli/main.ts';
  const args = [entry, 'run', ...(opts.configDir ? ['--config', opts.configDir] : []), ...EPHEMERAL_PORTS, ...(opts.args ?? [])];
  return spawn(node, args, {
    cwd: REPO_ROOT,
    // One event loop unless a test asks for more (`--concurrency N` in args wins): the default, one
    // worker per core, would start two workers per waypoint on the 2-core CI machine.
    // EGRESSWAY_TEST_CONCURRENCY=2 runs every such test against two workers instead.
    env: { ...process.env, EGRESSWAY_CONCURRENCY: process.env.EGRESSWAY_TEST_CONCURRENCY ?? '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A spawned CLI: its parsed stdout, the tail of its stderr, and how and when it ended. */
class CliProcess {
  readonly logs: LogCollector;
  readonly exited: Promise<number>;
  #child: ChildProcess;
  #stderr = '';
  #exitCode: number | null = null;

  constructor(child: ChildProcess) {
    this.#child = child;
    this.logs = new LogCollector(child.stdout!);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-STDERR_LIMIT);
    });
    // A spawn failure (e.g. missing binary) also ends in 'close'; without a listener it would throw.
    child.once('error', (err) => void (this.#stderr += `\nspawn error: ${err.message}`));
    // 'close', not 'exit': it fires after stdout is drained, so no log line is lost to a race.
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => resolve(this.#onClose(code, signal))));
    killAtExit(child);
    // Unreferenced so that a test which forgets close() still lets its process exit (killAtExit then
    // ends the child). Every wait in this file holds a timer, which keeps the loop alive meanwhile.
    child.unref();
    (child.stdout as Socket).unref();
    (child.stderr as Socket).unref();
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  get stderr(): string {
    return this.#stderr;
  }

  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** Sends `signal`, then SIGKILL if the process is still there after `graceMs`. */
  async kill(signal: NodeJS.Signals, graceMs: number): Promise<number> {
    if (this.#exitCode !== null) return this.#exitCode;
    this.#child.kill(signal);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The evidence for an error message: stderr and the last stdout lines. */
  describe(): string {
    const stdout = this.logs.lines.slice(-20).map((line) => JSON.stringify(line)).join('\n');
    return `--- stderr ---\n${this.#stderr || '(empty)'}\n--- stdout (last 20 lines) ---\n${stdout || '(empty)'}`;
  }

  #onClose(code: number | null, signal: NodeJS.Signals | null): number {
    // Shell convention, so a signal death reads as one number: SIGKILL is 137.
    this.#exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
    this.logs.end(new Error(`waypoint exited with code ${this.#exitCode}\n${this.describe()}`));
    liveChildren.delete(this.#child);
    return this.#exitCode;
  }
}

/** Accepts 'host:port', '[v6]:port', a bare port number or {host|address, port}; skips anything else. */
export function parseListeners(raw: Record<string, unknown>): Record<string, ListenerAddress> {
  const listeners: Record<string, ListenerAddress> = {};
  for (const [name, value] of Object.entries(raw)) {
    const parsed = parseAddress(value);
    if (parsed) listeners[name] = toListener(parsed.host, parsed.port);
  }
  return listeners;
}

function parseAddress(value: unknown): { host: string; port: number } | null {
  if (typeof value === 'number') return { host: '127.0.0.1', port: value };
  if (typeof value === 'string') {
    const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(value);
    return match ? { host: match[1], port: Number(match[2]) } : null;
  }
  if (value !== null && typeof value === 'object') {
    const { host, address, port } = value as { host?: unknown; address?: unknown; port?: unknown };
    const name = typeof host === 'string' ? host : typeof address === 'string' ? address : '127.0.0.1';
    return typeof port === 'number' ? { host: name, port } : null;
  }
  return null;
}

// A wildcard bind is reachable on loopback, and loopback is the only address tests may target.
function toListener(host: string, port: number): ListenerAddress {
  const reachable = host === '' || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const authority = hostPort(reachable, port);
  return { host: reachable, port, authority, url: `http://${authority}` };
}
