// Issue 16's footprint rows, each next to its anchor measured in the same run, in rounds (anchor and
// Egressway alternate, so drift on a shared machine hits both), reported as medians:
//
//   idle        RSS of `egressway run --config examples/quickstart` idle after start-up (as `npm start`
//               runs it: bin/egressway.js), against an idle `node` and the bare undici forwarder
//   cli         `egressway --version` and one `egressway check` (hyperfine), against `node -e 0`
//   saturation  peak RSS and p99.9 at saturation (wrk), fresh processes per round, against the forwarder
//   hbone       waypoint CPU-s per 1000 requests on the HBONE path at --rate (bench/hbone-bench.ts)
//
//   node bench/footprint.ts [--only idle,cli,saturation,hbone] [--rounds 3] [--idle-seconds 5]
//                           [--dist] [--duration 10] [--warmup 2] [--connections 50] [--rate 1000]
//                           [--egressway-root DIR] [--node-options '--max-semi-space-size=8']
//
// --dist also measures the compiled package (`tsc -p tsconfig.build.json` into .bench/dist/), which is
// what an installed egressway runs. Writes .bench/footprint-<stamp>.json. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliPath, GATEWAY_YAML, HOST, serviceEntryYaml, startUpstream, writeConfig } from './lib/egressway.ts';
import { runWrk, type LoadResult } from './lib/load.ts';
import { peakRssMiB, runToCompletion, startServer, stopProcess, type Server } from './lib/processes.ts';
import { table } from './lib/report.ts';
import { beginRun, finishRun, intOption, main, parseOptions, REPO, type CommonOptions } from './lib/run.ts';

const SECTIONS = ['idle', 'cli', 'saturation', 'hbone'] as const;
type Section = (typeof SECTIONS)[number];

interface Options extends CommonOptions {
  readonly only: readonly Section[];
  readonly rounds: number;
  readonly idleSeconds: number;
  readonly dist: boolean;
  /** NODE_OPTIONS for the Egressway processes only (e.g. a V8 flag under trial). */
  readonly nodeOptions: string | undefined;
}

/** One row of the summary: Egressway's median against the anchor's, and the goal. */
interface Row {
  readonly what: string;
  readonly egressway: number;
  readonly anchor: number;
  readonly anchorName: string;
  readonly goal: string;
  readonly pass: boolean;
  readonly unit: string;
  readonly samples: { readonly egressway: readonly number[]; readonly anchor: readonly number[] };
  /** A round ran while other processes took much of the machine (the bench's own quiet check). */
  readonly unreliable?: boolean;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

const say = (s: string): void => { process.stderr.write(`footprint: ${s}\n`); };

// The bench's own .ts scripts (forwarder) get a compile cache of their own, so that they too start
// without Node's TypeScript stripper, as Egressway's launcher does.
const BENCH_CACHE = { NODE_COMPILE_CACHE: join(REPO, '.bench', 'compile-cache') };
const IDLE_NODE = `console.log(JSON.stringify({ msg: 'listening', listeners: {} })); setInterval(() => {}, 1000);`;
const PORTS = ['--proxy-port', '0', '--admin-port', '0', '--status-port', '0', '--stats-port', '0'];

const egwEnv = (o: Options): NodeJS.ProcessEnv | undefined => (o.nodeOptions ? { NODE_OPTIONS: o.nodeOptions } : undefined);

type Starter = (runDir: string, name: string) => Promise<Server>;

/** Starts a process, lets it sit idle for `seconds` after it reported its listeners, reads its RSS. */
async function idleRss(start: Starter, runDir: string, name: string, seconds: number): Promise<number> {
  const s = await start(runDir, name);
  await sleep(seconds * 1000);
  const rss = rssMiB(s.pid);
  await stopProcess(s.pid);
  return rss;
}

function buildDist(o: Options): string {
  const out = join(REPO, '.bench', 'dist');
  rmSync(out, { recursive: true, force: true });
  say('building dist/ (tsc -p tsconfig.build.json) into .bench/dist');
  execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(o.egresswayRoot, 'tsconfig.build.json'), '--outDir', out], { stdio: 'inherit' });
  return join(out, 'cli/main.js');
}

