// Deterministic VIP auto-allocation from 240.240.0.0/16, one per ServiceEntry host, as istiod does
// for entries without `addresses`. istiod keeps its allocations in status; we have no status to
// keep in file mode, so a hash of (namespace/name/host) picks the slot and collisions probe
// forward in (namespace, name, host) order. An entry keeps its VIP unless an earlier-sorted entry
// is added whose hash collides with it, which at 65k slots is rare.
import { hash } from 'node:crypto';

const SLOTS = 65536;

export interface VipRequest {
  readonly key: string; // namespace/name/host
}

/** Returns key -> VIP. `requests` must already be sorted; the result depends only on their order. */
export function allocateVips(requests: readonly VipRequest[], hashes?: Map<string, number>): Map<string, string> {
  const used = new Set<number>();
  const out = new Map<string, string>();
  for (const r of requests) {
    let slot = hashes?.get(r.key) ?? hash('sha256', r.key, 'buffer').readUInt16BE(0);
    hashes?.set(r.key, slot);
    while (used.has(slot) || isReserved(slot)) slot = (slot + 1) % SLOTS;
    used.add(slot);
    out.set(r.key, `240.240.${slot >> 8}.${slot & 255}`);
  }
  return out;
}

// Skip .0 and .255 in each /24: some clients treat them as network/broadcast addresses.
function isReserved(slot: number): boolean {
  const low = slot & 255;
  return low === 0 || low === 255;
}
