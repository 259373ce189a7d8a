// Soak: the real waypoint (`egressway run`, from the CLI) with a config directory and real loopback
// upstreams, under mixed traffic for a long time while its config is rewritten every few seconds.
// It samples the waypoint's RSS and open file descriptors (/proc/<pid>), its live heap and active
// handles (bench/lib/soak-probe.ts, preloaded), and counts requests and unexpected outcomes, then
// prints one row per minute and a verdict: growth after warm-up (a linear fit over the minutes
// after --warmup) flags a leak.
//
//   node bench/soak.ts                          # 30 minutes, 100 operations/s, reload every 10 s
//   node bench/soak.ts --duration 8 --warmup 3  # a shorter look
//
// Traffic, by share of operations: plain GET through the proxy (expect 200), denied requests (a
// DENY on /denied* and on DELETE: 403), errors (an unknown host refused by REGISTRY_ONLY, and a
// ServiceEntry whose endpoint refuses connections: 503), CONNECT to a TCP port (an echo round trip)
// and CONNECT to an HTTP port (a request inside the tunnel the waypoint terminates). Anything else
// (another status, a reset, a timeout) is an unexpected outcome. Exit code 1 on a leak verdict or
// unexpected outcomes.
import { appendFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { cliPath, GATEWAY_YAML, HOST, NAMESPACE, WAYPOINT, serviceEntryYaml, startUpstream } from './lib/egressway.ts';
import { startServer, stopAll } from './lib/processes.ts';
import { REPO } from './lib/run.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '30' }, warmup: { type: 'string', default: '5' },
    rate: { type: 'string', default: '100' }, 'reload-every': { type: 'string', default: '10' },
    'sample-every': { type: 'string', default: '5' }, 'access-log': { type: 'string', default: 'json' },
    'egressway-root': { type: 'string', default: REPO },
  },
});
const num = (name: keyof typeof values, min: number) => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got "${String(values[name])}"`);
  return n;
};
const DURATION_MIN = num('duration', 1);
const WARMUP_MIN = Math.min(num('warmup', 0), Math.floor(DURATION_MIN / 2));
const RATE = num('rate', 1);
const RELOAD_S = num('reload-every', 1);
const SAMPLE_S = num('sample-every', 1);
const ROOT = values['egressway-root']!;
const OP_TIMEOUT_MS = 10_000;
const MAX_IN_FLIGHT = 256;
// Leak thresholds for the slope of the fit over the minutes after warm-up.
const LEAK = { rssMiBPerMin: 1, heapMiBPerMin: 0.5, externalMiBPerMin: 0.5, handlesPerMin: 2, fdsPerMin: 2 };

const runDir = join(REPO, '.bench', `soak-${new Date().toISOString().replace(/[:.]/g, '-')}`);
const configDir = join(runDir, 'config');
mkdirSync(configDir, { recursive: true });

// ---- upstreams ---------------------------------------------------------------------------------

function listen(server: NetServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

const echo = createServer((s) => { s.on('error', () => {}); s.pipe(s); });
const echoPort = await listen(echo);
// A port nothing listens on: the endpoint of the ServiceEntry whose upstream refuses connections.
const closed = createServer();
const deadPort = await listen(closed);
await new Promise((r) => closed.close(r));
const upstream = await startUpstream(runDir);
const upstreamPort = Number(upstream.listeners.http.split(':')[1]);

// ---- config ------------------------------------------------------------------------------------

function configYaml(generation: number): string {
  return `${GATEWAY_YAML}${serviceEntryYaml({ name: 'soak-http', host: HOST, port: 80, targetPort: upstreamPort })}${serviceEntryYaml({ name: 'soak-dead', host: 'dead.soak.test', port: 80, targetPort: deadPort })}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: soak-tcp, namespace: ${NAMESPACE}, labels: {istio.io/use-waypoint: ${WAYPOINT}}}
spec:
  hosts: [echo.soak.test]
  location: MESH_EXTERNAL
  ports: [{number: 9000, name: tcp, protocol: TCP, targetPort: ${echoPort}}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: soak-deny, namespace: ${NAMESPACE}}
