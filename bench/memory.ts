// Where a waypoint's resident memory goes (issue 16), per checkout, in the same run:
//   - VmRSS once ready and settled, split into the node binary's file pages (shared, clean), other
//     files, and anonymous memory; V8's heap per thread (committed against used, per space), its
//     external memory, and the rest of the anonymous memory (malloc, stacks, per-thread native state);
//   - with --reloads R: R changed files, each waited for until served (a DENY path moves), then RSS
//     again: memory that a reload leaves behind.
// Each thread's V8 figures come from bench/lib/memory-probe.mjs, preloaded into every thread.
//
//   node bench/memory.ts [--n 0,1000] [--reloads 20] [--settle 3] [--reload-settle 35] [--concurrency 1] [--rounds 1]
//                        [--egressway-root DIR] [--compare DIR]
//
// --compare DIR measures that checkout too (e.g. /work/main), alternating with --egressway-root in
// every round. --settle is the wait after `listening`, --reload-settle after the last reload (past the
// 30 s that Egressway leaves between two memory releases). n is the number of services, each a ServiceEntry, an AuthorizationPolicy and a
// VirtualService in its own file (as bench/scale.ts); n = 0 is the quickstart.
//
// --saturate S: instead of a config and reloads, the bench upstream's config under S seconds of wrk
// (after --warmup), read 2 s before the load ends: peak RSS, req/s, CPU per 1000 requests, and the
// anonymous memory split into V8's heap, glibc's main malloc arena ([heap]) and its per-thread arenas.
// --variant 'label|K=V,K=V|node flags|run flags' (repeatable) adds this checkout with that
// environment, NODE_OPTIONS or `egressway run` flags, alternating with the others round by round:
//   node bench/memory.ts --saturate 10 --concurrency 2 --rounds 3 --variant 'v8|||--max-semi-space-size 0'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { authorizationPolicy, loopbackEntry, WAYPOINT_YAML } from '../test/helpers/inprocess.ts';
import { cliPath, GATEWAY_YAML, HOST, serviceEntryYaml, startUpstream, writeConfig } from './lib/egressway.ts';
import { runWrk } from './lib/load.ts';
import { cpuSeconds, peakRssMiB, startServer, stopProcess } from './lib/processes.ts';
import { beginRun, finishRun, intOption, main, parseOptions, REPO, type CommonOptions } from './lib/run.ts';

const PROBE = join(REPO, 'bench/lib/memory-probe.mjs');
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

interface ThreadHeap { readonly threadId: number; readonly at: number; readonly committed: number; readonly used: number; readonly external: number; readonly arrayBuffers: number; readonly malloced: number; readonly spaces: Record<string, { committed: number; used: number }> }
interface Sample {
  readonly rss: number; readonly binary: number; readonly files: number; readonly anon: number; readonly brk: number; readonly arenas: number;
  readonly heapCommitted: number; readonly heapUsed: number; readonly newSpace: number; readonly oldSpace: number; readonly code: number; readonly external: number;
  readonly threads: readonly ThreadHeap[];
}

/** glibc's per-thread malloc arenas are heaps of at most 64 MiB, each aligned to 64 MiB. */
const ARENA = 64 * 1024 * 1024;

/**
 * VmRSS split by mapping (MiB): the node binary's pages, other files, anonymous (heap, malloc,
 * stacks). Of the anonymous memory, `brk` is the main malloc arena ([heap]) and `arenas` the other
 * threads' malloc arenas: a read-write mapping that starts on a 64 MiB boundary and whose
 * reserved (---p) rest ends on the next one, as glibc's new_heap() maps them.
 */