async function idleRows(o: Options, runDir: string): Promise<Row[]> {
  const quickstart = join(o.egresswayRoot, 'examples/quickstart');
  const egw = (entry: string, extra: readonly string[] = []): Starter => (dir, name) => startServer(name, [entry, 'run', '--config', quickstart, ...PORTS, ...extra], dir, undefined, undefined, egwEnv(o));
  const starters: [string, Starter][] = [
    ['node', (dir, name) => startServer(name, ['-e', IDLE_NODE], dir)],
    ['forwarder', (dir, name) => startServer(name, [join(REPO, 'bench/baseline-forwarder.ts')], dir, undefined, undefined, BENCH_CACHE)],
    ['egressway', egw(cliPath(o))],
    // --concurrency defaults to the cores available: each worker is an event loop with its own heap.
    ['egressway --concurrency 1', egw(cliPath(o), ['--concurrency', '1'])],
  ];
  if (o.dist) starters.push(['egressway (dist)', egw(buildDist(o))]);
  // One unmeasured start each fills the compile caches: a user's second start is the steady state.
  for (const [name, start] of starters) await idleRss(start, runDir, `warm-${name.replace(/\W+/g, '-')}`, 0);
  const samples = new Map<string, number[]>(starters.map(([n]) => [n, []]));
  for (let r = 0; r < o.rounds; r++) {
    for (const [name, start] of r % 2 ? [...starters].reverse() : starters) {
      const rss = await idleRss(start, runDir, `idle-${name.replace(/\W+/g, '-')}-${r}`, o.idleSeconds);
      samples.get(name)!.push(rss);
      say(`idle round ${r + 1}: ${name} ${rss.toFixed(1)} MiB`);
    }
  }
  const row = (name: string, anchorName: string): Row => {
    const e = median(samples.get(name)!);
    return { what: `RSS idle, quickstart config (${name})`, egressway: e, anchor: median(samples.get(anchorName)!), anchorName: anchorName === 'node' ? 'idle `node`' : 'bare undici forwarder, idle',
      goal: '<= 70', pass: e <= 70, unit: 'MiB', samples: { egressway: samples.get(name)!, anchor: samples.get(anchorName)! } };
  };
  const rows = [row('egressway', 'node'), row('egressway --concurrency 1', 'node')];
  rows.push({ ...row('egressway', 'forwarder'), what: 'RSS idle, quickstart config (egressway vs forwarder)' });
  if (o.dist) rows.push(row('egressway (dist)', 'node'));
  return rows;
}

interface HyperfineResult { readonly command: string; readonly median: number; readonly times: readonly number[]; readonly user: number; readonly system: number }

async function cliRows(o: Options, runDir: string): Promise<Row[]> {
  const file = join(runDir, 'hyperfine.json');
  const node = process.execPath;
  const cli = cliPath(o);
  const commands = [
    `${node} -e 0`,
    `${node} ${cli} --version`,
    `${node} ${cli} check --config ${join(o.egresswayRoot, 'examples/quickstart')} --from spiffe://cluster.local/ns/default/sa/curl http://httpbin.org/get`,
  ];
  say(`hyperfine, ${Math.max(10, o.rounds * 10)} runs per command`);
  await runToCompletion('hyperfine', ['-N', '--warmup', '3', '--runs', String(Math.max(10, o.rounds * 10)), '--export-json', file, ...commands], 600_000);
  const results = (JSON.parse(readFileSync(file, 'utf8')) as { results: HyperfineResult[] }).results;
  const [anchor, version, check] = results as [HyperfineResult, HyperfineResult, HyperfineResult];
  const row = (what: string, r: HyperfineResult, goal: number): Row => ({
    what, egressway: r.median, anchor: anchor.median, anchorName: '`node -e 0`', goal: `<= ${goal}`, pass: r.median <= goal,
    unit: 's', samples: { egressway: r.times, anchor: anchor.times },
  });
  // CPU time (user + system; hyperfine gives its mean) suffers less than wall time from a busy
  // machine: an info row each.
  const cpu = (r: HyperfineResult): number => r.user + r.system;
  const cpuRow = (what: string, r: HyperfineResult): Row => ({
    what, egressway: cpu(r), anchor: cpu(anchor), anchorName: '`node -e 0`', goal: 'info', pass: true,
    unit: 's', samples: { egressway: [cpu(r)], anchor: [cpu(anchor)] },
  });
  return [
    row('`egressway --version`', version, 0.15), cpuRow('`egressway --version`, CPU (user + system, mean)', version),
    row('`egressway check` (one request)', check, 0.3), cpuRow('`egressway check`, CPU (user + system, mean)', check),
  ];
}

