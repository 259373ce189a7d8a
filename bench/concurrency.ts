// `egressway run --concurrency N`: what a second event loop buys, and which way of running one
// (node:cluster or worker threads with SO_REUSEPORT) to use. Measures, in one run, with the same
// phases as `npm run bench` (wrk saturation, then a paced phase):
//   baseline        the zero-feature forwarder, one process (the anchor of every bench)
//   fwd-cluster-N   the same forwarder as N node:cluster workers (primary accepts, round-robin)
//   fwd-threads-N   the same forwarder on N worker threads, each with a SO_REUSEPORT listener
//   egressway-1     egressway run --concurrency 1 (one thread, as before the flag)
//   egressway-N     egressway run --concurrency N
// CPU and peak RSS count a server's whole process tree (a cluster's workers are processes).
//
//   node bench/concurrency.ts [--workers 2] [--only a,b] [--duration 10] [--warmup 2] [--connections 50] [--rate 1000]
import { join } from 'node:path';
import { GATEWAY_YAML, HOST, serviceEntryYaml, startUpstream, startWaypoint, writeConfig } from './lib/egressway.ts';
import type { Endpoint } from './lib/load.ts';
import { runPhases } from './lib/measure.ts';
import { startServer, stopProcess } from './lib/processes.ts';
import { table, variantMarkdown, variantsTrustworthy, type VariantResult } from './lib/report.ts';
import { beginRun, finishRun, intOption, main, parseOptions, REPO } from './lib/run.ts';

main('concurrency', async () => {
  const { common, values } = parseOptions({ workers: { type: 'string', default: '2' }, only: { type: 'string' } });
  const n = intOption('workers', values.workers!, 2);
  const run = await beginRun();
  const upstream = await startUpstream(run.runDir);
  const port = upstream.listeners.http!.split(':')[1]!;
  const config = writeConfig(run.runDir, 'config', GATEWAY_YAML + serviceEntryYaml({ name: 'bench-upstream', host: HOST, port }));
  const pool = join(REPO, 'bench/lib/forwarder-pool.ts');
  const targets: [string, () => Promise<{ pid: number; listeners: Record<string, string> }>][] = [
    ['baseline', () => startServer('baseline', [join(REPO, 'bench/baseline-forwarder.ts')], run.runDir)],
    [`fwd-cluster-${n}`, () => startServer('fwd-cluster', [pool, '--mode', 'cluster', '--workers', String(n)], run.runDir)],
    [`fwd-threads-${n}`, () => startServer('fwd-threads', [pool, '--mode', 'threads', '--workers', String(n)], run.runDir)],
    ['egressway-1', () => startWaypoint({ ...common, concurrency: 1 }, run.runDir, config, 'egressway-1')],
    [`egressway-${n}`, () => startWaypoint({ ...common, concurrency: n }, run.runDir, config, `egressway-${n}`)],
  ];
  const only = values.only?.split(',');
  const results: VariantResult[] = [];
  for (const [name, start] of targets.filter(([t]) => !only || only.includes(t))) {
    // One server at a time: an idle one would still take a little of the 2 cores.
    const server = await start();
    const ep: Endpoint = { connect: server.listeners.proxy!, requestTarget: `http://${HOST}:${port}/`, hostHeader: `${HOST}:${port}` };
    results.push({ variant: name, ...await runPhases(name, common, upstream, ep, [{ name: 'proxy', pid: server.pid }]) });
    await stopProcess(server.pid);
  }
  const summary = table(
    ['target', 'req/s (saturation):', 'CPU-s / 1k req (saturation):', `p99 ms at ${common.rate} rps:`, `CPU-s / 1k req at ${common.rate} rps:`, 'peak RSS MiB:'],
    results.map((r) => [r.variant, r.saturation.load.rps.toFixed(0), r.saturation.cpuSPer1k.proxy!.toFixed(3), r.paced.load.p99Ms.toFixed(2),
      r.paced.cpuSPer1k.proxy!.toFixed(3), Math.max(r.saturation.peakRssMiB.proxy!, r.paced.peakRssMiB.proxy!).toFixed(0)]),
  );
  const text = variantMarkdown({
    intro: [`${n} workers where a target has several; access log ${common.accessLog}; wrk, the upstream and every worker share the machine's cores.`],
    summary, results, watched: ['proxy'], checks: [], comparisons: [],
  });
  finishRun('concurrency', run, common, text, { workers: n, results }, variantsTrustworthy(results));
});
