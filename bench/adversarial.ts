// Adversarial load (issue 11, "Done when"): while 5,000 idle connections, 500 slowloris connections
// (one byte every 3 s, reconnecting when cut) and a flood of requests to client-chosen host names
// (each a new name under a wildcard DYNAMIC_DNS ServiceEntry) all run against one waypoint with its
// DEFAULT limits, a side load of normal requests must see 0 errors, a p99 within 2x of its unloaded
// p99, and the waypoint's RSS must stay under --rss-bound-mb.
//
//   node_modules/.bin/node bench/adversarial.ts [--seconds 20] [--rate 200] [--flood-rate 200]
//     [--idle 5000] [--slowloris 500] [--rss-bound-mb 400] [--json out.json]
//
// It needs more file descriptors than the usual 1024: it re-runs itself under
// `bash -c 'ulimit -n 65536 || ulimit -n <hard limit>'` (each process needs about 6,000). Roles run
// in separate processes so that no client shares an event loop with the waypoint or the upstream:
// `main` (the side load and the report), `upstream` (HTTP upstream + a DNS server that answers
// every name with 127.0.0.1), `attack` (idle, slowloris, flood) and the waypoint itself (the CLI).
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { setPriority, tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliPath } from './lib/egressway.ts';
import * as dnsPacket from 'dns-packet';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NODE = join(REPO, 'node_modules/.bin/node');
const SELF = fileURLToPath(import.meta.url);

