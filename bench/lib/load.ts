// The two load generators, each run as its own process, with their outputs brought to one shape.
// wrk drives saturation: it is written in C, so on a 2-core machine it leaves the most CPU to the
// proxy under test. paced-client drives the fixed-rate phase, which wrk cannot do.
import { fileURLToPath } from 'node:url';
import { runToCompletion } from './processes.ts';

/** Where a load generator sends its requests. */
export interface Endpoint {
  /** host:port the generator connects to: the proxy, or the upstream for `direct`. */
  readonly connect: string;
  /** Request-target sent verbatim: absolute-form through a proxy, origin-form direct. */
  readonly requestTarget: string;
  readonly hostHeader: string;
}

export interface LoadSpec extends Endpoint {
  readonly seconds: number;
  readonly connections: number;
}

export interface LoadResult {
  readonly tool: 'wrk' | 'paced-client';
  readonly seconds: number;
  /** Responses received, any status. */
  readonly requests: number;
  readonly ok: number;
  /** Non-2xx responses plus connect, read, write and timeout errors. */
  readonly errors: number;
  /** 2xx responses per second: a proxy that answers fast errors must not look fast. */
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** 2xx responses of an unrecorded lead-in inside the same run (paced-client's warm-up). */
  readonly warmupOk: number;
}

const WRK_SCRIPT = fileURLToPath(new URL('../wrk-report.lua', import.meta.url));
const PACED_CLIENT = fileURLToPath(new URL('../paced-client.ts', import.meta.url));
/** Time a generator may take beyond its duration before it is killed. */
const GRACE_MS = 20_000;
const REQUEST_TIMEOUT_S = 5;

function lastJsonLine(out: string): unknown {
  const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`load generator printed no JSON result:\n${out}`);
  return JSON.parse(line);
}

interface WrkJson {
  requests: number;
  durationUs: number;
  non2xx: number;
  errors: { connect: number; read: number; write: number; timeout: number };
  latencyUs: { p50: number; p99: number; p999: number; max: number };
}

/** Closed loop: `connections` keep-alive connections, each sending as soon as the last answer arrives. */
export async function runWrk(spec: LoadSpec): Promise<LoadResult> {
  const seconds = Math.max(1, Math.round(spec.seconds));
  // One thread: a second would only take CPU from the proxy. One wrk thread drives about 60k
  // req/s straight at the upstream on the 2-core dev VM, several times what a proxy serves there.
  const args = [
    '-t1', `-c${spec.connections}`, `-d${seconds}s`, '--timeout', `${REQUEST_TIMEOUT_S}s`,
    '-s', WRK_SCRIPT, `http://${spec.connect}/`,
  ];
  const env = { BENCH_PATH: spec.requestTarget, BENCH_HOST: spec.hostHeader };
  const j = lastJsonLine(await runToCompletion('wrk', args, seconds * 1000 + GRACE_MS, env)) as WrkJson;
  const e = j.errors;
  const took = j.durationUs / 1e6;
  const ok = j.requests - j.non2xx;
  return {
    tool: 'wrk', seconds: took, requests: j.requests, ok,
    errors: j.non2xx + e.connect + e.read + e.write + e.timeout,
    rps: ok / took, p50Ms: j.latencyUs.p50 / 1000, p99Ms: j.latencyUs.p99 / 1000, p999Ms: j.latencyUs.p999 / 1000, maxMs: j.latencyUs.max / 1000,
    warmupOk: 0,
  };
}

interface PacedJson {
  seconds: number;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  warmupOk: number;
  latencyMs: { p50: number; p99: number; p999: number; max: number };
}

/** Open loop at `rate` requests per second, after a `warmupSeconds` unrecorded lead-in. */
export async function runPaced(spec: LoadSpec, rate: number, warmupSeconds: number): Promise<LoadResult> {
  const args = [
    PACED_CLIENT, '--connect', spec.connect, '--target', spec.requestTarget, '--host', spec.hostHeader,
    '--rate', String(rate), '--duration', String(spec.seconds), '--warmup', String(warmupSeconds),
    '--connections', String(spec.connections), '--timeout', String(REQUEST_TIMEOUT_S),
  ];
  const budgetMs = (spec.seconds + warmupSeconds + 2 * REQUEST_TIMEOUT_S) * 1000 + GRACE_MS;
  const j = lastJsonLine(await runToCompletion(process.execPath, args, budgetMs)) as PacedJson;
  return {
    tool: 'paced-client', seconds: j.seconds, requests: j.requests, ok: j.ok,
    errors: j.non2xx + j.errors, rps: j.ok / j.seconds,
    p50Ms: j.latencyMs.p50, p99Ms: j.latencyMs.p99, p999Ms: j.latencyMs.p999, maxMs: j.latencyMs.max, warmupOk: j.warmupOk,
  };
}
