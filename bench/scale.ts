// Issue 16's config-scale rows, file mode: N ServiceEntries + N AuthorizationPolicies + N
// VirtualServices (one file per service, three documents each), then
//   - RSS of `egressway run` once ready (and 2 s later), against `node -e` in the same run;
//   - process start -> ready (the `listening` line), against `node -e 0`'s start;
//   - one changed resource among them: an AuthorizationPolicy's denied path moves in its file;
//     "apply" is FileSource.reload() in this process (re-read, compile, swap), "end to end" is the
//     file write until the running waypoint answers the new path with 403 (includes the 100 ms
//     debounce of convention 4);
//   - what sending that change to each worker of `--concurrency N` costs the primary: the delta
//     (session 5) against the whole snapshot by structured clone (before).
// Run alone, niced: `nice -n 10 ./node_modules/.bin/node --expose-gc bench/scale.ts [--n 0,1000,3334] [--rounds 40] [--warmup 3] [--change ap|se|vs]`
// (`--change`: what the in-process rounds change: a policy's denied path, an entry's target port, a route's timeout).
// (n = 0: the waypoint alone, the anchor the per-resource figures are taken against).
// `--heap FILE` writes a heap snapshot of the in-process store after the first load (see heap-summary.ts).
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { serialize, writeHeapSnapshot } from 'node:v8';
import { MessageChannel } from 'node:worker_threads';
import type { Snapshot } from '../src/model/snapshot.ts';
import { FileSource } from '../src/controlplane/file-source.ts';
import { SnapshotStore } from '../src/controlplane/store.ts';
import { authorizationPolicy, loopbackEntry, WAYPOINT_YAML } from '../test/helpers/inprocess.ts';
import { fetchVia } from '../test/helpers/proxy-fetch.ts';
import { startHttpUpstream } from '../test/helpers/upstream.ts';
import { REPO_ROOT, startWaypoint } from '../test/helpers/waypoint.ts';

const { values: flags } = parseArgs({ options: { n: { type: 'string', default: '0,1000,3334' }, rounds: { type: 'string', default: '40' }, warmup: { type: 'string', default: '3' }, change: { type: 'string', default: 'ap' }, heap: { type: 'string' }, 'no-process': { type: 'boolean' } } });
const ROUNDS = Number(flags.rounds);
/** Changes applied before the measured ones: the first few after a first load pay for its JIT and garbage. */
const WARMUP = Number(flags.warmup);
const NODE = join(REPO_ROOT, 'node_modules/.bin/node');

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ms = (x: number) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;
async function rssMiB(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function policyYaml(i: number, path: string): string {
  return authorizationPolicy(`ap-${i}`, `svc-${i}`, `action: DENY\nrules: [{to: [{operation: {ports: ["80"], paths: ["${path}"]}}]}]`);
}
function serviceFile(i: number, port: number, path = `/deny-${i}`, timeout = '5s'): string {
  const vs = `---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs-${i}, namespace: istio-egress}\nspec:\n  hosts: [svc-${i}.test]\n  http: [{timeout: ${timeout}, route: [{destination: {host: svc-${i}.test}}]}]\n`;
  return [loopbackEntry(`svc-${i}`, port), policyYaml(i, path), vs].join('\n');
}

/**
 * `--change`: what each in-process round changes in its file: the policy's denied path (ap), the
 * entry's target port (se) or the route's timeout (vs); and how the round checks it took effect.
 */
function changed(i: number, port: number, r: number): { text: string; check: (snap: Snapshot) => boolean } {
  const cluster = `inbound-vip|80|http|svc-${i}.test`;
  switch (flags.change) {
    case 'se': return { text: serviceFile(i, 20000 + r), check: (snap) => snap.clusters.get(cluster)?.targetPort === 20000 + r };
    case 'vs': return { text: serviceFile(i, port, undefined, `${r + 10}s`), check: (snap) => snap.routes.get(cluster)?.rules[0]?.timeoutMs === (r + 10) * 1000 };
    default: return { text: serviceFile(i, port, `/moved-${r}`), check: (snap) => JSON.stringify(snap.authz.services.get(`istio-egress/svc-${i}`)?.deny[0]?.rules[0]).includes(`/moved-${r}`) };
  }
}

async function writeConfig(dir: string, n: number, port: number): Promise<void> {
  await writeFile(join(dir, 'waypoint.yaml'), WAYPOINT_YAML);
  for (let i = 0; i < n; i++) await writeFile(join(dir, `svc-${i}.yaml`), serviceFile(i, port));
}

/** `node -e` anchors: start-to-exit time and the RSS of an idle Node, measured now, on this machine. */
function nodeFloor(): { startMs: number; rssMiB: number } {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    spawnSync(NODE, ['-e', '0']);
    times.push(performance.now() - s);
  }
  const out = spawnSync(NODE, ['-e', 'setTimeout(() => console.log(process.memoryUsage().rss), 200)'], { encoding: 'utf8' }).stdout;
  return { startMs: pct(times, 50), rssMiB: Number(out) / 1024 / 1024 };
}

