// Host lookup on the hot path: one Map probe for the exact host, then one probe per label for
// wildcard suffixes, most specific first. Wildcards `*.example.com` match any depth of subdomain
// but not `example.com` itself, as Istio's host matching does.
import type { Destination, HostTable } from './snapshot.ts';

export function lookupDestination(table: HostTable, host: string, port: number): Destination | undefined {
  const h = host.toLowerCase();
  const exact = table.exact.get(h) ?? table.addresses.get(h);
  if (exact) {
    const d = exact.get(port);
    if (d) return d;
  }
  if (table.wildcard.size === 0) return undefined;
  let dot = h.indexOf('.');
  while (dot !== -1) {
    const d = table.wildcard.get(h.slice(dot))?.get(port);
    if (d) return d;
    dot = h.indexOf('.', dot + 1);
  }
  return undefined;
}

/** True when some entry covers the host on any port (for "wrong port" messages). */
export function hostKnown(table: HostTable, host: string): readonly number[] {
  const h = host.toLowerCase();
  const ports = new Set<number>();
  for (const m of [table.exact.get(h), table.addresses.get(h)]) if (m) for (const p of m.keys()) ports.add(p);
  let dot = h.indexOf('.');
  while (dot !== -1) {
    const m = table.wildcard.get(h.slice(dot));
    if (m) for (const p of m.keys()) ports.add(p);
    dot = h.indexOf('.', dot + 1);
  }
  return [...ports].sort((a, b) => a - b);
}
