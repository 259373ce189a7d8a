// One measured phase, and the warm-up / saturation / paced sequence every bench target goes through.
// A phase is bracketed by two samples of the upstream's request count and of the CPU of the watched
// processes, so the CPU per request comes from the same window as the requests that cost it.
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { COUNT_PATH } from '../upstream-server.ts';
import { runPaced, runWrk, type Endpoint, type LoadResult, type LoadSpec } from './load.ts';

export type { Endpoint } from './load.ts';
import { cpuSeconds, otherCpuShare, sampleMachine, treeCpuSeconds, treePeakRssMiB, type MachineSample, type Server } from './processes.ts';
import { reconcile, type Phase, type PhaseCore } from './report.ts';

/** A process whose CPU and peak RSS a phase reports, by name (`proxy`, `agent`, `waypoint`...). */
export interface Watched {
  readonly name: string;
  readonly pid: number;
}

export interface PhaseOptions {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly rate: number;
}

export interface Measurement extends PhaseCore {
  /** user + system CPU seconds per 1000 requests the upstream served, per watched process. */
  readonly cpuSPer1k: Readonly<Record<string, number>>;
  /** VmHWM at the end of the phase (it only grows), per watched process. */
  readonly peakRssMiB: Readonly<Record<string, number>>;
}

export interface UpstreamCounts {
  readonly requests: number;
  /** Of `requests`, those served over the upstream's HTTPS listener. */
  readonly tlsRequests: number;
}

export async function upstreamCounts(upstream: Server): Promise<UpstreamCounts> {
  const res = await fetch(`http://${upstream.listeners.http}${COUNT_PATH}`);
  return (await res.json()) as UpstreamCounts;
}

async function upstreamCount(upstream: Server): Promise<number> {
  return (await upstreamCounts(upstream)).requests;
}

/** Waits until requests cut off at the generator's stop have drained through to the upstream. */
async function settle(upstream: Server): Promise<void> {
  let last = -1;
  for (let i = 0; i < 30; i++) {
    const n = await upstreamCount(upstream);
    if (n === last) return;
    last = n;
    await sleep(100);
  }
}

interface Sample {
  readonly served: number;
  readonly machine: MachineSample;
  readonly cpuS: readonly number[];
  readonly upstreamCpuS: number;
}

async function sample(upstream: Server, watched: readonly Watched[]): Promise<Sample> {
  return {
    served: await upstreamCount(upstream), machine: sampleMachine(),
    // A watched server's children count too (a node:cluster primary and its workers).
    cpuS: watched.map((w) => treeCpuSeconds(w.pid)), upstreamCpuS: cpuSeconds(upstream.pid),
  };
}

/** Runs one load between two samples. `inflight`: requests a generator may cut off when it stops. */
export async function measure(
  upstream: Server, watched: readonly Watched[], phase: Phase, inflight: number, run: () => Promise<LoadResult>,
): Promise<Measurement> {
  const a = await sample(upstream, watched);
  const load = await run();
  await settle(upstream);
  const b = await sample(upstream, watched);
  const served = b.served - a.served;
  // CPU and served requests cover the same window (the paced lead-in included), so their ratio is
  // the cost per request even though the client timed only part of those requests.
  const per1k = (cpuS: number): number => (cpuS / Math.max(served, 1)) * 1000;
  return {
    phase, load, upstreamServed: served, verified: reconcile(load, served, inflight),
    cpuSPer1k: Object.fromEntries(watched.map((w, i) => [w.name, per1k(b.cpuS[i]! - a.cpuS[i]!)])),
    peakRssMiB: Object.fromEntries(watched.map((w) => [w.name, treePeakRssMiB(w.pid)])),
    upstreamCpuSPer1k: per1k(b.upstreamCpuS - a.upstreamCpuS),
    otherCpuShare: otherCpuShare(a.machine, b.machine, os.cpus().length),
  };
}

/**
 * An unrecorded wrk warm-up, a saturation phase (wrk, `connections` keep-alive connections) and a
 * paced phase (paced-client at `rate` rps after an unrecorded lead-in). `label` prefixes progress lines.
 */
export async function runPhases(
  label: string, o: PhaseOptions, upstream: Server, ep: Endpoint, watched: readonly Watched[],
): Promise<{ saturation: Measurement; paced: Measurement }> {
  const spec = (seconds: number): LoadSpec => ({ ...ep, seconds, connections: o.connections });
  const say = (s: string): void => { process.stderr.write(`${label}: ${s}\n`); };
  if (o.warmupSeconds > 0) {
    say(`warm-up ${o.warmupSeconds}s (JIT, pools, sockets; not recorded)`);
    await runWrk(spec(o.warmupSeconds));
    // Requests the warm-up cut off may still be on their way to the upstream; counted in the
    // saturation window, they would break its reconciliation.
    await settle(upstream);
  }
  say(`saturation ${o.seconds}s, ${o.connections} connections (wrk)`);
  const saturation = await measure(upstream, watched, 'saturation', o.connections, () => runWrk(spec(o.seconds)));
  say(`paced ${o.rate} rps for ${o.seconds}s after a ${o.warmupSeconds}s lead-in (paced-client)`);
  const paced = await measure(upstream, watched, 'paced', 0, () => runPaced(spec(o.seconds), o.rate, o.warmupSeconds));
  return { saturation, paced };
}