async function inProcess(dir: string, n: number, port: number): Promise<void> {
  const store = new SnapshotStore();
  const source = new FileSource(store, [dir], {}, () => {});
  const heapBefore = process.memoryUsage().heapUsed;
  let s = performance.now();
  const c0 = process.cpuUsage();
  const first = await source.reload();
  const loadMs = performance.now() - s;
  const c1 = process.cpuUsage(c0);
  if (!first.ok) throw new Error(`config rejected: ${first.diagnostics.slice(0, 3).map((d) => d.message).join('; ')}`);
  globalThis.gc?.();
  const heapMiB = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
  console.log(`  in-process first load (read+parse+validate+compile): ${ms(loadMs)} (CPU ${ms((c1.user + c1.system) / 1000)}); retained heap ${heapMiB.toFixed(1)} MiB${globalThis.gc ? '' : ' (run with --expose-gc for an exact figure)'} = ${((heapMiB * 1024) / (3 * n)).toFixed(1)} KiB per resource`);
  if (flags.heap) {
    writeHeapSnapshot(flags.heap);
    console.log(`  heap snapshot: ${flags.heap}`);
  }
  if (n === 0) return source.close();
  const lat: number[] = [];
  const cpu: number[] = [];
  const toWorker: { wholeMs: number; wholeBytes: number; deltaMs: number; deltaBytes: number }[] = [];
  for (let r = -WARMUP; r < ROUNDS; r++) {
    const i = ((r + n) * 7919) % n;
    const file = join(dir, `svc-${i}.yaml`);
    const change = changed(i, port, r);
    await writeFile(file, change.text);
    const prev = store.current();
    s = performance.now();
    const c = process.cpuUsage();
    // The file named, as the watcher names it (watchPaths); the debounce is not part of this figure.
    const res = await source.reload([file]);
    const used = process.cpuUsage(c);
    if (r >= 0) {
      cpu.push((used.user + used.system) / 1000);
      lat.push(performance.now() - s);
      if (r < 10) toWorker.push(await workerCost(prev, store.current()));
    }
    if (!res.changed) throw new Error(`round ${r}: the reload did not change the snapshot`);
    if (!change.check(store.current())) throw new Error(`round ${r}: the change (--change ${flags.change}) is not in the snapshot`);
  }
  console.log(`  one changed resource (${{ ap: 'AuthorizationPolicy', se: 'ServiceEntry', vs: 'VirtualService' }[flags.change!] ?? flags.change}), applied (FileSource.reload, in-process) over ${ROUNDS} rounds after ${WARMUP} unmeasured: p50 ${ms(pct(lat, 50))}, p99 ${ms(pct(lat, 99))}, max ${ms(Math.max(...lat))}; CPU per reload p50 ${ms(pct(cpu, 50))}, p99 ${ms(pct(cpu, 99))}`);
  const med = (f: (x: (typeof toWorker)[number]) => number) => pct(toWorker.map(f), 50);
  console.log(`  the change to each worker (--concurrency > 1), primary's loop, median of ${toWorker.length}: ${workerDelta ? `delta ${ms(med((x) => x.deltaMs))} (${(med((x) => x.deltaBytes) / 1024).toFixed(1)} KiB) against ` : ''}whole snapshot ${ms(med((x) => x.wholeMs))} (${(med((x) => x.wholeBytes) / 1024 / 1024).toFixed(1)} MiB)`);
  source.close();
  // Restore the files for the process run.
  for (let r = -WARMUP; r < ROUNDS; r++) {
    const i = ((r + n) * 7919) % n;
    await writeFile(join(dir, `svc-${i}.yaml`), serviceFile(i, port));
  }
}