function smaps(pid: number): { rss: number; binary: number; files: number; anon: number; brk: number; arenas: number } {
  let name = '';
  let key: 'binary' | 'files' | 'anon' | 'brk' | 'arenas' = 'anon';
  const kb = { binary: 0, files: 0, anon: 0, brk: 0, arenas: 0 };
  const lines = readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n');
  const heads = lines.map((l) => /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(l)).filter((h) => h !== null);
  const reservedTo = new Map(heads.filter((h) => h[3] === '---p' && !h[4]).map((h) => [BigInt(`0x${h[1]}`), BigInt(`0x${h[2]}`)]));
  for (const line of lines) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      name = head[4]!;
      const [start, end] = [BigInt(`0x${head[1]}`), BigInt(`0x${head[2]}`)];
      const rest = reservedTo.get(end);
      const arena = !name && head[3] === 'rw-p' && start % BigInt(ARENA) === 0n && (end - start === BigInt(ARENA) || (rest !== undefined && rest - start === BigInt(ARENA)));
      key = name.endsWith('/node') ? 'binary' : name === '[heap]' ? 'brk' : name.startsWith('/') ? 'files' : arena ? 'arenas' : 'anon';
      continue;
    }
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (m) kb[key] += Number(m[1]);
  }
  const rss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  const mib = (x: number) => x / 1024;
  // `anon` stays every anonymous page (the arenas and brk included), as before.
  return { rss: mib(rss), binary: mib(kb.binary), files: mib(kb.files), anon: mib(kb.anon + kb.brk + kb.arenas), brk: mib(kb.brk), arenas: mib(kb.arenas) };
}

/** Waits for every thread's probe file written after `since`, then reads RSS and the heaps together. */
async function sample(pid: number, probeOut: string, threads: number, since: number): Promise<Sample> {
  const dir = resolve(probeOut, '..');
  const prefix = probeOut.slice(dir.length + 1);
  for (let i = 0; i < 50; i++) {
    const files = readdirSync(dir).filter((f) => f.startsWith(`${prefix}.`) && f.endsWith('.json'));
    const heaps = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ThreadHeap).filter((h) => h.at > since);
    if (heaps.length >= threads) {
      const sum = (f: (h: ThreadHeap) => number) => heaps.reduce((a, h) => a + f(h), 0);
      const space = (n: string) => sum((h) => h.spaces[n]?.committed ?? 0);
      return {
        ...smaps(pid), heapCommitted: sum((h) => h.committed), heapUsed: sum((h) => h.used), newSpace: space('new_space'), oldSpace: space('old_space'),
        code: space('code_space') + space('code_large_object_space'), external: sum((h) => h.external), threads: heaps.sort((a, b) => a.threadId - b.threadId),
      };
    }
    await sleep(200);
  }
  throw new Error(`the memory probe did not report ${threads} thread(s) (${probeOut})`);
}

function serviceFile(i: number, path = `/deny-${i}`): string {
  const ap = authorizationPolicy(`ap-${i}`, `svc-${i}`, `action: DENY\nrules: [{to: [{operation: {ports: ["80"], paths: ["${path}"]}}]}]`);
  const vs = `---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs-${i}, namespace: istio-egress}\nspec:\n  hosts: [svc-${i}.test]\n  http: [{timeout: 5s, route: [{destination: {host: svc-${i}.test}}]}]\n`;
  return [loopbackEntry(`svc-${i}`, 9), ap, vs].join('\n');
}

async function writeServices(dir: string, n: number): Promise<string> {
  if (n === 0) return join(REPO, 'examples/quickstart');
  rmSync(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'waypoint.yaml'), WAYPOINT_YAML);
  for (let i = 0; i < n; i++) await writeFile(join(dir, `svc-${i}.yaml`), serviceFile(i));
  return dir;
}

/** The status of GET http://<host><path> through the proxy (absolute form, no tunnel). */
function statusVia(proxy: string, host: string, path: string): Promise<number> {
  const [h, p] = [proxy.slice(0, proxy.lastIndexOf(':')), Number(proxy.slice(proxy.lastIndexOf(':') + 1))];
  return new Promise((ok) => {
    const req = request({ host: h, port: p, path: `http://${host}${path}`, headers: { host }, agent: false }, (res) => { res.resume(); ok(res.statusCode ?? 0); });
    req.on('error', () => ok(0));
    req.end();
  });
}

