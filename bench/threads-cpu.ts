// Per-thread CPU of a server under the paced load: which threads (the primary's loop, each worker's
// loop, V8's platform threads, libuv's pool) spend the CPU per 1000 requests. Targets as in
// bench/concurrency.ts, each in turn, `--rounds` times alternating.
//
//   node bench/threads-cpu.ts [--only egressway-1,egressway-2,fwd-threads-2] [--rounds 3] [--duration 10] [--warmup 3] [--rate 1000]
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { GATEWAY_YAML, HOST, serviceEntryYaml, startUpstream, startWaypoint, writeConfig } from './lib/egressway.ts';
import { runPaced } from './lib/load.ts';
import { CLK_TCK, startServer, stopProcess } from './lib/processes.ts';
import { beginRun, finishRun, intOption, main, parseOptions, REPO } from './lib/run.ts';

/** CPU seconds of every thread of `pid`, keyed by tid, with its name. */
function threads(pid: number): Map<number, { name: string; cpu: number }> {
  const out = new Map<number, { name: string; cpu: number }>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(t), { name, cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK });
    } catch { /* exited */ }
  }
  return out;
}

/** Threads grouped by name (V8's and libuv's pools summed), the JS loops kept apart by tid order. */
function group(pid: number, a: Map<number, { name: string; cpu: number }>, b: Map<number, { name: string; cpu: number }>): Record<string, number> {
  const g: Record<string, number> = {};
  for (const [tid, t] of [...b].sort(([x], [y]) => x - y)) {
    const d = t.cpu - (a.get(tid)?.cpu ?? 0);
    const key = tid === pid ? 'main thread' : t.name.replace(/\d+$/, '').trim();
    g[key] = (g[key] ?? 0) + d;
  }
  return g;
}

main('threads-cpu', async () => {
  const { common: o, values } = parseOptions({ only: { type: 'string', default: 'egressway-1,egressway-2,fwd-threads-2' }, rounds: { type: 'string', default: '3' } });
  const rounds = intOption('rounds', values.rounds!, 1);
  const run = await beginRun();
  const upstream = await startUpstream(run.runDir);
  const port = upstream.listeners.http!.split(':')[1]!;
  const config = writeConfig(run.runDir, 'config', GATEWAY_YAML + serviceEntryYaml({ name: 'bench-upstream', host: HOST, port }));
  const pool = join(REPO, 'bench/lib/forwarder-pool.ts');
  const starters: Record<string, () => Promise<{ pid: number; listeners: Record<string, string> }>> = {
    baseline: () => startServer('baseline', [join(REPO, 'bench/baseline-forwarder.ts')], run.runDir),
    'fwd-threads-2': () => startServer('fwd-threads', [pool, '--mode', 'threads', '--workers', '2'], run.runDir),
    'egressway-1': () => startWaypoint({ ...o, concurrency: 1 }, run.runDir, config, 'egressway-1'),
    'egressway-2': () => startWaypoint({ ...o, concurrency: 2 }, run.runDir, config, 'egressway-2'),
    'egressway-2-no-release': () => startWaypoint({ ...o, concurrency: 2 }, run.runDir, config, 'egressway-2-no-release', ['--no-release-memory']),
    'egressway-1-no-release': () => startWaypoint({ ...o, concurrency: 1 }, run.runDir, config, 'egressway-1-no-release', ['--no-release-memory']),
  };
  const names = values.only!.split(',');
  const load0 = os.loadavg();
  const per: Record<string, Record<string, number[]>> = {};
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 ? [...names].reverse() : names) {
      const s = await starters[name]!();
      const spec = { connect: s.listeners.proxy!, requestTarget: `http://${HOST}:${port}/`, hostHeader: `${HOST}:${port}`, connections: o.connections, seconds: o.warmupSeconds };
      await runPaced(spec, o.rate, 0);
      const a = threads(s.pid);
      const res = await runPaced({ ...spec, seconds: o.seconds }, o.rate, 0);
      const g = group(s.pid, a, threads(s.pid));
      await stopProcess(s.pid);
      const k = res.ok / 1000;
      const total = Object.values(g).reduce((x, y) => x + y, 0);
      process.stderr.write(`round ${r + 1} ${name}: ${(total / k).toFixed(3)} CPU-s/1k; ${Object.entries(g).map(([t, c]) => `${t} ${(c / k).toFixed(3)}`).join(', ')}\n`);
      const p = (per[name] ??= {});
      for (const [t, c] of [...Object.entries(g), ['total', total] as const]) (p[t] ??= []).push(c / k);
    }
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
  const lines = [`CPU-s per 1000 requests at ${o.rate} rps by thread, median of ${rounds} rounds [min-max]; load average ${load0.map((x) => x.toFixed(1)).join(' ')} → ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`, ''];
  for (const [name, p] of Object.entries(per)) {
    lines.push(`${name}: ${Object.entries(p).map(([t, xs]) => `${t} ${med(xs).toFixed(3)} [${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)}]`).join('; ')}`);
  }
  finishRun('threads-cpu', run, o, lines.join('\n'), { per }, true);
});
