// --identify-pods-by-ip: the cluster's Pods indexed by IP (status.podIPs), so a client that arrives
// without mTLS can be told apart in telemetry (and, opted in, in `namespaces` policy). Only what the
// lookup needs is kept per pod. hostNetwork pods share their node's IP: never indexed. An IP claimed by
// two live pods at once (a race during IP reuse) is ambiguous: not identified until one goes.
import type { PodIdentities, PodWorkload } from '../model/identity.ts';

export interface PodObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly labels?: Readonly<Record<string, string>> };
  readonly spec?: { readonly serviceAccountName?: string; readonly hostNetwork?: boolean };
  readonly status?: { readonly podIP?: string; readonly podIPs?: readonly { readonly ip?: string }[] };
}

export const DEFAULT_MAX_PODS = 100_000;

export class PodIndex implements PodIdentities {
  readonly namespacesInPolicy: boolean;
  #byIp = new Map<string, PodWorkload[]>();
  /** namespace/name -> the IPs it holds, to unindex on change or delete. */
  #ipsOf = new Map<string, { readonly ips: readonly string[]; readonly w: PodWorkload }>();
  #max: number;
  #full = false;
  #warn: (m: string) => void;

  constructor(o: { namespacesInPolicy: boolean; maxPods?: number; warn: (m: string) => void }) {
    this.namespacesInPolicy = o.namespacesInPolicy;
    this.#max = o.maxPods ?? DEFAULT_MAX_PODS;
    this.#warn = o.warn;
  }

  lookup(ip: string): PodWorkload | undefined {
    const ws = this.#byIp.get(ip);
    return ws?.length === 1 ? ws[0] : undefined;
  }

  /** Pods indexed (for the egressway_pod_ip_index_pods gauge). */
  get size(): number {
    return this.#ipsOf.size;
  }

  put(o: PodObject): void {
    const key = `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    this.delete(o);
    const ips = [...new Set([o.status?.podIP, ...(o.status?.podIPs ?? []).map((x) => x.ip)].filter((x): x is string => !!x))];
    if (o.spec?.hostNetwork || !ips.length) return;
    if (this.#ipsOf.size >= this.#max) {
      if (!this.#full) this.#warn(`--identify-pods-by-ip: more than ${this.#max} pods; pods beyond that are not identified (their clients count as unknown)`);
      this.#full = true;
      return;
    }
    const labels = o.metadata?.labels ?? {};
    const w: PodWorkload = {
      namespace: o.metadata?.namespace ?? '', pod: o.metadata?.name ?? '',
      serviceAccount: o.spec?.serviceAccountName || 'default',
      workload: labels['app.kubernetes.io/name'] || labels.app || o.metadata?.name || '',
    };
    this.#ipsOf.set(key, { ips, w });
    for (const ip of ips) {
      const list = this.#byIp.get(ip);
      if (list) list.push(w);
      else this.#byIp.set(ip, [w]);
    }
  }

  delete(o: PodObject): void {
    const key = `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    const held = this.#ipsOf.get(key);
    if (!held) return;
    this.#ipsOf.delete(key);
    this.#full = false;
    for (const ip of held.ips) {
      const rest = (this.#byIp.get(ip) ?? []).filter((x) => x !== held.w);
      if (rest.length) this.#byIp.set(ip, rest);
      else this.#byIp.delete(ip);
    }
  }
}
