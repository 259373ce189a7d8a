// Where the HBONE path's CPU goes: the agent and the waypoint of hbone-bench.ts, each run with
// `--cpu-prof`, under the paced load only (no saturation phase), then each profile's samples inside
// the measured window summed by self time per function and per area (TLS, HTTP/2, HTTP/1.1 parser,
// Egressway's own code, undici, GC, ...). The CPU-s per 1000 requests from /proc come from the same
// window, so the profile's shares can be read as CPU-s per 1000 requests.
//
//   node bench/hbone-profile.ts [--duration 10] [--warmup 2] [--rate 1000] [--size 1024] [--top 25]
//                               [--interval-us 250] [--perf] [--node-options FLAGS] [--egressway-root DIR]
//
// --perf samples with Linux perf instead (on-CPU time of every thread, kernel and native code
// included; needs `perf`); --node-options adds V8/Node flags to the waypoint (e.g. --trace-deopt,
// whose lines land in the run directory's waypoint.log).
//
// Profiling costs CPU itself (a sample every --interval-us), so the /proc figures are a few percent
// above hbone-bench's; compare the profile's shares, and take the absolute figures from hbone-bench.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cliPath, GATEWAY_YAML, HOST, NAMESPACE, serviceEntryYaml, sizeQuery, startUpstream, WAYPOINT, writeConfig,
} from './lib/egressway.ts';
import { runPaced } from './lib/load.ts';
import { jsonLines, runToCompletion, startServer, stopProcess, treeCpuSeconds, type Server } from './lib/processes.ts';
import { upstreamCounts } from './lib/measure.ts';
import { beginRun, intOption, main, parseOptions, type CommonOptions } from './lib/run.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** An area of the stack, by the script a function belongs to. First match wins. */
const AREAS: [string, (url: string, fn: string) => boolean][] = [
  ['gc', (_u, f) => f === '(garbage collector)'],
  ['idle', (_u, f) => f === '(idle)'],
  ['native (program)', (_u, f) => f === '(program)'],
  ['tls', (u) => /node:(_tls|tls|internal\/tls)/.test(u)],
  ['http2', (u) => u.includes('node:internal/http2')],
  ['http1 server', (u) => /node:(_http_server|_http_common|_http_incoming|_http_outgoing)/.test(u)],
  ['net/stream', (u) => /node:(net|internal\/stream_base_commons|internal\/streams|stream)/.test(u)],
  ['timers', (u) => u.includes('node:internal/timers') || u.includes('node:timers')],
  ['events/ticks', (u) => /node:(events|internal\/process\/task_queues|internal\/async_hooks)/.test(u)],
  ['undici', (u) => u.includes('/undici/')],
  ['prom-client', (u) => u.includes('/prom-client/')],
  ['egressway telemetry', (u) => u.includes('/src/telemetry/')],
  ['egressway hbone', (u) => u.includes('/src/hbone/')],
  ['egressway agent', (u) => u.includes('/src/agent/')],
  ['egressway dataplane', (u) => u.includes('/src/dataplane/')],
  ['egressway other', (u) => u.includes('/src/')],
  ['node other', (u) => u.startsWith('node:')],
  ['other', () => true],
];

interface Summary {
  readonly sampledMs: number;
  readonly busyMs: number;
  readonly areas: Map<string, number>;
  readonly functions: Map<string, number>;
  /** Native functions (writev, writeLatin1String...) by their two JS callers: who pays for the syscall. */
  readonly natives: Map<string, number>;
}

/** Self time inside [fromUs, toUs] (the profile clock is CLOCK_MONOTONIC in µs, as process.hrtime). */
function summarize(p: CpuProfile, fromUs: number, toUs: number): Summary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const natives = new Map<string, number>();
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let t = p.startTime;
  let sampledMs = 0;
  let busyMs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    if (t < fromUs || t > toUs) continue;
    // A sample's weight is the time to the next one (the last one gets the previous delta).
    const ms = (p.timeDeltas[i + 1] ?? p.timeDeltas[i]!) / 1000;
    const n = byId.get(p.samples[i]!)!;
    const { functionName, url } = n.callFrame;
    const fn = functionName || '(anonymous)';
    const area = AREAS.find(([, m]) => m(url, fn))![0];
    sampledMs += ms;
    if (area !== 'idle') busyMs += ms;
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const key = frame(n);
    functions.set(key, (functions.get(key) ?? 0) + ms);
    if (url === '' && !fn.startsWith('(')) {
      const p1 = parent.get(n.id);
      const p2 = p1 && parent.get(p1.id);
      const k = [n, p1, p2].filter((x) => x !== undefined).map((x) => frame(x)).join(' <- ');
      natives.set(k, (natives.get(k) ?? 0) + ms);
    }
  }
  return { sampledMs, busyMs, areas, functions, natives };
}