interface Saturated { readonly during: Sample; readonly peak: number; readonly rps: number; readonly cpuSPer1k: number }
interface Result { readonly root: string; readonly n: number; readonly settled: Sample; readonly afterReloads?: Sample; readonly reloadMs: readonly number[]; readonly saturated?: Saturated }

/**
 * --saturate: `--warmup` seconds of wrk, then `S` seconds more during which every thread's heap and
 * the mappings are read (2 s before the end: under load, with the young generation grown), then
 * VmHWM and the CPU per 1000 requests of the measured seconds.
 */
async function saturate(o: Options, pid: number, proxy: string, probeOut: string, threads: number): Promise<Saturated> {
  const spec = { connect: proxy, requestTarget: o.target!.requestTarget, hostHeader: o.target!.hostHeader, connections: o.connections };
  if (o.warmupSeconds > 0) await runWrk({ ...spec, seconds: o.warmupSeconds });
  const cpu0 = cpuSeconds(pid);
  const load = runWrk({ ...spec, seconds: o.saturate });
  await sleep(Math.max(1, o.saturate - 2) * 1000);
  const during = await sample(pid, probeOut, threads, Date.now());
  const r = await load;
  return { during, peak: peakRssMiB(pid), rps: r.rps, cpuSPer1k: (cpuSeconds(pid) - cpu0) / (r.ok / 1000) };
}

async function measure(o: Options, root: string, n: number, runDir: string, tag: string): Promise<Result> {
  const dir = o.target ? o.target.config : await writeServices(join(runDir, `config-${n}`), n);
  const probeOut = join(runDir, `probe-${tag}`);
  const ro = { ...o, egresswayRoot: root };
  const threads = o.concurrency > 1 ? o.concurrency + 1 : 1;
  const server = await startServer(tag, [cliPath(ro), 'run', '--config', dir, '--proxy-port', '0', '--admin-port', '0', '--status-port', '0', '--stats-port', '0', '--access-log', 'off', ...o.flags],
    runDir, undefined, 300_000, { ...o.env, EGRESSWAY_CONCURRENCY: String(o.concurrency), NODE_OPTIONS: `--import ${PROBE} ${o.nodeOptions}`.trim(), MEMORY_PROBE_OUT: probeOut });
  try {
    await sleep(o.settle * 1000);
    const settled = await sample(server.pid, probeOut, threads, Date.now());
    if (o.target && o.saturate > 0) return { root, n, settled, reloadMs: [], saturated: await saturate(o, server.pid, server.listeners.proxy!, probeOut, threads) };
    const reloadMs: number[] = [];
    if (n === 0 || o.reloads === 0) return { root, n, settled, reloadMs };
    for (let r = 0; r < o.reloads; r++) {
      const i = (r * 7919 + 13) % n;
      const path = `/moved-${r}`;
      const t = performance.now();
      await writeFile(join(dir, `svc-${i}.yaml`), serviceFile(i, path));
      while ((await statusVia(server.listeners.proxy!, `svc-${i}.test`, path)) !== 403) {
        if (performance.now() - t > 60_000) throw new Error(`${tag}: reload ${r} not served after 60 s`);
        await sleep(20);
      }
      reloadMs.push(performance.now() - t);
    }
    await sleep(o.reloadSettle * 1000);
    return { root, n, settled, afterReloads: await sample(server.pid, probeOut, threads, Date.now()), reloadMs };
  } finally {
    await stopProcess(server.pid);
  }
}

interface Variant { readonly label: string; readonly root: string; readonly env: Record<string, string>; readonly nodeOptions: string; readonly flags: readonly string[] }
interface Options extends CommonOptions {
  readonly ns: readonly number[]; readonly reloads: number; readonly settle: number; readonly reloadSettle: number; readonly rounds: number; readonly compare?: string;
  readonly saturate: number; readonly nodeOptions: string; readonly env: Record<string, string>; readonly flags: readonly string[];
  /** --saturate: the bench upstream's config and request. */
  readonly target?: { readonly config: string; readonly requestTarget: string; readonly hostHeader: string };
}

