// The request headers ztunnel puts on an HBONE CONNECT (ztunnel src/proxy/outbound.rs
// create_hbone_request), parsed without trusting their shape: `forwarded` (RFC 7239 for= and
// host=) and `baggage` (W3C, peer metadata for telemetry). PURE. `traceparent` is read where spans
// are exported (telemetry/trace-context.ts).

export interface Forwarded {
  /** for= as host:port (IPv6 bracketed), quotes removed. */
  readonly for?: string;
  readonly host?: string;
}

/** The first forwarded-element's for= and host= (ztunnel sends exactly one element). */
export function parseForwarded(value: string | undefined): Forwarded {
  if (!value) return {};
  const first = value.split(',')[0]!;
  const out: { for?: string; host?: string } = {};
  for (const pair of first.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const k = pair.slice(0, eq).trim().toLowerCase();
    let v = pair.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    if (v.length > 256 || !/^[\w.:[\]-]+$/.test(v)) continue; // not an address or host: ignore
    if (k === 'for' && out.for === undefined && isAddress(v)) out.for = v;
    else if (k === 'host' && out.host === undefined) out.host = v.toLowerCase();
  }
  return out;
}

function isAddress(v: string): boolean {
  if (v.startsWith('[')) return /^\[[0-9a-fA-F:.]+\](:\d{1,5})?$/.test(v);
  return /^\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?$/.test(v);
}

const WORKLOAD_KEYS = ['k8s.deployment.name', 'k8s.statefulset.name', 'k8s.daemonset.name', 'k8s.cronjob.name', 'k8s.job.name', 'k8s.pod.name'];

/** W3C baggage members as a map; percent-decoded values, properties dropped, bounded size. */
export function parseBaggage(value: string | undefined): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  if (!value || value.length > 8192) return out;
  for (const member of value.split(',')) {
    const semi = member.indexOf(';');
    const kv = semi >= 0 ? member.slice(0, semi) : member;
    const eq = kv.indexOf('=');
    if (eq <= 0) continue;
    const k = kv.slice(0, eq).trim();
    let v = kv.slice(eq + 1).trim();
    try {
      v = decodeURIComponent(v);
    } catch {
      continue;
    }
    if (!out.has(k)) out.set(k, v);
  }
  return out;
}

/**
 * The source workload name Istio's stats filter reports from baggage: the owning controller's name
 * (deployment, statefulset, ...), else the pod. Label values must stay bounded, so anything that is
 * not a Kubernetes name is dropped.
 */
export function workloadFromBaggage(b: ReadonlyMap<string, string>): string | undefined {
  for (const k of WORKLOAD_KEYS) {
    const v = b.get(k);
    if (v && v.length <= 253 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v)) return v;
  }
  return undefined;
}
