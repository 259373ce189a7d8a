// Runs the real `egressway controller` CLI as a child process and learns its metrics port from the
// "controller started" line (every port is 0, so test files can run in parallel).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { LogCollector, type LogLine, type LogPredicate } from './log-lines.ts';
import { REPO_ROOT } from './waypoint.ts';

export interface ControllerProcess {
  readonly child: ChildProcess;
  readonly logs: LogCollector;
  /** http://127.0.0.1:<port> of /healthz/ready and /metrics. */
  readonly url: string;
  waitForLog(p: LogPredicate, timeoutMs?: number): Promise<LogLine>;
  /** A metric's value (summed over its series matching `labels`), 0 when absent. */
  metric(name: string, labels?: string): Promise<number>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export async function startControllerProcess(args: readonly string[], timeoutMs = 60_000, env: Readonly<Record<string, string>> = {}): Promise<ControllerProcess> {
  const child = spawn(join(REPO_ROOT, 'node_modules/.bin/node'), [join(REPO_ROOT, 'src/cli/main.ts'), 'controller', '--metrics-port', '0', '--metrics-address', '127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  live.add(child);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr = (stderr + c).slice(-8000)));
  const logs = new LogCollector(child.stdout!);
  const exited = new Promise<void>((r) => child.once('exit', () => {
    live.delete(child);
    logs.end(new Error(`controller exited (${child.exitCode ?? child.signalCode}): ${stderr.slice(-2000)}`));
    r();
  }));
  const describe = () => `stderr: ${stderr.slice(-2000)}\nlast logs: ${logs.lines.slice(-15).map((l) => JSON.stringify(l)).join('\n')}`;
  const waitForLog = (p: LogPredicate, ms = 30_000) => logs.waitFor(p, ms, describe);
  // A controller that never starts must not outlive the failed test (it would keep this process alive).
  const started = await waitForLog((l) => l.msg === 'controller started', timeoutMs).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  const url = String(started.metrics).replace(/\/metrics$/, '');
  return {
    child, logs, url, waitForLog,
    async metric(name, labels = '') {
      const text = await (await fetch(`${url}/metrics`)).text();
      return text.split('\n').filter((l) => l.startsWith(name) && (l[name.length] === ' ' || l[name.length] === '{') && l.includes(labels))
        .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