const f1 = (x: number) => x.toFixed(1);
function row(name: string, rs: readonly Result[]): string {
  const m = (f: (r: Result) => number | undefined) => { const xs = rs.map(f).filter((x): x is number => x !== undefined); return xs.length ? f1(median(xs)) : '—'; };
  const s = (f: (x: Sample) => number) => m((r) => f(r.settled));
  if (rs[0]!.saturated) {
    const t = (f: (x: Saturated) => number) => m((r) => r.saturated && f(r.saturated));
    const d = (f: (x: Sample) => number) => t((x) => f(x.during));
    return `| ${name} | ${t((x) => x.peak)} | ${t((x) => x.rps).replace(/\.\d$/, '')} | ${median(rs.map((r) => r.saturated!.cpuSPer1k)).toFixed(3)} | ${d((x) => x.rss)} | ${d((x) => x.binary)} | ${d((x) => x.heapCommitted)} / ${d((x) => x.heapUsed)} | ${d((x) => x.newSpace)} | ${d((x) => x.oldSpace)} | ${d((x) => x.code)} | ${d((x) => x.external)} | ${d((x) => x.brk)} | ${d((x) => x.arenas)} | ${d((x) => x.anon - x.heapCommitted - x.brk - x.arenas)} |`;
  }
  return `| ${name} | ${rs[0]!.n} | ${s((x) => x.rss)} | ${s((x) => x.binary)} | ${s((x) => x.anon)} | ${s((x) => x.heapCommitted)} / ${s((x) => x.heapUsed)} | ${s((x) => x.newSpace)} | ${s((x) => x.oldSpace)} | ${s((x) => x.code)} | ${s((x) => x.external)} | ${s((x) => x.anon - x.heapCommitted)} | ${m((r) => r.afterReloads?.rss)} | ${m((r) => r.afterReloads && r.afterReloads.rss - r.settled.rss)} |`;
}

