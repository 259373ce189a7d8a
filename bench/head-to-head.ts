// Egressway against the zero-feature baseline forwarder, loaded AT THE SAME TIME: two wrk runs in
// parallel, one per proxy, for several rounds. Running them together gives both the same share of
// a shared, noisy machine, which sequential phases cannot (the other load changes between phases).
// Reports req/s per round, the median egressway/baseline ratio, and CPU-s per 1000 requests of
// each proxy over all rounds.
//
// `--against DIR` loads another checkout's Egressway in the baseline's place (A/B of two commits:
// "baseline" then names DIR's waypoint), and `--paced` drives both with the paced client at
// `--rate` instead of wrk at saturation, so CPU-s per 1000 requests at a fixed rate is compared
// under the same machine load. `--node-options` and `--against-node-options` set NODE_OPTIONS of
// either waypoint (a V8 flag against none, on the same checkout with `--against .`), and
// `--flags` / `--against-flags` add `egressway run` flags to either.
import os from 'node:os';
import { join, resolve } from 'node:path';
import { GATEWAY_YAML, HOST, serviceEntryYaml, startUpstream, startWaypoint, writeConfig } from './lib/egressway.ts';
import { runPaced, runWrk } from './lib/load.ts';
import { cpuSeconds, startServer } from './lib/processes.ts';
import { beginRun, finishRun, intOption, main, parseOptions, REPO } from './lib/run.ts';

const medianOf = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

main('head-to-head', async () => {
  const { common: o, values } = parseOptions({
    rounds: { type: 'string', default: '5' }, against: { type: 'string' }, paced: { type: 'boolean', default: false },
    'node-options': { type: 'string' }, 'against-node-options': { type: 'string' }, flags: { type: 'string' }, 'against-flags': { type: 'string' },
  });
  const env = (v: string | undefined) => (v ? { NODE_OPTIONS: v } : {});
  const flags = (v: string | undefined) => (v ? v.split(' ').filter(Boolean) : []);
  const rounds = intOption('rounds', values.rounds ?? '5', 1);
  const run = await beginRun();
  const upstream = await startUpstream(run.runDir);
  const port = upstream.listeners.http!.split(':')[1]!;
  const config = writeConfig(run.runDir, 'config', GATEWAY_YAML + serviceEntryYaml({ name: 'bench-upstream', host: HOST, port }));
  const baseline = values.against
    ? await startWaypoint({ ...o, egresswayRoot: resolve(values.against as string) }, run.runDir, config, 'against', flags(values['against-flags']), env(values['against-node-options']))
    : await startServer('baseline', [join(REPO, 'bench/baseline-forwarder.ts')], run.runDir);
  const egressway = await startWaypoint(o, run.runDir, config, 'egressway', flags(values.flags), env(values['node-options']));
  const target = { requestTarget: `http://${HOST}:${port}/`, hostHeader: `${HOST}:${port}`, connections: Math.max(1, Math.floor(o.connections / 2)) };
  const load = (connect: string, seconds: number) => (values.paced ? runPaced({ ...target, connect, seconds }, o.rate, 0) : runWrk({ ...target, connect, seconds }));
  // Warm both (JIT, pools) before anything is recorded.
  await Promise.all([load(baseline.listeners.proxy!, o.warmupSeconds), load(egressway.listeners.proxy!, o.warmupSeconds)]);
  const cpu0 = { b: cpuSeconds(baseline.pid), e: cpuSeconds(egressway.pid) };
  const rows: { round: number; baseline: number; egressway: number; ratio: number; errors: number; p99: { b: number; e: number }; cpu: { b: number; e: number } }[] = [];
  let served = { b: 0, e: 0 };
  for (let i = 1; i <= rounds; i++) {
    const c0 = { b: cpuSeconds(baseline.pid), e: cpuSeconds(egressway.pid) };
    const [b, e] = await Promise.all([load(baseline.listeners.proxy!, o.seconds), load(egressway.listeners.proxy!, o.seconds)]);
    served = { b: served.b + b.ok, e: served.e + e.ok };
    const cpuRound = { b: (cpuSeconds(baseline.pid) - c0.b) / (b.ok / 1000), e: (cpuSeconds(egressway.pid) - c0.e) / (e.ok / 1000) };
    rows.push({ round: i, baseline: b.rps, egressway: e.rps, ratio: e.rps / b.rps, errors: b.errors + e.errors, p99: { b: b.p99Ms, e: e.p99Ms }, cpu: cpuRound });
  }
  const cpu = { b: (cpuSeconds(baseline.pid) - cpu0.b) / (served.b / 1000), e: (cpuSeconds(egressway.pid) - cpu0.e) / (served.e / 1000) };
  const ratios = rows.map((r) => r.ratio).sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)]!;
  const errors = rows.reduce((n, r) => n + r.errors, 0);
  const text = [
    `| round | baseline req/s | egressway req/s | egressway / baseline | baseline p99 ms | egressway p99 ms | baseline CPU-s/1k | egressway CPU-s/1k | CPU egressway / baseline |`, `| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...rows.map((r) => `| ${r.round} | ${r.baseline.toFixed(0)} | ${r.egressway.toFixed(0)} | ${(100 * r.ratio).toFixed(1)}% | ${r.p99.b.toFixed(2)} | ${r.p99.e.toFixed(2)} | ${r.cpu.b.toFixed(3)} | ${r.cpu.e.toFixed(3)} | ${(r.cpu.e / r.cpu.b).toFixed(3)} |`),
    '', `median egressway / baseline: ${(100 * median).toFixed(1)}% (target >= 85%: ${median >= 0.85 ? 'PASS' : 'FAIL'})`,
    `CPU-s per 1000 requests${values.paced ? ` at ${o.rate} rps` : ' at saturation'}: baseline ${cpu.b.toFixed(3)}, egressway ${cpu.e.toFixed(3)}`,
    `median per-round CPU egressway / baseline: ${medianOf(rows.map((r) => r.cpu.e / r.cpu.b)).toFixed(3)} (range ${Math.min(...rows.map((r) => r.cpu.e / r.cpu.b)).toFixed(3)}-${Math.max(...rows.map((r) => r.cpu.e / r.cpu.b)).toFixed(3)})`,
    `errors: ${errors}; load average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`,
  ].join('\n');
  finishRun('head-to-head', run, o, text, { options: o, rounds: rows, median, cpu }, errors === 0);
});