function frame(n: ProfileNode): string {
  const { functionName, url, lineNumber } = n.callFrame;
  const fn = (functionName || '(anonymous)').slice(0, 60);
  return url ? `${fn} ${url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${lineNumber + 1}` : fn;
}

function render(name: string, s: Summary, requests: number, cpuS: number, top: number): string {
  const per1k = (ms: number): string => ((ms / 1000 / requests) * 1000).toFixed(4);
  const lines = [
    `## ${name}: ${((cpuS / requests) * 1000).toFixed(3)} CPU-s / 1k req from /proc (all threads); `
      + `main thread busy in the profile: ${per1k(s.busyMs)} CPU-s / 1k req`,
    '', '| area | self ms | CPU-s / 1k req | share of busy |', '| --- | ---: | ---: | ---: |',
  ];
  for (const [a, ms] of [...s.areas].sort((x, y) => y[1] - x[1])) {
    if (a === 'idle') continue;
    lines.push(`| ${a} | ${ms.toFixed(0)} | ${per1k(ms)} | ${((ms / s.busyMs) * 100).toFixed(1)}% |`);
  }
  lines.push('', `| top ${top} functions (self) | ms | share of busy |`, '| --- | ---: | ---: |');
  for (const [f, ms] of [...s.functions].sort((x, y) => y[1] - x[1]).filter(([f]) => !f.startsWith('(idle)')).slice(0, top)) {
    lines.push(`| \`${f}\` | ${ms.toFixed(0)} | ${((ms / s.busyMs) * 100).toFixed(1)}% |`);
  }
  lines.push('', '| native functions by caller | ms | share of busy |', '| --- | ---: | ---: |');
  for (const [f, ms] of [...s.natives].sort((x, y) => y[1] - x[1]).slice(0, 10)) {
    lines.push(`| \`${f}\` | ${ms.toFixed(0)} | ${((ms / s.busyMs) * 100).toFixed(1)}% |`);
  }
  return lines.join('\n');
}

function agentListeners(log: string): Record<string, string> | undefined {
  const line = jsonLines(log).find((j) => typeof j.http === 'string' && typeof j.socks === 'string');
  return line ? { http: line.http as string, socks: line.socks as string } : undefined;
}

