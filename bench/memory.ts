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
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { authorizationPolicy, loopbackEntry, WAYPOINT_YAML } from '../test/helpers/inprocess.ts';
import { cliPath } from './lib/egressway.ts';
import { startServer, stopProcess } from './lib/processes.ts';
import { beginRun, finishRun, intOption, main, parseOptions, REPO, type CommonOptions } from './lib/run.ts';

const PROBE = join(REPO, 'bench/lib/memory-probe.mjs');
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

interface ThreadHeap { readonly threadId: number; readonly at: number; readonly committed: number; readonly used: number; readonly external: number; readonly spaces: Record<string, { committed: number; used: number }> }
interface Sample {
  readonly rss: number; readonly binary: number; readonly files: number; readonly anon: number;
  readonly heapCommitted: number; readonly heapUsed: number; readonly newSpace: number; readonly oldSpace: number; readonly code: number; readonly external: number;
  readonly threads: readonly ThreadHeap[];
}

/** VmRSS split by mapping (MiB): the node binary's pages, other files, anonymous (heap, malloc, stacks). */
function smaps(pid: number): { rss: number; binary: number; files: number; anon: number } {
  let name = '';
  const kb = { binary: 0, files: 0, anon: 0 };
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) { name = head[1]!; continue; }
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (!m) continue;
    const key = name.endsWith('/node') ? 'binary' : name.startsWith('/') ? 'files' : 'anon';
    kb[key] += Number(m[1]);
  }
  const rss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return { rss: rss / 1024, binary: kb.binary / 1024, files: kb.files / 1024, anon: kb.anon / 1024 };
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

interface Result { readonly root: string; readonly n: number; readonly settled: Sample; readonly afterReloads?: Sample; readonly reloadMs: readonly number[] }

async function measure(o: Options, root: string, n: number, runDir: string, tag: string): Promise<Result> {
  const dir = await writeServices(join(runDir, `config-${n}`), n);
  const probeOut = join(runDir, `probe-${tag}`);
  const ro = { ...o, egresswayRoot: root };
  const threads = o.concurrency > 1 ? o.concurrency + 1 : 1;
  const server = await startServer(tag, [cliPath(ro), 'run', '--config', dir, '--proxy-port', '0', '--admin-port', '0', '--status-port', '0', '--stats-port', '0', '--access-log', 'off'],
    runDir, undefined, 300_000, { EGRESSWAY_CONCURRENCY: String(o.concurrency), NODE_OPTIONS: `--import ${PROBE}`, MEMORY_PROBE_OUT: probeOut });
  try {
    await sleep(o.settle * 1000);
    const settled = await sample(server.pid, probeOut, threads, Date.now());
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

interface Options extends CommonOptions { readonly ns: readonly number[]; readonly reloads: number; readonly settle: number; readonly reloadSettle: number; readonly rounds: number; readonly compare?: string }

const f1 = (x: number) => x.toFixed(1);
function row(name: string, rs: readonly Result[]): string {
  const m = (f: (r: Result) => number | undefined) => { const xs = rs.map(f).filter((x): x is number => x !== undefined); return xs.length ? f1(median(xs)) : '—'; };
  const s = (f: (x: Sample) => number) => m((r) => f(r.settled));
  return `| ${name} | ${rs[0]!.n} | ${s((x) => x.rss)} | ${s((x) => x.binary)} | ${s((x) => x.anon)} | ${s((x) => x.heapCommitted)} / ${s((x) => x.heapUsed)} | ${s((x) => x.newSpace)} | ${s((x) => x.oldSpace)} | ${s((x) => x.code)} | ${s((x) => x.external)} | ${s((x) => x.anon - x.heapCommitted)} | ${m((r) => r.afterReloads?.rss)} | ${m((r) => r.afterReloads && r.afterReloads.rss - r.settled.rss)} |`;
}

main('memory', async () => {
  const { common, values } = parseOptions({ n: { type: 'string', default: '0,1000' }, reloads: { type: 'string', default: '20' }, settle: { type: 'string', default: '3' }, 'reload-settle': { type: 'string', default: '35' }, rounds: { type: 'string', default: '1' }, compare: { type: 'string' } });
  const o: Options = {
    ...common, ns: values.n!.split(',').map((x) => intOption('n', x, 0)), reloads: intOption('reloads', values.reloads!, 0), settle: intOption('settle', values.settle!, 0), reloadSettle: intOption('reload-settle', values['reload-settle']!, 0),
    rounds: intOption('rounds', values.rounds!, 1), compare: values.compare && resolve(values.compare),
  };
  if (o.compare && !existsSync(o.compare)) throw new Error(`--compare ${o.compare}: no such checkout`);
  const run = await beginRun();
  const load0 = os.loadavg();
  const roots = o.compare ? [o.compare, o.egresswayRoot] : [o.egresswayRoot];
  const results: Result[] = [];
  // One unmeasured start each: the first start after an edit fills Node's compile cache and loads
  // its TypeScript stripper (about 15 MiB) that a warm start does without.
  for (const root of roots) await measure({ ...o, settle: 0, reloads: 0 }, root, 0, run.runDir, `warm-${roots.indexOf(root)}`);
  for (let round = 0; round < o.rounds; round++) {
    for (const n of o.ns) {
      for (const root of round % 2 ? [...roots].reverse() : roots) {
        const r = await measure(o, root, n, run.runDir, `egw-${roots.indexOf(root)}-${n}-${round}`);
        process.stderr.write(`round ${round + 1}, n=${n}, ${root}: RSS ${f1(r.settled.rss)} MiB${r.afterReloads ? `, after ${o.reloads} reloads ${f1(r.afterReloads.rss)} MiB` : ''}\n`);
        results.push(r);
      }
    }
  }
  const lines = [
    `memory, --concurrency ${o.concurrency}, ${o.rounds} round(s), medians in MiB; load average ${load0.map(f1).join(' ')} → ${os.loadavg().map(f1).join(' ')}`, '',
    '| checkout | n | RSS | node binary | anon | V8 committed / used | new space | old space | code | external | anon − V8 | RSS after reloads | growth |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const n of o.ns) for (const root of roots) lines.push(row(root, results.filter((r) => r.root === root && r.n === n)));
  finishRun('memory', run, o, lines.join('\n'), { results }, true);
});