main('memory', async () => {
  const { common, values } = parseOptions({ n: { type: 'string', default: '0,1000' }, reloads: { type: 'string', default: '20' }, settle: { type: 'string', default: '3' }, 'reload-settle': { type: 'string', default: '35' }, rounds: { type: 'string', default: '1' }, compare: { type: 'string' },
    saturate: { type: 'string', default: '0' }, 'node-options': { type: 'string', default: '' }, env: { type: 'string', multiple: true }, variant: { type: 'string', multiple: true } });
  const o: Options = {
    ...common, ns: values.n!.split(',').map((x) => intOption('n', x, 0)), reloads: intOption('reloads', values.reloads!, 0), settle: intOption('settle', values.settle!, 0), reloadSettle: intOption('reload-settle', values['reload-settle']!, 0),
    rounds: intOption('rounds', values.rounds!, 1), compare: values.compare && resolve(values.compare),
    saturate: intOption('saturate', values.saturate!, 0), nodeOptions: values['node-options']!, flags: [],
    env: Object.fromEntries(((values.env ?? []) as unknown as string[]).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
  };
  if (o.compare && !existsSync(o.compare)) throw new Error(`--compare ${o.compare}: no such checkout`);
  const run = await beginRun();
  let opts = o;
  if (o.saturate > 0) {
    const upstream = await startUpstream(run.runDir);
    const port = upstream.listeners.http!.split(':')[1]!;
    opts = { ...o, ns: [0], target: { config: writeConfig(run.runDir, 'config', GATEWAY_YAML + serviceEntryYaml({ name: 'bench-upstream', host: HOST, port })), requestTarget: `http://${HOST}:${port}/`, hostHeader: `${HOST}:${port}` } };
  }
  const load0 = os.loadavg();
  // What is measured, alternating round by round: this checkout, --compare's, and each --variant
  // (this checkout with more environment or NODE_OPTIONS: `label|K=V,K=V|--flag --flag`).
  const variants: Variant[] = [
    ...(o.compare ? [{ label: o.compare, root: o.compare, env: {}, nodeOptions: '', flags: [] }] : []),
    { label: o.saturate > 0 && values.variant ? 'default' : o.egresswayRoot, root: o.egresswayRoot, env: {}, nodeOptions: '', flags: [] },
    ...((values.variant ?? []) as unknown as string[]).map((v): Variant => {
      const [label, env = '', nodeOptions = '', flags = ''] = v.split('|');
      return {
        label: label!, root: o.egresswayRoot, env: Object.fromEntries(env.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
        nodeOptions, flags: flags.split(' ').filter(Boolean),
      };
    }),
  ];
  const results: (Result & { label: string })[] = [];
  const forVariant = (v: Variant): Options => ({ ...opts, env: { ...opts.env, ...v.env }, nodeOptions: `${opts.nodeOptions} ${v.nodeOptions}`.trim(), flags: v.flags });
  // One unmeasured start each: the first start after an edit fills Node's compile cache and loads
  // its TypeScript stripper (about 15 MiB) that a warm start does without.
  for (const root of new Set(variants.map((v) => v.root))) await measure({ ...o, settle: 0, reloads: 0, saturate: 0, target: undefined }, root, 0, run.runDir, `warm-${variants.findIndex((v) => v.root === root)}`);
  for (let round = 0; round < o.rounds; round++) {
    for (const n of opts.ns) {
      for (const v of round % 2 ? [...variants].reverse() : variants) {
        const r = await measure(forVariant(v), v.root, n, run.runDir, `egw-${variants.indexOf(v)}-${n}-${round}`);
        const sat = r.saturated ? `, at saturation ${f1(r.saturated.during.rss)} MiB (peak ${f1(r.saturated.peak)}), ${r.saturated.rps.toFixed(0)} req/s, ${r.saturated.cpuSPer1k.toFixed(3)} CPU-s/1k` : '';
        process.stderr.write(`round ${round + 1}, n=${n}, ${v.label}: RSS ${f1(r.settled.rss)} MiB${r.afterReloads ? `, after ${o.reloads} reloads ${f1(r.afterReloads.rss)} MiB` : ''}${sat}\n`);
        results.push({ ...r, label: v.label });
      }
    }
  }
  const head = `memory, --concurrency ${o.concurrency}, ${o.rounds} round(s), medians in MiB; load average ${load0.map(f1).join(' ')} → ${os.loadavg().map(f1).join(' ')}`;
  const lines = o.saturate > 0 ? [
    `${head}; ${o.connections} wrk connections, read ${Math.max(1, o.saturate - 2)} s into a ${o.saturate} s load after ${o.warmupSeconds} s of warm-up`, '',
    '| variant | peak RSS | req/s | CPU-s/1k | RSS under load | node binary | V8 committed / used | new space | old space | code | external | malloc main arena | malloc thread arenas | other anon |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...variants.map((v) => row(v.label, results.filter((r) => r.label === v.label))),
    '', 'Per thread under load (first round of each variant), MiB:', '',
    '| variant | thread | V8 committed / used | new space | old space | external (array buffers) | V8 malloced |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...variants.flatMap((v) => results.find((r) => r.label === v.label)!.saturated!.during.threads.map((t) =>
      `| ${v.label} | ${t.threadId} | ${f1(t.committed)} / ${f1(t.used)} | ${f1(t.spaces.new_space?.committed ?? 0)} | ${f1(t.spaces.old_space?.committed ?? 0)} | ${f1(t.external)} (${f1(t.arrayBuffers)}) | ${f1(t.malloced)} |`)),
  ] : [
    head, '',
    '| checkout | n | RSS | node binary | anon | V8 committed / used | new space | old space | code | external | anon − V8 | RSS after reloads | growth |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...opts.ns.flatMap((n) => variants.map((v) => row(v.label, results.filter((r) => r.label === v.label && r.n === n)))),
  ];
  finishRun('memory', run, o, lines.join('\n'), { results }, true);
});
