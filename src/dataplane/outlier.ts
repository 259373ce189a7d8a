// Envoy outlier detection for one cluster (DestinationRule outlierDetection), consecutive-error
// detectors only, as Istio configures it (success-rate ejection disabled).
//  - A response with status 5xx, or a local-origin failure (connect failure, timeout, reset before
//    headers; Envoy treats them as 503 unless splitExternalLocalOriginErrors), extends the host's run
//    of consecutive 5xx; 502/503/504 and local-origin failures extend its run of gateway errors. Any
//    other response ends both runs.
//  - A run reaching its threshold ejects the host at once, unless that would eject more than
//    maxEjectionPercent of the hosts. It is ejected for baseEjectionTime x (times ejected); the count
//    falls by one for each interval the host then stays un-ejected.
//  - Un-ejection is checked lazily when picking, instead of on Envoy's interval timer: a host comes
//    back at most one interval earlier than it would in Envoy, and no timer runs per cluster.
import type { OutlierPolicy } from '../model/cluster-policy.ts';

/** What one upstream attempt ended with, as outlier detection sees it. */
export type Outcome = { readonly status: number } | { readonly localFailure: true };

interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
  ejections: number;
  ejectedUntil: number;
  lastChange: number;
}

export class OutlierDetector {
  #p: OutlierPolicy;
  #hosts = new Map<string, HostState>();
  #size: number;
  #now: () => number;

  constructor(p: OutlierPolicy, hostCount: number, now: () => number = Date.now) {
    this.#p = p;
    this.#size = Math.max(hostCount, 1);
    this.#now = now;
  }

  isEjected(host: string): boolean {
    const h = this.#hosts.get(host);
    if (!h || h.ejectedUntil === 0) return false;
    const now = this.#now();
    if (now < h.ejectedUntil) return true;
    h.ejectedUntil = 0;
    h.lastChange = now;
    return false;
  }

  /** Ejected hosts right now, for the max-ejection and panic checks. */
  ejectedCount(hosts: readonly string[]): number {
    let n = 0;
    for (const h of hosts) if (this.isEjected(h)) n++;
    return n;
  }

  /** True when so few hosts are healthy that Envoy's panic mode sends to all of them. */
  panics(healthy: number): boolean {
    return this.#p.minHealthPercent > 0 && (100 * healthy) / this.#size < this.#p.minHealthPercent;
  }

  report(host: string, outcome: Outcome, allHosts: readonly string[]): void {
    const h = this.#state(host);
    const local = 'localFailure' in outcome;
    const status = local ? 503 : outcome.status;
    if (status < 500) {
      h.consecutive5xx = 0;
      h.consecutiveGateway = 0;
      return;
    }
    h.consecutive5xx++;
    if (local || status === 502 || status === 503 || status === 504) h.consecutiveGateway++;
    else h.consecutiveGateway = 0;
    const p = this.#p;
    const trip = (p.consecutive5xxErrors > 0 && h.consecutive5xx >= p.consecutive5xxErrors)
      || (p.consecutiveGatewayErrors > 0 && h.consecutiveGateway >= p.consecutiveGatewayErrors);
    if (trip && !this.isEjected(host)) this.#eject(host, h, allHosts);
  }

  #state(host: string): HostState {
    let h = this.#hosts.get(host);
    if (!h) {
      // Hosts are the config's endpoints, except for NONE clusters, where they are request-chosen:
      // past a bound, state that holds no ejection is forgotten (it is counters of recent errors).
      if (this.#hosts.size >= Math.max(64, 4 * this.#size)) {
        for (const [k, v] of this.#hosts) if (v.ejectedUntil === 0) this.#hosts.delete(k);
      }
      this.#hosts.set(host, (h = { consecutive5xx: 0, consecutiveGateway: 0, ejections: 0, ejectedUntil: 0, lastChange: this.#now() }));
    }
    return h;
  }

  #eject(host: string, h: HostState, allHosts: readonly string[]): void {
    // Envoy: eject only while (ejected + 1) / hosts stays within maxEjectionPercent.
    const ejected = this.ejectedCount(allHosts);
    if ((100 * (ejected + 1)) / this.#size > this.#p.maxEjectionPercent) return;
    const now = this.#now();
    const healthyIntervals = Math.floor((now - h.lastChange) / this.#p.intervalMs);
    h.ejections = Math.max(h.ejections - healthyIntervals, 0) + 1;
    h.ejectedUntil = now + this.#p.baseEjectionTimeMs * h.ejections;
    h.lastChange = now;
    h.consecutive5xx = 0;
    h.consecutiveGateway = 0;
  }
}
