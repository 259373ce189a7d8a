// `npm run bench`: what Egressway costs over a zero-feature forwarder and over no proxy at all.
// Starts a loopback upstream, the baseline forwarder and Egressway, then for each target (direct,
// baseline, egressway) runs a saturation phase (wrk, fixed connections) and a paced phase (fixed
// request rate), and reports throughput, latency, proxy CPU per request and peak RSS, checked
// against the performance goals. See bench/README.md.
//
//   node bench/proxy-bench.ts [--duration 10] [--warmup 2] [--connections 50] [--rate 1000]
//                             [--size N] [--access-log off|json] [--egressway-root DIR]
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runPaced, runWrk, type LoadResult, type LoadSpec } from './lib/load.ts';
import {
  cpuSeconds, otherCpuShare, peakRssMiB, sampleMachine, startServer, stopAll, type MachineSample, type Server,
} from './lib/processes.ts';
import {
  checks, markdown, OTHER_CPU_WARN, ratios, reconcile, trustworthy, type Phase, type PhaseResult, type TargetName,
} from './lib/report.ts';
import { COUNT_PATH } from './upstream-server.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const HOST = 'bench.upstream.test';

interface Options {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly rate: number;
  readonly size: number | undefined;
  readonly accessLog: 'off' | 'json';
  /** Checkout whose src/cli/main.ts is benchmarked: lets one harness measure another commit. */
  readonly egresswayRoot: string;
}

interface Target {
  readonly name: TargetName;
  readonly connect: string;
  readonly requestTarget: string;
  readonly proxyPid?: number;
}

function parseOptions(): Options {
  const { values: v } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' }, warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '50' }, rate: { type: 'string', default: '1000' },
      size: { type: 'string' }, 'access-log': { type: 'string', default: 'off' },
      'egressway-root': { type: 'string', default: REPO },
    },
  });
  const int = (name: string, s: string, min: number): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${s}"`);
    return n;
  };
  const accessLog = v['access-log'];
  if (accessLog !== 'off' && accessLog !== 'json') throw new Error(`--access-log must be off or json, got "${accessLog}"`);
  return {
    seconds: int('duration', v.duration, 1), warmupSeconds: int('warmup', v.warmup, 0),
    connections: int('connections', v.connections, 1), rate: int('rate', v.rate, 1),
    size: v.size === undefined ? undefined : int('size', v.size, 0), accessLog,
    egresswayRoot: resolve(v['egressway-root']),
  };
}

