// Two checkouts' HBONE paths loaded AT THE SAME TIME, in rounds: for each checkout its own
// certificates, waypoint and agent (one upstream for both), and per round one paced client per
// checkout at `--rate`, in parallel, so both see the same share of a shared, noisy machine (as
// head-to-head.ts does for saturation). Reports per round and as medians the waypoint's and the
// agent's CPU-s per 1000 requests (/proc, the whole round, lead-in included) and p99, then the
// median of the per-round ratios this / other. `--path plain` loads the waypoints' proxy listeners
// instead (the plain proxy path, to show shared code did not get slower).
//
//   node bench/hbone-ab.ts --against /work/main [--rounds 5] [--duration 10] [--warmup 2] [--rate 1000]
//                          [--size 1024] [--path hbone|plain] [--node-options FLAGS] [--egressway-root DIR]
//
// --node-options sets NODE_OPTIONS for this side's waypoint and agent only (to try a V8 flag against
// the same code: pass this checkout as --against too).
import { join } from 'node:path';
import os from 'node:os';
import {
  cliPath, GATEWAY_YAML, HOST, NAMESPACE, serviceEntryYaml, sizeQuery, startAgent, startUpstream, startWaypoint, WAYPOINT,
  writeConfig,
} from './lib/egressway.ts';
import { runPaced, type LoadResult } from './lib/load.ts';
import { upstreamCounts } from './lib/measure.ts';
import { runToCompletion, treeCpuSeconds, type Server } from './lib/processes.ts';
import { beginRun, finishRun, intOption, main, parseOptions, type CommonOptions } from './lib/run.ts';

interface Side {
  readonly label: string;
  readonly waypoint: Server;
  readonly agent: Server;
}

interface Cell {
  readonly waypoint: number;
  readonly agent: number;
  readonly p99Ms: number;
  readonly ok: number;
  readonly errors: number;
}

async function startSide(o: CommonOptions, root: string, label: string, runDir: string, configDir: string, nodeOptions = ''): Promise<Side> {
  const oo = { ...o, egresswayRoot: root };
  const saved = process.env.NODE_OPTIONS;
  // The servers inherit the bench's environment (processes.ts): set it around their start only.
  if (nodeOptions) process.env.NODE_OPTIONS = `${saved ?? ''} ${nodeOptions}`.trim();
  try {
    return await startSideWith(oo, label, runDir, configDir);
  } finally {
    if (nodeOptions) {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
    }
  }
}