/** A fresh proxy, a wrk warm-up, then one measured saturation phase: the phase's wrk result and VmHWM. */
async function saturate(o: Options, server: Server, target: string, hostHeader: string): Promise<{ load: LoadResult; peakMiB: number }> {
  const spec = { connect: server.listeners.proxy!, requestTarget: target, hostHeader, connections: o.connections };
  if (o.warmupSeconds > 0) await runWrk({ ...spec, seconds: o.warmupSeconds });
  const load = await runWrk({ ...spec, seconds: o.seconds });
  const peakMiB = peakRssMiB(server.pid);
  await stopProcess(server.pid);
  return { load, peakMiB };
}

async function saturationRows(o: Options, runDir: string): Promise<Row[]> {
  const upstream = await startUpstream(runDir);
  const port = upstream.listeners.http!.split(':')[1]!;
  const configDir = writeConfig(runDir, 'config', GATEWAY_YAML + serviceEntryYaml({ name: 'bench-upstream', host: HOST, port }));
  const target = `http://${HOST}:${port}/`;
  const starters: [string, Starter][] = [
    ['forwarder', (dir, name) => startServer(name, [join(REPO, 'bench/baseline-forwarder.ts')], dir, undefined, undefined, BENCH_CACHE)],
    ['egressway', (dir, name) => startServer(name, [cliPath(o), 'run', '--config', configDir, ...PORTS, '--access-log', o.accessLog], dir, undefined, undefined, egwEnv(o))],
  ];
  const s = { forwarder: { peak: [] as number[], p999: [] as number[], rps: [] as number[] }, egressway: { peak: [] as number[], p999: [] as number[], rps: [] as number[] } };
  for (let r = 0; r < o.rounds; r++) {
    for (const [name, start] of r % 2 ? [...starters].reverse() : starters) {
      const { load, peakMiB } = await saturate(o, await start(runDir, `sat-${name}-${r}`), target, `${HOST}:${port}`);
      if (load.errors > 0) throw new Error(`${name}: wrk saw ${load.errors} errors in round ${r + 1}`);
      const x = s[name as 'forwarder' | 'egressway'];
      x.peak.push(peakMiB); x.p999.push(load.p999Ms); x.rps.push(load.rps);
      say(`saturation round ${r + 1}: ${name} ${load.rps.toFixed(0)} req/s, p99.9 ${load.p999Ms.toFixed(2)} ms, peak RSS ${peakMiB.toFixed(0)} MiB`);
    }
  }
  await stopProcess(upstream.pid);
  const peak = median(s.egressway.peak);
  const p999 = median(s.egressway.p999);
  const fwdP999 = median(s.forwarder.p999);
  return [
    { what: 'peak RSS at saturation', egressway: peak, anchor: median(s.forwarder.peak), anchorName: 'bare undici forwarder', goal: '<= 150', pass: peak <= 150, unit: 'MiB', samples: { egressway: s.egressway.peak, anchor: s.forwarder.peak } },
    { what: 'p99.9 at saturation', egressway: p999, anchor: fwdP999, anchorName: 'bare undici forwarder', goal: `<= 1.2x anchor (${(1.2 * fwdP999).toFixed(2)})`, pass: p999 <= 1.2 * fwdP999, unit: 'ms', samples: { egressway: s.egressway.p999, anchor: s.forwarder.p999 } },
    { what: 'req/s at saturation (must not get worse)', egressway: median(s.egressway.rps), anchor: median(s.forwarder.rps), anchorName: 'bare undici forwarder', goal: 'info', pass: true, unit: 'req/s', samples: { egressway: s.egressway.rps, anchor: s.forwarder.rps } },
  ];
}