spec:
  # The HTTP entry only: on TCP traffic Istio drops the HTTP-only fields of a DENY rule, which then
  # matches every tunnel (so a waypoint-wide one would deny CONNECT to echo.soak.test).
  targetRefs: [{group: networking.istio.io, kind: ServiceEntry, name: soak-http}]
  action: DENY
  rules: [{to: [{operation: {paths: ["/denied*"]}}]}, {to: [{operation: {methods: [DELETE]}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: soak-route, namespace: ${NAMESPACE}}
spec:
  hosts: [${HOST}]
  http:
  - headers: {request: {set: {x-soak-generation: "${generation}"}}}
    route: [{destination: {host: ${HOST}}}]
`;
}

const configFile = join(configDir, 'soak.yaml');
writeFileSync(configFile, configYaml(0));

// ---- the waypoint ------------------------------------------------------------------------------

const probeFile = join(runDir, 'probe.jsonl');
process.env.SOAK_PROBE_FILE = probeFile;
process.env.SOAK_PROBE_MS = String(SAMPLE_S * 1000);
const waypoint = await startServer('egressway', [
  '--expose-gc', '--import', join(REPO, 'bench/lib/soak-probe.ts'), cliPath({ egresswayRoot: ROOT }), 'run', '--config', configDir,
  '--proxy-port', '0', '--admin-port', '0', '--status-port', '0', '--stats-port', '0', '--access-log', values['access-log']!,
], runDir);
const proxyPort = Number(waypoint.listeners.proxy.split(':')[1]);
const adminPort = Number(waypoint.listeners.admin.split(':')[1]);

// ---- traffic -----------------------------------------------------------------------------------

type Kind = 'plain' | 'denied' | 'unknown-host' | 'dead-upstream' | 'connect-tcp' | 'connect-http';
const MIX: readonly [Kind, number][] = [['plain', 50], ['denied', 15], ['unknown-host', 5], ['dead-upstream', 5], ['connect-tcp', 15], ['connect-http', 10]];
const MIX_TOTAL = MIX.reduce((s, [, w]) => s + w, 0);

interface Minute { ops: number; unexpected: number; skipped: number; byKind: Record<string, number>; why: Record<string, number>; reloads: number; latencies: number[] }
const newMinute = (): Minute => ({ ops: 0, unexpected: 0, skipped: 0, byKind: {}, why: {}, reloads: 0, latencies: [] });
const minutes: Minute[] = [];
const started = Date.now();
const minuteOf = () => Math.floor((Date.now() - started) / 60_000);
const cur = () => (minutes[minuteOf()] ??= newMinute());

const agent = new Agent({ keepAlive: true, maxSockets: 32 });
let inFlight = 0;

function pickKind(): Kind {
  let x = Math.random() * MIX_TOTAL;
  for (const [k, w] of MIX) if ((x -= w) < 0) return k;
  return 'plain';
}

/** A request in absolute form through the proxy; resolves to the status code. */
function viaProxy(method: string, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: proxyPort, method, path: url, agent, headers: { host: new URL(url).host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.setTimeout(OP_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** CONNECT through the proxy, then `exchange` on the tunnel; resolves to what the exchange returns. */
function viaConnect(authority: string, send: string, done: (got: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(proxyPort, '127.0.0.1');
    let buf = '';
    let tunnel = false;
    const timer = setTimeout(() => s.destroy(new Error('timeout')), OP_TIMEOUT_MS);
    const finish = (err?: Error) => { clearTimeout(timer); s.destroy(); if (err) reject(err); else resolve(buf); };
    s.on('error', finish);
    s.on('close', () => finish(tunnel ? new Error(`tunnel closed early after ${JSON.stringify(buf.slice(0, 40))}`) : new Error(`no CONNECT answer: ${JSON.stringify(buf.slice(0, 40))}`)));
    s.setEncoding('latin1');
    s.on('data', (chunk: string) => {
      buf += chunk;
      if (!tunnel) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end);
        if (!/^HTTP\/1\.1 200/.test(head)) return finish(new Error(`CONNECT answered ${head.split('\r\n')[0]}`));
        tunnel = true;
        buf = buf.slice(end + 4);
        s.write(send);
      }
      if (tunnel && done(buf)) { tunnel = false; finish(); }
    });
    s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

async function operate(kind: Kind): Promise<string | undefined> {
  const expect = (got: number, want: number) => (got === want ? undefined : `${kind}: status ${got}`);
  switch (kind) {
    case 'plain': return expect(await viaProxy('GET', `http://${HOST}/ok`), 200);
    case 'denied': return Math.random() < 0.5 ? expect(await viaProxy('GET', `http://${HOST}/denied/x`), 403) : expect(await viaProxy('DELETE', `http://${HOST}/x`), 403);
    case 'unknown-host': { const s = await viaProxy('GET', 'http://unknown.soak.test/'); return s >= 400 && s < 600 ? undefined : `${kind}: status ${s}`; }
    case 'dead-upstream': return expect(await viaProxy('GET', 'http://dead.soak.test/'), 503);
    case 'connect-tcp': {
      const token = `ping-${Math.random().toString(36).slice(2)}\n`;
      await viaConnect('echo.soak.test:9000', token, (got) => got.includes(token));
      return undefined;
    }
    case 'connect-http': {
      const got = await viaConnect(`${HOST}:80`, `GET /tunnel HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`, (g) => /\r\n\r\nhello from the bench upstream\n/.test(g));
      return /^HTTP\/1\.1 200/.test(got) ? undefined : `${kind}: ${got.split('\r\n')[0]}`;
    }
  }
}

function launch(): void {
  const m = cur();
  if (inFlight >= MAX_IN_FLIGHT) { m.skipped++; return; }
  const kind = pickKind();
  const t0 = performance.now();
  inFlight++;
  operate(kind).then((bad) => bad, (err: Error) => `${kind}: ${err.message.slice(0, 60)}`).then((bad) => {
    inFlight--;
    const mm = cur();
    mm.ops++;
    mm.byKind[kind] = (mm.byKind[kind] ?? 0) + 1;
    mm.latencies.push(performance.now() - t0);
    if (bad) { mm.unexpected++; mm.why[bad] = (mm.why[bad] ?? 0) + 1; }
  });
}

// ---- sampling ----------------------------------------------------------------------------------

interface Sample { t: number; rssMiB: number; fds: number; heapMiB?: number; heapTotalMiB?: number; externalMiB?: number; handles?: number; version?: string }
const samples: Sample[] = [];

async function configVersion(): Promise<string | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${adminPort}/config_dump`, { signal: AbortSignal.timeout(5000) });
    const j = (await r.json()) as { lastReload?: { version?: string | null } | null };
    return j.lastReload?.version ?? undefined;
  } catch { return undefined; }
}

function lastProbe(): { heapUsed: number; heapTotal: number; external: number; handles: number } | undefined {
  try {
    const lines = readFileSync(probeFile, 'utf8').trimEnd().split('\n');
    return JSON.parse(lines[lines.length - 1]) as { heapUsed: number; heapTotal: number; external: number; handles: number };
  } catch { return undefined; }
}

async function sample(): Promise<void> {
  const status = readFileSync(`/proc/${waypoint.pid}/status`, 'utf8');
  const rss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) / 1024;
  const fds = readdirSync(`/proc/${waypoint.pid}/fd`).length;
  const probe = lastProbe();
  const version = await configVersion();
  const prev = samples.at(-1)?.version;
  if (version && prev && version !== prev) cur().reloads++;
  samples.push({ t: Date.now(), rssMiB: rss, fds, ...(probe ? { heapMiB: probe.heapUsed / 2 ** 20, heapTotalMiB: probe.heapTotal / 2 ** 20, externalMiB: probe.external / 2 ** 20, handles: probe.handles } : {}), ...(version ? { version } : {}) });
  appendFileSync(join(runDir, 'samples.jsonl'), `${JSON.stringify(samples.at(-1))}\n`);
}

// ---- run ---------------------------------------------------------------------------------------

console.log(`soak: ${DURATION_MIN} min, ${RATE} operations/s, config rewritten every ${RELOAD_S} s, samples every ${SAMPLE_S} s, warm-up ${WARMUP_MIN} min`);
console.log(`waypoint pid ${waypoint.pid}, proxy 127.0.0.1:${proxyPort}; logs and samples in ${runDir}`);
let generation = 0;
const end = started + DURATION_MIN * 60_000;
// Open loop: operations are owed by the clock, so a late timer (a busy machine) launches the ones
// it missed rather than quietly lowering the rate.
let launched = 0;
const traffic = setInterval(() => {
  const due = Math.floor(((Date.now() - started) * RATE) / 1000);
  for (; launched < due; launched++) launch();
}, 10);
const reloads = setInterval(() => writeFileSync(configFile, configYaml(++generation)), RELOAD_S * 1000);
let printed = 0;
// Ctrl-C or a crash of this script must not leave the waypoint and the upstream running.
process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
try {
  while (Date.now() < end) {
    await sleep(SAMPLE_S * 1000);
    await sample();
    for (; printed < minuteOf(); printed++) printRow(printed);
  }
  clearInterval(traffic);
  clearInterval(reloads);
  const drainDeadline = Date.now() + OP_TIMEOUT_MS + 1000;
  while (inFlight > 0 && Date.now() < drainDeadline) await sleep(100);
  await sample();
  for (; printed < Math.min(minuteOf() + 1, minutes.length); printed++) printRow(printed);
  process.exitCode = verdict() ? 0 : 1;
} finally {
  clearInterval(traffic);
  clearInterval(reloads);
  agent.destroy();
  echo.close();
  await stopAll();
}

// ---- report ------------------------------------------------------------------------------------

function minuteSamples(i: number): Sample[] {
  return samples.filter((s) => Math.floor((s.t - started) / 60_000) === i);
}

function last<T>(xs: readonly T[]): T | undefined {
  return xs[xs.length - 1];
}

function fmt(n: number | undefined, d = 1): string {
  return n === undefined ? '-' : n.toFixed(d);
}

function p99(xs: readonly number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))];
}

function printRow(i: number): void {
  if (i === 0) console.log('| min | ops | unexpected | skipped | reloads | p99 ms | RSS MiB | heap MiB (V8 total) | external MiB | handles | fds |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const m = minutes[i] ?? newMinute();
  const s = last(minuteSamples(i));
  console.log(`| ${i + 1} | ${m.ops} | ${m.unexpected} | ${m.skipped} | ${m.reloads} | ${fmt(p99(m.latencies))} | ${fmt(s?.rssMiB)} | ${fmt(s?.heapMiB, 2)} (${fmt(s?.heapTotalMiB)}) | ${fmt(s?.externalMiB, 2)} | ${s?.handles ?? '-'} | ${s?.fds ?? '-'} |`);
  if (m.unexpected) console.log(`|   | ${Object.entries(m.why).map(([k, v]) => `${k} ×${v}`).join('; ')} |`);
}

/** Least-squares slope of y over x. */
function slope(points: readonly [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
}

function verdict(): boolean {
  const after = samples.filter((s) => s.t - started >= WARMUP_MIN * 60_000);
  const minutesOf = (s: Sample) => (s.t - started) / 60_000;
  const fit = (pick: (s: Sample) => number | undefined) => {
    const pts = after.flatMap((s) => { const v = pick(s); return v === undefined ? [] : [[minutesOf(s), v] as [number, number]]; });
    return pts.length >= 3 ? slope(pts) : undefined;
  };
  const growth = { rssMiBPerMin: fit((s) => s.rssMiB), heapMiBPerMin: fit((s) => s.heapMiB), externalMiBPerMin: fit((s) => s.externalMiB), handlesPerMin: fit((s) => s.handles), fdsPerMin: fit((s) => s.fds) };
  const total = minutes.reduce((acc, m) => ({ ops: acc.ops + m.ops, unexpected: acc.unexpected + m.unexpected, skipped: acc.skipped + m.skipped, reloads: acc.reloads + m.reloads }), { ops: 0, unexpected: 0, skipped: 0, reloads: 0 });
  const leaks = (Object.keys(LEAK) as (keyof typeof LEAK)[]).filter((k) => (growth[k] ?? 0) > LEAK[k]);
  console.log(`\ntotals: ${total.ops} operations, ${total.unexpected} unexpected, ${total.skipped} skipped (over ${MAX_IN_FLIGHT} in flight), ${total.reloads} reloads seen (config rewritten ${generation} times)`);
  console.log(`growth after minute ${WARMUP_MIN} (linear fit, per minute): RSS ${fmt(growth.rssMiBPerMin, 2)} MiB, live heap ${fmt(growth.heapMiBPerMin, 3)} MiB, external ${fmt(growth.externalMiBPerMin, 3)} MiB, handles ${fmt(growth.handlesPerMin, 2)}, fds ${fmt(growth.fdsPerMin, 2)}`);
  const rss = samples.map((s) => s.rssMiB);
  console.log(`RSS: first ${fmt(rss[0])} MiB, max ${fmt(Math.max(...rss))} MiB, last ${fmt(last(rss))} MiB`);
  if (leaks.length === 1 && leaks[0] === 'rssMiBPerMin') {
    // Seen on 10-minute runs: V8 grows its heap reservation (heapTotal) as throughput rises, and RSS
    // follows while the live heap stays flat. A longer run shows whether RSS levels off.
    console.log('note: only RSS grew; live heap, external memory, handles and fds did not. Compare the V8 total column: heap sizing, not retained objects, unless RSS keeps growing over a longer run.');
  }
  const ok = leaks.length === 0 && total.unexpected === 0;
  console.log(`verdict: ${leaks.length ? `LEAK SUSPECTED (${leaks.join(', ')} above ${leaks.map((k) => LEAK[k]).join(', ')} per minute)` : 'no growth after warm-up above the thresholds'}; ${total.unexpected ? `${total.unexpected} UNEXPECTED outcomes` : 'no unexpected outcome'}`);
  writeFileSync(join(runDir, 'summary.json'), `${JSON.stringify({ durationMin: DURATION_MIN, warmupMin: WARMUP_MIN, rate: RATE, total, growth, leaks, minutes: minutes.map((m) => ({ ...m, latencies: undefined, p99: p99(m.latencies) })) }, null, 2)}\n`);
  return ok;
}