// What sending a change to one worker costs the primary: postMessage serialises on the sender's
// loop. The whole snapshot is what main sent before session 5; the delta (src/workers/snapshot-delta.ts,
// where it exists) is what is sent now.
const workerDelta = await import(join(REPO_ROOT, 'src/workers/snapshot-delta.ts')).catch(() => undefined) as
  | { snapshotDelta(prev: Snapshot, next: Snapshot): unknown } | undefined;

async function workerCost(prev: Snapshot, next: Snapshot) {
  const { port1, port2 } = new MessageChannel();
  try {
    let t = performance.now();
    port1.postMessage({ t: 'snapshot', snapshot: next });
    const wholeMs = performance.now() - t;
    const wholeBytes = serialize(next).length;
    if (!workerDelta) return { wholeMs, wholeBytes, deltaMs: NaN, deltaBytes: NaN };
    t = performance.now();
    const delta = workerDelta.snapshotDelta(prev, next);
    port1.postMessage({ t: 'delta', delta });
    return { wholeMs, wholeBytes, deltaMs: performance.now() - t, deltaBytes: serialize(delta).length };
  } finally {
    port1.close();
    port2.close();
  }
}

async function asProcess(dir: string, n: number, port: number): Promise<void> {
  const s = performance.now();
  const wp = await startWaypoint({ configDir: dir, args: ['--access-log', 'off'], startTimeoutMs: 300_000 });
  const ready = performance.now() - s;
  const rssReady = await rssMiB(wp.pid);
  if (n === 0) {
    await new Promise((r) => setTimeout(r, 2000));
    console.log(`  egressway run, the waypoint alone (the anchor for the rows below): start -> ready ${ms(ready)}; RSS at ready ${rssReady.toFixed(0)} MiB, 2 s later ${(await rssMiB(wp.pid)).toFixed(0)} MiB`);
    return wp.close();
  }
  const last = n - 1;
  const st = (await fetchVia(wp.proxyUrl, `http://svc-${last}.test/deny-${last}`, {}, { tunnel: false })).status;
  await new Promise((r) => setTimeout(r, 2000));
  const rssLater = await rssMiB(wp.pid);
  console.log(`  egressway run: start -> ready ${ms(ready)}; last policy in force: ${st === 403 ? 'yes' : `NO (${st})`}; RSS at ready ${rssReady.toFixed(0)} MiB, 2 s later ${rssLater.toFixed(0)} MiB`);
  const lat: number[] = [];
  for (let r = 0; r < Math.min(ROUNDS, 30); r++) {
    const i = (r * 7919 + 13) % n;
    const path = `/moved-${r}`;
    const t = performance.now();
    await writeFile(join(dir, `svc-${i}.yaml`), serviceFile(i, port, path));
    for (;;) {
      const code = (await fetchVia(wp.proxyUrl, `http://svc-${i}.test${path}`, {}, { tunnel: false }).catch(() => ({ status: 0 }))).status;
      if (code === 403) break;
      if (performance.now() - t > 60_000) throw new Error(`round ${r}: no effect after 60 s`);
      await new Promise((res) => setTimeout(res, 2));
    }
    lat.push(performance.now() - t);
  }
  console.log(`  one changed file -> new behaviour served (end to end, includes the 100 ms debounce) over ${lat.length} rounds: p50 ${ms(pct(lat, 50))}, p99 ${ms(pct(lat, 99))}`);
  console.log(`  RSS after the changes: ${(await rssMiB(wp.pid)).toFixed(0)} MiB`);
  await wp.close();
}

const floor = nodeFloor();
console.log(`anchor: node -e 0 starts and exits in ${ms(floor.startMs)}; an idle node's RSS is ${floor.rssMiB.toFixed(0)} MiB`);
const up = await startHttpUpstream();
try {
  for (const n of flags.n.split(',').map(Number)) {
    const dir = await mkdtemp(join(tmpdir(), 'egressway-scale-'));
    try {
      await writeConfig(dir, n, up.port);
      console.log(`\n${n} ServiceEntries + ${n} AuthorizationPolicies + ${n} VirtualServices (${3 * n + 1} resources, ${n + 1} files)`);
      await inProcess(dir, n, up.port);
      if (!flags['no-process']) await asProcess(dir, n, up.port);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
} finally {
  await up.close();
}