function waypointConfig(upstreamPort: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: istio-egress}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bench-upstream, namespace: istio-egress, labels: {istio.io/use-waypoint: waypoint}}
spec:
  hosts: [${HOST}]
  location: MESH_EXTERNAL
  ports: [{number: ${upstreamPort}, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`;
}

async function startAll(o: Options, runDir: string): Promise<{ upstream: Server; targets: Target[] }> {
  const upstream = await startServer('upstream', [join(REPO, 'bench/upstream-server.ts')], runDir);
  const upstreamAddr = upstream.listeners.http!;
  const port = upstreamAddr.split(':')[1]!;
  const baseline = await startServer('baseline', [join(REPO, 'bench/baseline-forwarder.ts')], runDir);
  const configDir = join(runDir, 'config');
  mkdirSync(configDir);
  writeFileSync(join(configDir, 'bench.yaml'), waypointConfig(port));
  const egressway = await startServer('egressway', [
    join(o.egresswayRoot, 'src/cli/main.ts'), 'run', '--config', configDir, '--proxy-port', '0', '--admin-port', '0',
    '--status-port', '0', '--stats-port', '0', '--access-log', o.accessLog,
  ], runDir);
  const query = o.size === undefined ? '' : `?size=${o.size}`;
  const absolute = `http://${HOST}:${port}/${query}`;
  return {
    upstream,
    targets: [
      { name: 'direct', connect: upstreamAddr, requestTarget: `/${query}` },
      { name: 'baseline', connect: baseline.listeners.proxy!, requestTarget: absolute, proxyPid: baseline.pid },
      { name: 'egressway', connect: egressway.listeners.proxy!, requestTarget: absolute, proxyPid: egressway.pid },
    ],
  };
}

async function upstreamCount(upstream: Server): Promise<number> {
  const res = await fetch(`http://${upstream.listeners.http}${COUNT_PATH}`);
  return ((await res.json()) as { requests: number }).requests;
}

/** Waits until requests cut off at the generator's stop have drained through to the upstream. */
async function settle(upstream: Server): Promise<void> {
  let last = -1;
  for (let i = 0; i < 30; i++) {
    const n = await upstreamCount(upstream);
    if (n === last) return;
    last = n;
    await sleep(100);
  }
}

interface Sample {
  readonly served: number;
  readonly machine: MachineSample;
  readonly proxyCpuS: number;
  readonly upstreamCpuS: number;
}

async function sample(upstream: Server, t: Target): Promise<Sample> {
  return {
    served: await upstreamCount(upstream), machine: sampleMachine(),
    proxyCpuS: t.proxyPid ? cpuSeconds(t.proxyPid) : 0, upstreamCpuS: cpuSeconds(upstream.pid),
  };
}

async function measure(
  upstream: Server, t: Target, phase: Phase, connections: number, run: () => Promise<LoadResult>,
): Promise<PhaseResult> {
  const a = await sample(upstream, t);
  const load = await run();
  await settle(upstream);
  const b = await sample(upstream, t);
  const served = b.served - a.served;
  // CPU and served requests cover the same window (the paced lead-in included), so their ratio is
  // the cost per request even though the client timed only part of those requests.
  const per1k = (cpuS: number): number => (cpuS / Math.max(served, 1)) * 1000;
  return {
    target: t.name, phase, load, upstreamServed: served,
    verified: reconcile(load, served, phase === 'saturation' ? connections : 0),
    proxyCpuSPer1k: t.proxyPid ? per1k(b.proxyCpuS - a.proxyCpuS) : undefined,
    upstreamCpuSPer1k: per1k(b.upstreamCpuS - a.upstreamCpuS),
    proxyPeakRssMiB: t.proxyPid ? peakRssMiB(t.proxyPid) : undefined,
    otherCpuShare: otherCpuShare(a.machine, b.machine, os.cpus().length),
  };
}

async function benchTarget(o: Options, upstream: Server, t: Target): Promise<PhaseResult[]> {
  const hostHeader = `${HOST}:${upstream.listeners.http!.split(':')[1]}`;
  const spec = (seconds: number): LoadSpec => ({
    connect: t.connect, requestTarget: t.requestTarget, hostHeader, seconds, connections: o.connections,
  });
  const say = (s: string): void => { process.stderr.write(`${t.name}: ${s}\n`); };
  if (o.warmupSeconds > 0) {
    say(`warm-up ${o.warmupSeconds}s (JIT, pools, sockets; not recorded)`);
    await runWrk(spec(o.warmupSeconds));
  }
  say(`saturation ${o.seconds}s, ${o.connections} connections (wrk)`);
  const sat = await measure(upstream, t, 'saturation', o.connections, () => runWrk(spec(o.seconds)));
  say(`paced ${o.rate} rps for ${o.seconds}s after a ${o.warmupSeconds}s lead-in (paced-client)`);
  const paced = await measure(upstream, t, 'paced', o.connections, () => runPaced(spec(o.seconds), o.rate, o.warmupSeconds));
  return [sat, paced];
}

function gitState(dir: string): { commit: string; dirty: boolean } {
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

async function main(): Promise<void> {
  const o = parseOptions();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = join(REPO, '.bench', `run-${stamp}`);
  mkdirSync(runDir, { recursive: true });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stopAll().then(() => process.exit(130)));
  process.stderr.write(`${os.cpus().length} CPUs shared by load generator, proxy and upstream; logs in ${runDir}\n`);
  const idleOtherCpuShare = await preflightOtherCpuShare();
  const results: PhaseResult[] = [];
  try {
    const { upstream, targets } = await startAll(o, runDir);
    for (const t of targets) results.push(...(await benchTarget(o, upstream, t)));
  } finally {
    await stopAll();
  }
  const r = ratios(results);
  const cs = checks(results, r, o.rate);
  process.stdout.write(`${markdown(results, r, cs)}\n`);
  const file = join(REPO, '.bench', `results-${stamp}.json`);
  const report = {
    startedAt: stamp,
    egressway: { root: o.egresswayRoot, ...gitState(o.egresswayRoot) }, harness: gitState(REPO),
    node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, idleOtherCpuShare,
    options: o, results, ratios: r, checks: cs, logs: runDir,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\nwrote ${file}\n`);
  // Missed performance goals are findings; errors or unmatched counts mean the numbers are not
  // trustworthy, and that fails the run.
  if (!trustworthy(results)) process.exitCode = 1;
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exitCode = 1;
});