async function startSideWith(oo: CommonOptions, label: string, runDir: string, configDir: string): Promise<Side> {
  const dir = join(runDir, `pki-${label}`);
  const certs = (...args: string[]): Promise<string> => runToCompletion(process.execPath, [cliPath(oo), 'certs', ...args], 30_000);
  await certs('init', '--trust-domain', 'cluster.local', '--out', dir);
  await certs('issue', '--ca', dir, '--ns', 'bench', '--sa', 'client', '--out', dir);
  await certs('issue', '--ca', dir, '--waypoint', `${NAMESPACE}/${WAYPOINT}`, '--out', dir);
  const waypoint = await startWaypoint(oo, runDir, configDir, `waypoint-${label}`, [
    '--hbone-port', '0', '--hbone-cert', join(dir, `${WAYPOINT}.crt`), '--hbone-key', join(dir, `${WAYPOINT}.key`), '--trust-bundle', join(dir, 'ca.pem'),
  ]);
  if (!waypoint.listeners.hbone) throw new Error(`${label}: the waypoint reported no HBONE listener; see ${waypoint.logFile}`);
  const agent = await startAgent(oo, runDir, configDir, [
    '--cert', join(dir, 'client.crt'), '--key', join(dir, 'client.key'), '--trust-bundle', join(dir, 'ca.pem'),
    '--waypoint-address', waypoint.listeners.hbone, '--workload', 'bench-client',
  ]);
  return { label, waypoint, agent };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

main('hbone-ab', async () => {
  const { common: o, values } = parseOptions({
    against: { type: 'string' }, rounds: { type: 'string', default: '5' }, size: { type: 'string', default: '1024' },
    path: { type: 'string', default: 'hbone' }, 'node-options': { type: 'string', default: '' },
  });
  if (!values.against) throw new Error('--against DIR is required (the checkout to compare with, e.g. /work/main)');
  const path = values.path;
  if (path !== 'hbone' && path !== 'plain') throw new Error(`--path must be hbone or plain, got "${path}"`);
  const rounds = intOption('rounds', values.rounds!, 1);
  const size = intOption('size', values.size!, 0);
  const run = await beginRun();
  const upstream = await startUpstream(run.runDir);
  const port = upstream.listeners.http!.split(':')[1]!;
  const configDir = writeConfig(run.runDir, 'config', GATEWAY_YAML + serviceEntryYaml({ name: 'bench-upstream', host: HOST, port }));
  const sides = [await startSide(o, o.egresswayRoot, 'this', run.runDir, configDir, values['node-options']), await startSide(o, values.against, 'other', run.runDir, configDir)];
  const target = { requestTarget: `http://${HOST}:${port}/${sizeQuery(size)}`, hostHeader: `${HOST}:${port}`, connections: o.connections };
  const connect = (s: Side) => (path === 'hbone' ? s.agent.listeners.http! : s.waypoint.listeners.proxy!);
  const load = (s: Side, seconds: number, leadIn: number): Promise<LoadResult> => runPaced({ ...target, connect: connect(s), seconds }, o.rate, leadIn);
  process.stderr.write(`warm-up: ${o.warmupSeconds}s at ${o.rate} rps on each side\n`);
  await Promise.all(sides.map((s) => load(s, Math.max(1, o.warmupSeconds), 0)));
  const rows: { round: number; load1: number; cells: Cell[] }[] = [];
  for (let r = 1; r <= rounds; r++) {
    process.stderr.write(`round ${r}/${rounds}: ${o.seconds}s at ${o.rate} rps on each side, in parallel\n`);
    const cpu0 = sides.map((s) => [treeCpuSeconds(s.waypoint.pid), treeCpuSeconds(s.agent.pid)] as const);
    const c0 = (await upstreamCounts(upstream)).requests;
    const loads = await Promise.all(sides.map((s) => load(s, o.seconds, 0)));
    const cpu1 = sides.map((s) => [treeCpuSeconds(s.waypoint.pid), treeCpuSeconds(s.agent.pid)] as const);
    const served = (await upstreamCounts(upstream)).requests - c0;
    // The upstream counts both sides together; each side's own 2xx count is its share.
    const cells = loads.map((l, i): Cell => ({
      waypoint: ((cpu1[i]![0] - cpu0[i]![0]) / l.ok) * 1000, agent: ((cpu1[i]![1] - cpu0[i]![1]) / l.ok) * 1000,
      p99Ms: l.p99Ms, ok: l.ok, errors: l.errors,
    }));
    if (served < cells[0]!.ok + cells[1]!.ok) throw new Error(`round ${r}: the upstream served ${served}, the clients saw ${cells[0]!.ok + cells[1]!.ok} answers`);
    rows.push({ round: r, load1: os.loadavg()[0]!, cells });
  }
  const col = (i: number, k: keyof Cell) => rows.map((r) => r.cells[i]![k]);
  const ratio = (k: 'waypoint' | 'agent') => median(rows.map((r) => r.cells[0]![k] / r.cells[1]![k]));
  const errors = rows.reduce((n, r) => n + r.cells[0]!.errors + r.cells[1]!.errors, 0);
  const text = [
    `${path} path, ${size}-byte responses, ${o.rate} rps per side for ${o.seconds}s per round; this = ${o.egresswayRoot}${values['node-options'] ? ` with NODE_OPTIONS=${values['node-options']}` : ''}, other = ${values.against}`,
    '',
    '| round | load avg 1m | this: waypoint CPU-s/1k | other: waypoint | this: agent CPU-s/1k | other: agent | this: p99 ms | other: p99 ms |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.round} | ${r.load1.toFixed(2)} | ${r.cells[0]!.waypoint.toFixed(3)} | ${r.cells[1]!.waypoint.toFixed(3)} | `
      + `${r.cells[0]!.agent.toFixed(3)} | ${r.cells[1]!.agent.toFixed(3)} | ${r.cells[0]!.p99Ms.toFixed(2)} | ${r.cells[1]!.p99Ms.toFixed(2)} |`),
    `| median | | ${median(col(0, 'waypoint')).toFixed(3)} | ${median(col(1, 'waypoint')).toFixed(3)} | ${median(col(0, 'agent')).toFixed(3)} | `
      + `${median(col(1, 'agent')).toFixed(3)} | ${median(col(0, 'p99Ms')).toFixed(2)} | ${median(col(1, 'p99Ms')).toFixed(2)} |`,
    '',
    `median of per-round ratios this / other: waypoint ${ratio('waypoint').toFixed(3)}×${path === 'hbone' ? `, agent ${ratio('agent').toFixed(3)}×` : ''}`,
    `errors: ${errors}`,
  ].join('\n');
  finishRun(`hbone-ab-${path}`, run, o, text, { rounds: rows, against: values.against, path, size }, errors === 0);
});