function flag(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
function strFlag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const role = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 'main';

// ---------------------------------------------------------------------------------------------
// upstream: an HTTP server (small body) and a DNS server answering any A question with 127.0.0.1.
function runUpstream(): void {
  const http = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('{"ok":true}\n'));
  });
  http.keepAliveTimeout = 60_000;
  const udp = createSocket('udp4');
  udp.on('message', (msg, peer) => {
    let q;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    if (!question) return;
    const answers = question.type === 'A' ? [{ type: 'A' as const, name: question.name, ttl: 300, class: 'IN' as const, data: '127.0.0.1' }] : [];
    udp.send(dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: q.questions, answers }), peer.port, peer.address);
  });
  http.listen(0, '127.0.0.1', () => {
    udp.bind(0, '127.0.0.1', () => {
      const a = http.address() as { port: number };
      process.send!({ http: a.port, dns: udp.address().port });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// attack: idle connections, slowloris, and the client-chosen-host flood. Reports every second.
function runAttack(): void {
  // Attackers run on other machines: here they yield the CPU to the waypoint (--attack-nice, default
  // 19) so that what is measured is the waypoint's cost of the attack, not the attacker's.
  try {
    setPriority(flag('attack-nice', 19));
  } catch { /* not permitted: run at the inherited priority */ }
  const proxyPort = flag('proxy-port', 0);
  const idleN = flag('idle', 5000);
  const slowN = flag('slowloris', 500);
  const floodRate = flag('flood-rate', 200);
  let stopping = false;
  const stats = { idleOpen: 0, idleCut: 0, slowOpen: 0, slowCut: 0, floodOk: 0, floodErr: 0, floodOther: 0, floodHosts: 0 };
  const slow = new Set<Socket>();

  const idle = () => {
    const s = connect(proxyPort, '127.0.0.1');
    s.on('error', () => {});
    s.once('connect', () => stats.idleOpen++);
    let opened = false;
    s.once('connect', () => { opened = true; });
    s.once('close', () => {
      if (opened) stats.idleOpen--;
      if (!stopping) {
        stats.idleCut++;
        setTimeout(idle, 100);
      }
    });
  };
  const loris = () => {
    const s = connect(proxyPort, '127.0.0.1');
    s.on('error', () => {});
    s.once('connect', () => {
      stats.slowOpen++;
      slow.add(s);
      s.write('GET http://bench.upstream.test/ HTTP/1.1\r\nHost: bench.upstream.test\r\nX-');
    });
    s.once('close', () => {
      if (slow.delete(s)) stats.slowOpen--;
      if (!stopping) {
        stats.slowCut++;
        setTimeout(loris, 100);
      }
    });
  };
  const drip = setInterval(() => { for (const s of slow) s.write('a'); }, 3_000);

  // Ramp: 250 connections every 50 ms.
  void (async () => {
    for (let i = 0; i < idleN; i++) {
      idle();
      if (i % 250 === 249) await sleep(50);
    }
    for (let i = 0; i < slowN; i++) {
      loris();
      if (i % 250 === 249) await sleep(50);
    }
  })();

  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  let n = 0;
  const floodOne = () => {
    const host = `h${process.pid}-${n++}.flood.test`;
    stats.floodHosts++;
    const req = request({ host: '127.0.0.1', port: proxyPort, path: `http://${host}/`, agent, headers: { host } }, (res) => {
      if (res.statusCode === 200) stats.floodOk++;
      else stats.floodOther++;
      res.resume();
    });
    req.on('error', () => stats.floodErr++);
    req.end();
  };
  const tickMs = 20;
  const perTick = floodRate * tickMs / 1000;
  let carry = 0;
  const flood = floodRate > 0 ? setInterval(() => {
    carry += perTick;
    for (; carry >= 1; carry--) floodOne();
  }, tickMs) : undefined;

  const report = setInterval(() => process.send!(stats), 1_000);
  process.on('message', (m: { stop?: boolean }) => {
    if (!m.stop) return;
    stopping = true;
    clearInterval(drip);
    clearInterval(flood);
    clearInterval(report);
    process.send!(stats, () => process.exit(0));
  });
}

// ---------------------------------------------------------------------------------------------
// main

interface SideResult { ok: number; errors: number; errorSamples: string[]; p50: number; p99: number; max: number }

/** Paced requests at `rate`/s for `seconds`, over a keep-alive pool of 16 sockets. */
async function sideLoad(proxyPort: number, rate: number, seconds: number): Promise<SideResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const lat: number[] = [];
  let errors = 0;
  const errorSamples: string[] = [];
  const inflight: Promise<void>[] = [];
  const one = () => new Promise<void>((done) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port: proxyPort, path: 'http://bench.upstream.test/', agent, headers: { host: 'bench.upstream.test' } }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) lat.push(performance.now() - t0);
        else {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(`${res.statusCode} ${res.headers['x-egressway-flags'] ?? ''} ${res.headers['x-egressway-details'] ?? ''}`);
        }
        done();
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('client timeout 10 s')));
    req.on('error', (e) => {
      errors++;
      if (errorSamples.length < 5) errorSamples.push(e.message);
      done();
    });
    req.end();
  });
  const total = rate * seconds;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    inflight.push(one());
  }
  await Promise.all(inflight);
  agent.destroy();
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]! : NaN;
  return { ok: lat.length, errors, errorSamples, p50: q(0.5), p99: q(0.99), max: lat[lat.length - 1] ?? NaN };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** User + system CPU seconds of a process so far (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

function once<T>(child: ChildProcess): Promise<T> {
  return new Promise((r) => child.once('message', (m) => r(m as T)));
}

async function startWaypoint(configDir: string, dnsPort: number, extra: string[]): Promise<{ child: ChildProcess; proxyPort: number; statsUrl: string }> {
  const child = spawn(NODE, [cliPath({ egresswayRoot: REPO }), 'run', '--config', configDir, '--proxy-port', '0', '--admin-port', '0', '--status-port', '0', '--stats-port', '0',
    '--dns-server', `127.0.0.1:${dnsPort}`, '--allow-cidr', '127.0.0.0/8', '--access-log', 'off', '--no-watch', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolveP, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      for (const line of out.split('\n')) {
        if (!line.includes('"listening"')) continue;
        const l = (JSON.parse(line) as { listeners: Record<string, string> }).listeners;
        resolveP({ child, proxyPort: Number(l.proxy!.split(':').pop()), statsUrl: `http://${l.stats}/stats/prometheus` });
        return;
      }
    });
    child.once('exit', (code) => reject(new Error(`waypoint exited ${code}: ${out.slice(-2000)}`)));
  });
}

function config(upstreamPort: number): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: istio-egress}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bench, namespace: istio-egress, labels: {istio.io/use-waypoint: waypoint}}
spec:
  hosts: [bench.upstream.test]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${upstreamPort}}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: flood, namespace: istio-egress, labels: {istio.io/use-waypoint: waypoint}}