function profileEnv(dir: string, intervalUs: number, perf: boolean): NodeJS.ProcessEnv {
  mkdirSync(dir, { recursive: true });
  // perf: Linux's own sampler (on-CPU time only, kernel included); JIT code named by /tmp/perf-PID.map.
  if (perf) return { NODE_OPTIONS: '--perf-basic-prof-only-functions --interpreted-frames-native-stack' };
  return { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir} --cpu-prof-interval=${intervalUs}` };
}

/** `--node-options` (e.g. --trace-deopt) added to the waypoint's NODE_OPTIONS; its output goes to waypoint.log. */
function withOptions(env: NodeJS.ProcessEnv, extra: string): NodeJS.ProcessEnv {
  return extra ? { ...env, NODE_OPTIONS: `${env.NODE_OPTIONS} ${extra}` } : env;
}

function readProfile(dir: string): CpuProfile {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length !== 1) throw new Error(`expected one .cpuprofile in ${dir}, found ${files.length}`);
  return JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as CpuProfile;
}

main('hbone-profile', async () => {
  const { common, values } = parseOptions({
    size: { type: 'string', default: '1024' }, top: { type: 'string', default: '25' },
    'interval-us': { type: 'string', default: '250' }, perf: { type: 'boolean', default: false },
    'node-options': { type: 'string', default: '' },
  });
  const extraNodeOptions = values['node-options']!;
  const perf = values.perf as unknown as boolean;
  const o: CommonOptions = common;
  const size = intOption('size', values.size!, 0);
  const top = intOption('top', values.top!, 1);
  const intervalUs = intOption('interval-us', values['interval-us']!, 50);
  const run = await beginRun();
  const dir = join(run.runDir, 'pki');
  const certs = (...args: string[]): Promise<string> => runToCompletion(process.execPath, [cliPath(o), 'certs', ...args], 30_000);
  await certs('init', '--trust-domain', 'cluster.local', '--out', dir);
  await certs('issue', '--ca', dir, '--ns', 'bench', '--sa', 'client', '--out', dir);
  await certs('issue', '--ca', dir, '--waypoint', `${NAMESPACE}/${WAYPOINT}`, '--out', dir);
  const upstream = await startUpstream(run.runDir);
  const port = upstream.listeners.http!.split(':')[1]!;
  const configDir = writeConfig(run.runDir, 'config', GATEWAY_YAML + serviceEntryYaml({ name: 'bench-upstream', host: HOST, port }));
  const profDir = (n: string) => join(run.runDir, `prof-${n}`);
  const waypoint: Server = await startServer('waypoint', [
    cliPath(o), 'run', '--config', configDir, '--proxy-port', '0', '--admin-port', '0', '--status-port', '0', '--stats-port', '0',
    '--access-log', o.accessLog, '--hbone-port', '0', '--hbone-cert', join(dir, `${WAYPOINT}.crt`), '--hbone-key', join(dir, `${WAYPOINT}.key`),
    '--trust-bundle', join(dir, 'ca.pem'),
  ], run.runDir, undefined, 60_000, { EGRESSWAY_CONCURRENCY: '1', ...withOptions(profileEnv(profDir('waypoint'), intervalUs, perf), extraNodeOptions) });
  const agent: Server = await startServer('agent', [
    cliPath(o), 'agent', '--config', configDir, '--http-port', '0', '--socks-port', '0',
    '--cert', join(dir, 'client.crt'), '--key', join(dir, 'client.key'), '--trust-bundle', join(dir, 'ca.pem'),
    '--waypoint-address', waypoint.listeners.hbone!, '--workload', 'bench-client',
  ], run.runDir, agentListeners, 20_000, profileEnv(profDir('agent'), intervalUs, perf));
  const spec = { connect: agent.listeners.http!, requestTarget: `http://${HOST}:${port}/${sizeQuery(size)}`, hostHeader: `${HOST}:${port}`, connections: o.connections };
  process.stderr.write(`warm-up: ${o.warmupSeconds}s at ${o.rate} rps\n`);
  if (o.warmupSeconds > 0) await runPaced({ ...spec, seconds: o.warmupSeconds }, o.rate, 0);
  const c0 = await upstreamCounts(upstream);
  const cpu0 = [treeCpuSeconds(agent.pid), treeCpuSeconds(waypoint.pid)];
  const from = Number(process.hrtime.bigint() / 1000n);
  process.stderr.write(`profiled: ${o.seconds}s at ${o.rate} rps\n`);
  const recorders = !perf ? [] : ([['waypoint', waypoint.pid], ['agent', agent.pid]] as const).map(([n, pid]) =>
    spawn('perf', ['record', '-q', '-F', '4000', '-e', 'cpu-clock', '-g', '-p', String(pid), '-o', join(profDir(n), 'perf.data')], { stdio: 'ignore' }));
  const load = await runPaced({ ...spec, seconds: o.seconds }, o.rate, 0);
  await Promise.all(recorders.map((p) => new Promise<void>((r) => { p.once('exit', () => r()); p.kill('SIGINT'); })));
  const to = Number(process.hrtime.bigint() / 1000n);
  const cpu1 = [treeCpuSeconds(agent.pid), treeCpuSeconds(waypoint.pid)];
  const served = (await upstreamCounts(upstream)).requests - c0.requests;
  await stopProcess(agent.pid);
  await stopProcess(waypoint.pid);
  if (perf) {
    for (const n of ['waypoint', 'agent']) {
      const data = join(profDir(n), 'perf.data');
      const report = (...args: string[]) => execFileSync('perf', ['report', '-i', data, '--no-children', '--stdio', '-g', 'none', '--percent-limit', '0.7', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
      process.stdout.write(`## ${n} (perf, on-CPU samples; ${served} requests, ${(((n === 'agent' ? cpu1[0]! - cpu0[0]! : cpu1[1]! - cpu0[1]!) / served) * 1000).toFixed(3)} CPU-s / 1k req from /proc)\n${report('--sort', 'dso')}\n${report('--sort', 'sym')}\n`);
    }
    return;
  }
  const out = [`${size}-byte responses, ${o.rate} rps for ${o.seconds}s: ${served} requests served, ${load.errors} errors, p99 ${load.p99Ms.toFixed(2)} ms`, ''];
  out.push(render('waypoint', summarize(readProfile(profDir('waypoint')), from, to), served, cpu1[1]! - cpu0[1]!, top), '');
  out.push(render('agent', summarize(readProfile(profDir('agent')), from, to), served, cpu1[0]! - cpu0[0]!, top));
  process.stdout.write(`${out.join('\n')}\n\nprofiles: ${profDir('waypoint')}, ${profDir('agent')}\n`);
});
