// Open-loop load at a fixed request rate, in its own process; prints one JSON line.
//
// Why not autocannon -R: its rate is a per-connection budget refilled once a second, so requests
// leave in bursts, and its latency histogram records whole milliseconds, too coarse for a 2 ms
// budget. Here request i is due at start + i/rate and is timed from that moment, not from when a
// socket came free, so a stalled proxy shows up as latency (no coordinated omission).
//
//   node bench/paced-client.ts --connect 127.0.0.1:PORT --target http://host:port/ --host host:port
//                              [--rate 1000] [--duration 10] [--warmup 1] [--connections 50] [--timeout 5]
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

interface Options {
  readonly hostname: string;
  readonly port: number;
  /** Request-target sent verbatim: absolute-form through a proxy, origin-form direct. */
  readonly target: string;
  readonly hostHeader: string;
  readonly rate: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly connections: number;
  readonly timeoutMs: number;
}

interface Tally {
  ok: number;
  non2xx: number;
  errors: number;
  inflight: number;
  lastDoneMs: number;
  readonly latenciesMs: number[];
}

function parseOptions(): Options {
  const { values: v } = parseArgs({
    options: {
      connect: { type: 'string' }, target: { type: 'string' }, host: { type: 'string' },
      rate: { type: 'string', default: '1000' }, duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '50' }, timeout: { type: 'string', default: '5' },
    },
  });
  if (!v.connect || !v.target || !v.host) throw new Error('--connect, --target and --host are required');
  const [hostname, port] = v.connect.split(':');
  return {
    hostname: hostname!, port: Number(port), target: v.target, hostHeader: v.host,
    rate: Number(v.rate), durationS: Number(v.duration), warmupS: Number(v.warmup),
    connections: Number(v.connections), timeoutMs: Number(v.timeout) * 1000,
  };
}

function sendOne(o: Options, agent: Agent, dueMs: number, t: Tally): void {
  t.inflight++;
  let settled = false;
  const finish = (outcome: 'ok' | 'non2xx' | 'errors'): void => {
    if (settled) return;
    settled = true;
    t.inflight--;
    t[outcome]++;
    t.lastDoneMs = performance.now();
    if (outcome !== 'errors') t.latenciesMs.push(t.lastDoneMs - dueMs);
  };
  const req = request({ agent, hostname: o.hostname, port: o.port, path: o.target, headers: { host: o.hostHeader } }, (res) => {
    const code = res.statusCode ?? 0;
    res.on('end', () => finish(code >= 200 && code < 300 ? 'ok' : 'non2xx'));
    res.on('error', () => finish('errors'));
    res.resume();
  });
  req.setTimeout(o.timeoutMs, () => req.destroy(new Error('timeout')));
  req.on('error', () => finish('errors'));
  req.end();
}

/** Sends on schedule for `seconds`; resolves with the start time. */
function drive(o: Options, seconds: number, agent: Agent, t: Tally): Promise<number> {
  const total = Math.round(o.rate * seconds);
  const intervalMs = 1000 / o.rate;
  const start = performance.now();
  let sent = 0;
  return new Promise((resolve) => {
    const tick = (): void => {
      // Timers fire late and in whole milliseconds: catch up on every request already due.
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
      for (; sent < due; sent++) sendOne(o, agent, start + sent * intervalMs, t);
      if (sent < total) setTimeout(tick, 1);
      else resolve(start);
    };
    tick();
  });
}

async function waitForInflight(t: Tally, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (t.inflight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function newTally(): Tally {
  return { ok: 0, non2xx: 0, errors: 0, inflight: 0, lastDoneMs: 0, latenciesMs: [] };
}

function summarize(o: Options, t: Tally, warm: Tally, startMs: number): object {
  const sorted = Float64Array.from(t.latenciesMs).sort();
  const seconds = Math.max(o.durationS, (t.lastDoneMs - startMs) / 1000);
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    tool: 'paced-client', rate: o.rate, seconds: round(seconds),
    requests: t.ok + t.non2xx, ok: t.ok, non2xx: t.non2xx,
    // Requests still unanswered at the deadline count as errors.
    errors: t.errors + t.inflight,
    // Lets the caller reconcile its upstream request count, which also saw the warm-up.
    warmupOk: warm.ok,
    latencyMs: {
      p50: round(percentile(sorted, 0.5)), p90: round(percentile(sorted, 0.9)),
      p99: round(percentile(sorted, 0.99)), p999: round(percentile(sorted, 0.999)), max: round(sorted.at(-1) ?? NaN),
    },
  };
}

async function main(): Promise<void> {
  const o = parseOptions();
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
  // An unrecorded lead-in at the same rate: JIT and connection setup in this client (and in the
  // target) would otherwise land in the first second's tail latencies.
  const warm = newTally();
  await drive(o, o.warmupS, agent, warm);
  await waitForInflight(warm, o.timeoutMs);
  const t = newTally();
  const start = await drive(o, o.durationS, agent, t);
  await waitForInflight(t, o.timeoutMs);
  process.stdout.write(`${JSON.stringify(summarize(o, t, warm, start))}\n`);
  agent.destroy();
  process.exit(0);
}

await main();