async function hboneRows(o: Options): Promise<Row[]> {
  const samples: number[] = [];
  let unreliable = false;
  for (let r = 0; r < o.rounds; r++) {
    say(`hbone round ${r + 1}: bench/hbone-bench.ts`);
    const args = [join(REPO, 'bench/hbone-bench.ts'), '--duration', String(o.seconds), '--warmup', String(o.warmupSeconds),
      '--connections', String(o.connections), '--rate', String(o.rate), '--access-log', o.accessLog, '--egressway-root', o.egresswayRoot];
    let out: string;
    try {
      out = await runToCompletion(process.execPath, args, 900_000);
    } catch (err) {
      // hbone-bench exits 1 when its counts do not reconcile (errors, a loaded machine): drop the round.
      say(`hbone round ${r + 1} dropped: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    const file = /^wrote (.+)$/m.exec(out)?.[1];
    if (!file) throw new Error(`hbone-bench printed no report path:\n${out}`);
    const j = JSON.parse(readFileSync(file, 'utf8')) as { results: { variant: string; paced: { cpuSPer1k: Record<string, number> } }[]; checks: { quiet?: boolean }[] };
    samples.push(j.results.find((x) => x.variant === 'hbone')!.paced.cpuSPer1k.waypoint!);
    // The paced CPU per request falls as the machine gets busier (requests wait and are handled
    // several per wake-up): 0.098 to 0.171 for the same code in one session at load 7-10.
    if (j.checks.some((c) => c.quiet === false)) unreliable = true;
    say(`hbone round ${r + 1}: waypoint ${samples.at(-1)!.toFixed(3)} CPU-s / 1k req (${file})`);
  }
  const m = samples.length ? median(samples) : NaN;
  return [{ what: `HBONE path, waypoint CPU-s per 1k req at ${o.rate} rps`, egressway: m, anchor: 0.25, anchorName: 'Istio waypoint (published)', goal: '<= 0.125', pass: m <= 0.125, unit: 'CPU-s/1k', samples: { egressway: samples, anchor: [0.25] }, unreliable }];
}

function markdown(rows: readonly Row[], load: readonly number[]): string {
  const digits = (unit: string): number => (unit === 's' || unit === 'CPU-s/1k' ? 3 : unit === 'ms' ? 2 : unit === 'req/s' ? 0 : 1);
  return [
    `Load average before the run: ${load.map((x) => x.toFixed(2)).join(', ')} (${os.cpus().length} CPUs). Medians over the rounds; every sample is in the JSON.`,
    '',
    ...table(['what', 'egressway', 'anchor', 'anchor is', 'ratio', 'goal', 'verdict'], rows.map((r) => [
      r.what, `${r.egressway.toFixed(digits(r.unit))} ${r.unit}`, `${r.anchor.toFixed(digits(r.unit))} ${r.unit}`, r.anchorName,
      `${(r.egressway / r.anchor).toFixed(2)}x`, r.goal,
      r.goal === 'info' ? '' : `${r.pass ? 'PASS' : 'MISS'}${r.unreliable ? ' (unreliable: other load)' : ''}`,
    ])),
  ].join('\n');
}

main('footprint', async () => {
  const { common, values } = parseOptions({
    only: { type: 'string', default: SECTIONS.join(',') }, rounds: { type: 'string', default: '3' },
    'idle-seconds': { type: 'string', default: '5' }, dist: { type: 'boolean', default: false }, 'node-options': { type: 'string' },
  });
  const only = String(values.only).split(',').map((x) => x.trim());
  for (const x of only) if (!(SECTIONS as readonly string[]).includes(x)) throw new Error(`--only: unknown section "${x}" (one of ${SECTIONS.join(', ')})`);
  const o: Options = {
    ...common, only: only as Section[], rounds: intOption('rounds', values.rounds!, 1),
    idleSeconds: intOption('idle-seconds', values['idle-seconds']!, 0), dist: (values as Record<string, unknown>).dist === true,
    nodeOptions: values['node-options'],
  };
  if (!existsSync(join(o.egresswayRoot, 'examples/quickstart'))) throw new Error(`--egressway-root ${o.egresswayRoot} has no examples/quickstart`);
  const loadAvg = os.loadavg();
  const run = await beginRun();
  const rows: Row[] = [];
  if (o.only.includes('idle')) rows.push(...(await idleRows(o, run.runDir)));
  if (o.only.includes('cli')) rows.push(...(await cliRows(o, run.runDir)));
  if (o.only.includes('saturation')) rows.push(...(await saturationRows(o, run.runDir)));
  if (o.only.includes('hbone')) rows.push(...(await hboneRows(o)));
  finishRun('footprint', run, o, markdown(rows, loadAvg), { loadAverage: loadAvg, loadAverageAfter: os.loadavg(), rows }, true);
});
