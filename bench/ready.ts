// Issue 16's time-to-ready row: `egressway run` on N ServiceEntries + N AuthorizationPolicies + N
// VirtualServices (one file per service, as bench/scale.ts writes them), from spawn to the
// `listening` log line, wall and CPU (user + system of the whole process at that moment, from
// /proc), next to `node -e 0`'s in the same run. With `--egressway-root DIR` the same config is
// started from that checkout too, alternating round by round, so two commits compare on the same
// machine load.
//   nice -n 10 ./node_modules/.bin/node bench/ready.ts [--n 1000,3334] [--rounds 5] [--egressway-root DIR]
//     [--concurrency 1] [--cpu-prof DIR]
// `--cpu-prof DIR` writes each run's V8 CPU profile into DIR/this or DIR/other (the waypoint exits on SIGTERM once
// ready, so the profile ends at ready plus the shutdown).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CLK_TCK } from './lib/processes.ts';
import { authorizationPolicy, loopbackEntry, WAYPOINT_YAML } from '../test/helpers/inprocess.ts';
import { REPO_ROOT } from '../test/helpers/waypoint.ts';

const { values: flags } = parseArgs({
  options: {
    n: { type: 'string', default: '1000,3334' },
    rounds: { type: 'string', default: '5' },
    'egressway-root': { type: 'string' },
    concurrency: { type: 'string', default: '1' },
    'cpu-prof': { type: 'string' },
  },
});
const ROUNDS = Number(flags.rounds);
const NODE = join(REPO_ROOT, 'node_modules/.bin/node');
const ROOTS = [{ name: 'this', dir: REPO_ROOT }, ...(flags['egressway-root'] ? [{ name: 'other', dir: resolve(flags['egressway-root']) }] : [])];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;

/** The config of bench/scale.ts, byte for byte. */
function serviceFile(i: number, port: number): string {
  const ap = authorizationPolicy(`ap-${i}`, `svc-${i}`, `action: DENY\nrules: [{to: [{operation: {ports: ["80"], paths: ["/deny-${i}"]}}]}]`);
  const vs = `---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs-${i}, namespace: istio-egress}\nspec:\n  hosts: [svc-${i}.test]\n  http: [{timeout: 5s, route: [{destination: {host: svc-${i}.test}}]}]\n`;
  return [loopbackEntry(`svc-${i}`, port), ap, vs].join('\n');
}

/** User + system CPU of a process (all its threads), or of this process's reaped children. */
function cpuMs(pid: number | 'self', children = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state is field 3; utime 14, stime 15, cutime 16, cstime 17 (1-based).
  const [u, s] = children ? [Number(f[13]), Number(f[14])] : [Number(f[11]), Number(f[12])];
  return ((u + s) * 1000) / CLK_TCK;
}

function anchor(): { wall: number; cpu: number } {
  const c0 = cpuMs('self', true);
  const t = performance.now();
  spawnSync(NODE, ['-e', '0']);
  return { wall: performance.now() - t, cpu: cpuMs('self', true) - c0 };
}

/** /config_dump without its two timestamps: what two checkouts must agree on for the same files. */
async function configDump(admin: string): Promise<string> {
  const body = (await (await fetch(`http://${admin}/config_dump`)).json()) as { snapshotSwappedAt: unknown; lastReload: { at: unknown } | null };
  body.snapshotSwappedAt = null;
  if (body.lastReload) body.lastReload.at = null;
  return JSON.stringify(body);
}

async function startToReady(root: string, dir: string, profDir?: string, dump?: (text: string) => void): Promise<{ wall: number; cpu: number }> {
  const args = [
    ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
    join(root, 'bin/egressway.js'), 'run', '--config', dir, '--access-log', 'off', '--no-watch',
    '--proxy-port', '0', '--admin-port', '0', '--status-port', '0', '--stats-port', '0',
  ];
  const t = performance.now();
  const child = spawn(NODE, args, { cwd: root, env: { ...process.env, EGRESSWAY_CONCURRENCY: flags.concurrency }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => void (err += d));
  const result = await new Promise<{ wall: number; cpu: number }>((res, rej) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('"msg":"listening"')) {
        const wall = performance.now() - t;
        child.stdout.removeAllListeners('data');
        res({ wall, cpu: cpuMs(child.pid!) });
      }
    });
    child.once('exit', (code) => rej(new Error(`egressway exited ${code} before listening: ${err.slice(-2000)}${out.slice(-2000)}`)));
    // A lost listening line (stdout writes failing: fixed in workers/output.ts) must not hang the bench.
    setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`no listening line after 300 s from ${root}; stderr: ${err.slice(-2000)}`));
    }, 300_000).unref();
  });
  if (dump) {
    const line = out.split('\n').find((l) => l.includes('"msg":"listening"'))!;
    dump(await configDump((JSON.parse(line) as { listeners: { admin: string } }).listeners.admin));
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return result;
}

console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; --concurrency ${flags.concurrency}; ${ROUNDS} rounds`);
for (const n of flags.n.split(',').map(Number)) {
  const dir = await mkdtemp(join(tmpdir(), 'egressway-ready-'));
  try {
    await writeFile(join(dir, 'waypoint.yaml'), WAYPOINT_YAML);
    for (let i = 0; i < n; i++) await writeFile(join(dir, `svc-${i}.yaml`), serviceFile(i, 18080));
    const anchors: { wall: number; cpu: number }[] = [];
    const runs = new Map(ROOTS.map((r) => [r.name, [] as { wall: number; cpu: number }[]]));
    // One unrecorded start per checkout (the compile cache and the page cache warm up), which also
    // takes its /config_dump: two checkouts must load the very same snapshot and diagnostics.
    const dumps: string[] = [];
    for (const r of ROOTS) await startToReady(r.dir, dir, undefined, (d) => dumps.push(d));
    for (let i = 0; i < ROUNDS; i++) {
      anchors.push(anchor());
      for (const r of i % 2 ? [...ROOTS].reverse() : ROOTS) runs.get(r.name)!.push(await startToReady(r.dir, dir, flags['cpu-prof'] && join(flags['cpu-prof'], r.name)));
    }
    console.log(`\n${n} x 3 resources (${3 * n + 1}, ${n + 1} files)`);
    console.log(`  anchor node -e 0: wall ${fmt(anchors.map((a) => a.wall))}, CPU ${fmt(anchors.map((a) => a.cpu))}`);
    if (dumps.length === 2) console.log(`  /config_dump of the two checkouts (timestamps aside): ${dumps[0] === dumps[1] ? 'identical' : 'DIFFERENT'} (${dumps[0]!.length} bytes)`);
    for (const r of ROOTS) {
      const xs = runs.get(r.name)!;
      console.log(`  ${r.name === 'this' ? 'this checkout' : r.dir}: start -> ready wall ${fmt(xs.map((x) => x.wall))}, CPU ${fmt(xs.map((x) => x.cpu))}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
console.log(`\nload average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