spec:
  hosts: ["*.flood.test"]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${upstreamPort}}]
  resolution: DYNAMIC_DNS
`;
}

interface ServerView { buckets: Map<number, number>; lag: Record<string, number> }

/** The side load's duration histogram (cumulative buckets) and the event-loop lag since the last scrape. */
async function serverView(statsUrl: string): Promise<ServerView> {
  const text = await (await fetch(statsUrl)).text();
  const buckets = new Map<number, number>();
  const lag: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('istio_request_duration_milliseconds_bucket{') && line.includes('destination_service="bench.upstream.test"') && line.includes('response_code="200"')) {
      const le = /le="([^"]+)"/.exec(line)![1]!;
      const v = Number(line.split(' ').pop());
      const k = le === '+Inf' ? Infinity : Number(le);
      buckets.set(k, (buckets.get(k) ?? 0) + v);
    }
    const m = /^egressway_event_loop_lag_seconds\{stat="(\w+)"\} (\S+)/.exec(line);
    if (m) lag[m[1]!] = Number(m[2]) * 1000;
  }
  return { buckets, lag };
}

/** p99 upper bound (a bucket edge, Envoy's buckets) of the requests counted between two views. */
function bucketP99(before: ServerView, after: ServerView): number {
  const edges = [...after.buckets.keys()].sort((a, b) => a - b);
  const total = (after.buckets.get(Infinity) ?? 0) - (before.buckets.get(Infinity) ?? 0);
  for (const e of edges) if ((after.buckets.get(e) ?? 0) - (before.buckets.get(e) ?? 0) >= 0.99 * total) return e;
  return Infinity;
}

function metricLines(text: string): string[] {
  return text.split('\n').filter((l) => /^egressway_(downstream_limit_total|dns_cache|downstream_cx_active|overload_active)/.test(l));
}

async function main(): Promise<void> {
  const seconds = flag('seconds', 20);
  const rate = flag('rate', 200);
  const rssBound = flag('rss-bound-mb', 400);
  const dir = mkdtempSync(join(tmpdir(), 'egw-adv-'));
  const children: ChildProcess[] = [];
  const cleanup = () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); };
  process.once('SIGINT', () => { cleanup(); process.exit(130); });
  try {
    const up = fork(SELF, ['upstream'], { execPath: NODE });
    children.push(up);
    const ports = await once<{ http: number; dns: number }>(up);
    writeFileSync(join(dir, 'bench.yaml'), config(ports.http));
    const extra = (strFlag('waypoint-flags') ?? '').split(' ').filter(Boolean);
    const wp = await startWaypoint(dir, ports.dns, extra);
    children.push(wp.child);
    const pid = wp.child.pid!;
    console.log(`waypoint pid ${pid}, proxy 127.0.0.1:${wp.proxyPort}; fd limit ${execUlimit()}`);
    await sideLoad(wp.proxyPort, rate, flag('warmup', 5)); // warm-up: JIT, pools
    const rssIdle = rssMb(pid);
    let cpu0 = cpuSeconds(pid);
    const v0 = await serverView(wp.statsUrl);
    const unloaded = await sideLoad(wp.proxyPort, rate, seconds);
    const v1 = await serverView(wp.statsUrl);
    const cpuUnloaded = cpuSeconds(pid) - cpu0;
    console.log(`unloaded: ${fmt(unloaded)}; RSS ${rssIdle.toFixed(0)} MB`);

    const attack = fork(SELF, ['attack', '--proxy-port', String(wp.proxyPort), '--idle', String(flag('idle', 5000)),
      '--slowloris', String(flag('slowloris', 500)), '--flood-rate', String(flag('flood-rate', 200)), '--attack-nice', String(flag('attack-nice', 19))], { execPath: NODE });
    children.push(attack);
    let last: Record<string, number> = {};
    attack.on('message', (m) => { last = m as Record<string, number>; });
    // Ramp until the idle and slowloris connections are all open.
    const want = flag('idle', 5000) + flag('slowloris', 500);
    for (let i = 0; i < 60 && (last.idleOpen ?? 0) + (last.slowOpen ?? 0) < want * 0.98; i++) await sleep(500);
    console.log(`attack ramped: ${JSON.stringify(last)}`);
    let rssMax = 0;
    let fdMax = 0;
    const sampler = setInterval(() => { rssMax = Math.max(rssMax, rssMb(pid)); fdMax = Math.max(fdMax, fdCount(pid)); }, 250);
    cpu0 = cpuSeconds(pid);
    const v2 = await serverView(wp.statsUrl);
    const loaded = await sideLoad(wp.proxyPort, rate, seconds);
    const v3 = await serverView(wp.statsUrl);
    const cpuLoaded = cpuSeconds(pid) - cpu0;
    const server = {
      unloaded: { p99BucketMs: bucketP99(v0, v1), loopLagMs: v1.lag },
      loaded: { p99BucketMs: bucketP99(v2, v3), loopLagMs: v3.lag },
    };
    clearInterval(sampler);
    const during = { ...last };
    const m = metricLines(await (await fetch(wp.statsUrl)).text());
    attack.send({ stop: true });
    const final = await once<Record<string, number>>(attack);
    const rssEnd = rssMb(pid);
    const ok = loaded.errors === 0 && unloaded.errors === 0 && loaded.p99 <= 2 * unloaded.p99 && rssMax <= rssBound;
    const result = {
      seconds, rate, unloaded, loaded, p99Ratio: loaded.p99 / unloaded.p99,
      rssMb: { idle: rssIdle, maxUnderAttack: rssMax, end: rssEnd, bound: rssBound }, fdMax,
      waypointCpuSeconds: { unloaded: cpuUnloaded, loaded: cpuLoaded }, server, loadAverage: readFileSync('/proc/loadavg', 'utf8').trim(),
      attackDuringSideLoad: during, attackFinal: final, metrics: m, pass: ok,
    };
    console.log(`loaded:   ${fmt(loaded)}`);
    console.log(`p99 loaded/unloaded ${result.p99Ratio.toFixed(2)}x (target <= 2x); RSS idle ${rssIdle.toFixed(0)} MB, max under attack ${rssMax.toFixed(0)} MB (bound ${rssBound}), fds max ${fdMax}`);
    console.log(`waypoint CPU: ${cpuUnloaded.toFixed(1)} s unloaded, ${cpuLoaded.toFixed(1)} s under attack, over ${seconds} s each; machine load average ${result.loadAverage}`);
    console.log(`inside the waypoint (istio_request_duration_milliseconds, Envoy buckets): p99 <= ${server.unloaded.p99BucketMs} ms unloaded, <= ${server.loaded.p99BucketMs} ms under attack; event-loop lag ms ${JSON.stringify(server.unloaded.loopLagMs)} unloaded, ${JSON.stringify(server.loaded.loopLagMs)} under attack`);
    console.log(`attack totals: ${JSON.stringify(final)}`);
    console.log(m.join('\n'));
    console.log(ok ? 'PASS' : 'FAIL');
    const out = strFlag('json');
    if (out) writeFileSync(out, JSON.stringify(result, null, 2));
    process.exitCode = ok ? 0 : 1;
  } finally {
    cleanup();
  }
}

function execUlimit(): string {
  try {
    return readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!.replace(/\s+/g, ' ').trim();
  } catch {
    return '?';
  }
}

function fmt(r: SideResult): string {
  return `${r.ok} ok, ${r.errors} errors${r.errorSamples.length ? ` (${r.errorSamples.join('; ')})` : ''}, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(1)} ms`;
}

if (role === 'upstream') runUpstream();
else if (role === 'attack') runAttack();
else if (!process.env.EGW_ADVERSARIAL_ULIMIT) {
  // Raise the descriptor limit for this process tree, then run the real thing.
  const args = process.argv.slice(2).map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('bash', ['-c', `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec '${NODE}' '${SELF}' ${args}`], {
    stdio: 'inherit', env: { ...process.env, EGW_ADVERSARIAL_ULIMIT: '1' },
  });
  child.once('exit', (code) => process.exit(code ?? 1));
} else {
  await main();
}
