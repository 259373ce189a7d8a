// Where the request path allocates (issue 16: each loop's young generation is sized by the
// allocation rate). The waypoint and the bare undici forwarder, in turn, each paced at `--rate`
// with bench/lib/alloc-probe.mjs preloaded: V8's sampling heap profiler over `--duration` seconds
// after a `--warmup`, keeping the samples of objects later collected, so the profile is the
// allocation itself. Prints bytes allocated per request, by area and by function.
//
//   node bench/alloc-profile.ts [--rate 1000] [--duration 5] [--warmup 5] [--top 25] [--concurrency 1]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GATEWAY_YAML, HOST, serviceEntryYaml, startUpstream, startWaypoint, writeConfig } from './lib/egressway.ts';
import { runPaced } from './lib/load.ts';
import { startServer, stopProcess } from './lib/processes.ts';
import { beginRun, finishRun, intOption, main, parseOptions, REPO } from './lib/run.ts';

interface Node { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: Node[] }

/** Bytes by function (name, file:line) and by area, over the profile's tree. */
function summarise(root: Node): { byFn: Map<string, number>; byArea: Map<string, number>; total: number } {
  const byFn = new Map<string, number>();
  const byArea = new Map<string, number>();
  let total = 0;
  const area = (url: string): string => (url.includes('/src/') && !url.includes('node_modules') ? 'egressway src/' : url.includes('node_modules/undici') ? 'undici' : url.startsWith('node:') ? 'node: internals' : url.includes('/bench/') ? 'bench forwarder' : url ? 'other JS' : '(native / no frame)');
  const walk = (n: Node): void => {
    if (n.selfSize) {
      const f = n.callFrame;
      const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(src|node_modules|bench)\//, '$1/')}:${f.lineNumber + 1}`;
      byFn.set(key, (byFn.get(key) ?? 0) + n.selfSize);
      byArea.set(area(f.url), (byArea.get(area(f.url)) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children) walk(c);
  };
  walk(root);
  return { byFn, byArea, total };
}

main('alloc-profile', async () => {
  const { common: o, values } = parseOptions({ top: { type: 'string', default: '25' } });
  const top = intOption('top', values.top!, 1);
  const run = await beginRun();
  const upstream = await startUpstream(run.runDir);
  const port = upstream.listeners.http!.split(':')[1]!;
  const config = writeConfig(run.runDir, 'config', GATEWAY_YAML + serviceEntryYaml({ name: 'bench-upstream', host: HOST, port }));
  const probe = join(REPO, 'bench/lib/alloc-probe.mjs');
  const lines: string[] = [`allocation per request at ${o.rate} rps, sampled over ${o.seconds} s after ${o.warmupSeconds} s of load (the main thread; run with --concurrency 1)`, ''];
  const results: Record<string, { total: number; perRequest: number; byArea: Record<string, number>; top: [string, number][] }> = {};
  for (const name of ['egressway', 'forwarder']) {
    const out = join(run.runDir, `${name}.heapprofile`);
    // The probe's clock starts when the process loads it, about when the load starts: it samples
    // from `warmup` (+1) seconds to `seconds` later, inside a load of warmup + seconds + 2.
    const env = { NODE_OPTIONS: `--import ${probe}`, ALLOC_PROBE_OUT: out, ALLOC_PROBE_START_MS: String(o.warmupSeconds * 1000 + 1000), ALLOC_PROBE_MS: String(o.seconds * 1000) };
    const server = name === 'egressway'
      ? await startWaypoint(o, run.runDir, config, name, [], env)
      : await startServer(name, [join(REPO, 'bench/baseline-forwarder.ts')], run.runDir, undefined, undefined, env);
    const spec = { connect: server.listeners.proxy!, requestTarget: `http://${HOST}:${port}/`, hostHeader: `${HOST}:${port}`, connections: o.connections, seconds: o.warmupSeconds + o.seconds + 2 };
    await runPaced(spec, o.rate, 0);
    for (let i = 0; i < 50; i++) {
      try { readFileSync(out); break; } catch { await sleep(200); }
    }
    await stopProcess(server.pid);
    const s = summarise((JSON.parse(readFileSync(out, 'utf8')) as { head: Node }).head);
    const requests = o.rate * o.seconds;
    const kb = (b: number) => (b / requests / 1024).toFixed(2);
    lines.push(`**${name}**: ${kb(s.total)} KiB per request`, '', '| area | KiB / request |', '| --- | ---: |',
      ...[...s.byArea].sort((a, b) => b[1] - a[1]).map(([a, b]) => `| ${a} | ${kb(b)} |`), '',
      '| function | KiB / request |', '| --- | ---: |', ...[...s.byFn].sort((a, b) => b[1] - a[1]).slice(0, top).map(([f, b]) => `| ${f} | ${kb(b)} |`), '');
    results[name] = { total: s.total, perRequest: s.total / requests, byArea: Object.fromEntries(s.byArea), top: [...s.byFn].sort((a, b) => b[1] - a[1]).slice(0, top) };
  }
  finishRun('alloc-profile', run, o, lines.join('\n'), results, true);
});
