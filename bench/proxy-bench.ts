// `npm run bench`: what Egressway costs over a zero-feature forwarder and over no proxy at all.
// Starts a loopback upstream, the baseline forwarder and Egressway, then for each target (direct,
// baseline, egressway) runs a saturation phase (wrk, fixed connections) and a paced phase (fixed
// request rate), and reports throughput, latency, proxy CPU per request and peak RSS, checked
// against the performance goals. See bench/README.md.
//
//   node bench/proxy-bench.ts [--duration 10] [--warmup 2] [--connections 50] [--rate 1000]
//                             [--size N] [--access-log off|json] [--egressway-root DIR]
import { join } from 'node:path';
import {
  GATEWAY_YAML, HOST, serviceEntryYaml, sizeQuery, startUpstream, startWaypoint, writeConfig,
} from './lib/egressway.ts';
import { runPhases, type Measurement } from './lib/measure.ts';
import { startServer, type Server } from './lib/processes.ts';
import { checks, markdown, ratios, trustworthy, type PhaseResult, type TargetName } from './lib/report.ts';
import { beginRun, finishRun, main, optionalInt, parseOptions, REPO, type CommonOptions } from './lib/run.ts';

interface Options extends CommonOptions {
  readonly size: number | undefined;
}

interface Target {
  readonly name: TargetName;
  readonly connect: string;
  readonly requestTarget: string;
  readonly proxyPid?: number;
}

async function startAll(o: Options, runDir: string): Promise<{ upstream: Server; targets: Target[] }> {
  const upstream = await startUpstream(runDir);
  const upstreamAddr = upstream.listeners.http!;
  const port = upstreamAddr.split(':')[1]!;
  const baseline = await startServer('baseline', [join(REPO, 'bench/baseline-forwarder.ts')], runDir);
  const configDir = writeConfig(runDir, 'config', GATEWAY_YAML + serviceEntryYaml({ name: 'bench-upstream', host: HOST, port }));
  const egressway = await startWaypoint(o, runDir, configDir);
  const query = sizeQuery(o.size);
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

function phaseResult(t: Target, m: Measurement): PhaseResult {
  return {
    target: t.name, phase: m.phase, load: m.load, upstreamServed: m.upstreamServed, verified: m.verified,
    proxyCpuSPer1k: m.cpuSPer1k.proxy, upstreamCpuSPer1k: m.upstreamCpuSPer1k, proxyPeakRssMiB: m.peakRssMiB.proxy,
    otherCpuShare: m.otherCpuShare,
  };
}

async function benchTarget(o: Options, upstream: Server, t: Target): Promise<PhaseResult[]> {
  const hostHeader = `${HOST}:${upstream.listeners.http!.split(':')[1]}`;
  const watched = t.proxyPid ? [{ name: 'proxy', pid: t.proxyPid }] : [];
  const { saturation, paced } = await runPhases(t.name, o, upstream, { connect: t.connect, requestTarget: t.requestTarget, hostHeader }, watched);
  return [phaseResult(t, saturation), phaseResult(t, paced)];
}

main('bench', async () => {
  const { common, values } = parseOptions({ size: { type: 'string' } });
  const o: Options = { ...common, size: optionalInt(values, 'size', 0) };
  const run = await beginRun();
  const { upstream, targets } = await startAll(o, run.runDir);
  const results: PhaseResult[] = [];
  for (const t of targets) results.push(...(await benchTarget(o, upstream, t)));
  const r = ratios(results);
  const cs = checks(results, r, o.rate);
  finishRun('results', run, o, markdown(results, r, cs), { options: o, results, ratios: r, checks: cs }, trustworthy(results));
});
