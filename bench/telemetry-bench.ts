// The cost of telemetry: the same waypoint data plane with its record sink on (Istio metrics,
// per-service summaries, event-loop monitor, and the access log unless --access-log off) and off
// (a no-op sink). The goal (issue 3) is throughput with telemetry on within 10% of off.
//
// Everything but the sink is the same: the waypoint child wires store, upstreams and ProxyListener
// as src/server.ts does, so trace and request-id headers are generated in both modes. Rounds run
// off,on then on,off, so drift and order hit both modes alike; the verdict uses the medians.
//
//   node bench/telemetry-bench.ts [--duration 10] [--rounds 3] [--connections 50] [--access-log json|off]
//
// Needs wrk on the PATH (apt-get install wrk). Everything binds to 127.0.0.1.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

// Function declarations only below the dispatch: it runs at import, before any `const` is set.
const SELF = new URL(import.meta.url).pathname;

const { values: args } = parseArgs({
  options: {
    role: { type: 'string', default: 'driver' },
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    'access-log': { type: 'string', default: 'json' },
    telemetry: { type: 'string', default: 'on' },
    config: { type: 'string' },
  },
});

if (args.role === 'upstream') await upstream();
else if (args.role === 'waypoint') await waypoint(args.config!, args.telemetry === 'on', args['access-log'] === 'json' ? 'json' : 'off');
else await driver();

/** A keep-alive origin with a fixed small body. Prints its port. */
async function upstream(): Promise<void> {
  const body = Buffer.from('hello from the telemetry bench\n');
  const srv = createServer({ keepAliveTimeout: 60_000 }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  process.stdout.write(`${(srv.address() as AddressInfo).port}\n`);
}

/** The data plane as server.ts wires it, with the telemetry sink on or off. Prints its proxy port. */
async function waypoint(config: string, telemetry: boolean, accessLog: 'json' | 'off'): Promise<void> {
  const { SnapshotStore } = await import('../src/controlplane/store.ts');
  const { FileSource } = await import('../src/controlplane/file-source.ts');
  const { ProxyListener } = await import('../src/dataplane/proxy-listener.ts');
  const { Upstreams } = await import('../src/dataplane/upstream.ts');
  const { DnsCache } = await import('../src/dataplane/resolver.ts');
  const { Metrics } = await import('../src/telemetry/metrics.ts');
  const { ServiceSummaries } = await import('../src/telemetry/summary.ts');
  const { createAccessLog } = await import('../src/telemetry/access-log.ts');
  const store = new SnapshotStore();
  const first = await new FileSource(store, [config], {}, () => {}).reload();
  if (!first.ok) throw new Error('bench config has errors');
  const upstreams = new Upstreams(new DnsCache({}), {});
  let proxy: InstanceType<typeof ProxyListener>;
  let deps;
  if (telemetry) {
    const metrics = new Metrics();
    const summary = new ServiceSummaries();
    const log = createAccessLog(accessLog); // stdout is /dev/null: the write cost stays, the disk does not
    deps = {
      snapshots: store, upstreams,
      sink: (r: Parameters<typeof metrics.record>[0]) => { metrics.record(r); summary.record(r); log.write(r); },
      onTunnelOpen: (r: Parameters<typeof metrics.record>[0]) => { metrics.tunnelOpened(r); summary.tunnelOpened(r); },
    };
    proxy = new ProxyListener(deps);
    metrics.bindHealth({ activeRequests: () => proxy.activeRequests, activeTunnels: () => proxy.activeTunnels, snapshotSwappedAt: () => store.swappedAt, poolStats: () => upstreams.poolStats() });
  } else {
    proxy = new ProxyListener({ snapshots: store, upstreams, sink: () => {} });
  }
  const a = await proxy.listen(0, '127.0.0.1');
  process.stderr.write(`${a.port}\n`);
}

function startChild(argv: string[], portOn: 'stdout' | 'stderr'): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [SELF, ...argv], { stdio: ['ignore', portOn === 'stdout' ? 'pipe' : 'ignore', portOn === 'stderr' ? 'pipe' : 'inherit'] });
  const out = portOn === 'stdout' ? child.stdout! : child.stderr!;
  return new Promise((resolve, reject) => {
    let buf = '';
    out.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /^(\d+)\n/.exec(buf);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited with ${code} before listening: ${buf}`)));
  });
}

interface WrkResult { rps: number; requests: number; bad: number }

function wrk(port: number, luaFile: string, seconds: number, connections: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '-s', luaFile, `http://127.0.0.1:${port}`], { timeout: (seconds + 30) * 1000 }, (err, stdout) => {
      if (err) return reject(new Error(`wrk failed (is it installed? apt-get install wrk): ${err.message}`));
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
      const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN);
      const bad = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0) + Number(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout)?.slice(1).reduce((s, v) => s + Number(v), 0) ?? 0);
      resolve({ rps, requests, bad });
    });
  });
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

async function driver(): Promise<void> {
  const seconds = Number(args.duration);
  const rounds = Number(args.rounds);
  const connections = Number(args.connections);
  const dir = await mkdtemp(join(tmpdir(), 'egw-telemetry-bench-'));
  const children: ChildProcess[] = [];
  try {
    const up = await startChild(['--role', 'upstream'], 'stdout');
    children.push(up.child);
    await writeFile(join(dir, 'config.yaml'), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: istio-egress}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bench, namespace: istio-egress, labels: {istio.io/use-waypoint: waypoint}}
spec:
  hosts: [bench.test]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`);
    // Absolute-form request targets, as an HTTP_PROXY client sends them.
    const lua = join(dir, 'absolute.lua');
    await writeFile(lua, 'request = function() return wrk.format("GET", "http://bench.test/") end\n');
    const results: Record<'off' | 'on', WrkResult[]> = { off: [], on: [] };
    for (let i = 0; i < rounds; i++) {
      for (const mode of i % 2 ? ['on', 'off'] as const : ['off', 'on'] as const) {
        const wp = await startChild(['--role', 'waypoint', '--telemetry', mode, '--access-log', args['access-log']!, '--config', dir], 'stderr');
        try {
          await wrk(wp.port, lua, Math.min(1, seconds), connections); // warm-up: JIT and pools
          const r = await wrk(wp.port, lua, seconds, connections);
          results[mode].push(r);
          process.stdout.write(`round ${i + 1} telemetry ${mode.padEnd(3)}  ${r.rps.toFixed(0).padStart(7)} req/s  ${r.requests} requests  ${r.bad} errors\n`);
        } finally {
          wp.child.kill('SIGTERM');
        }
      }
    }
    const off = median(results.off.map((r) => r.rps));
    const on = median(results.on.map((r) => r.rps));
    const ratio = on / off;
    const bad = [...results.off, ...results.on].reduce((s, r) => s + r.bad, 0);
    process.stdout.write(`\nmedian req/s: off ${off.toFixed(0)}, on ${on.toFixed(0)} (access log ${args['access-log']}): on/off = ${(ratio * 100).toFixed(1)}%\n`);
    process.stdout.write(`goal: telemetry on >= 90% of off: ${ratio >= 0.9 ? 'met' : 'MISSED'}${bad ? ` (but ${bad} errors: numbers not trustworthy)` : ''}\n`);
    process.stdout.write('Trust these numbers only from a quiet machine: load, proxy and upstream share its cores.\n');
    process.exitCode = bad ? 1 : 0;
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}
