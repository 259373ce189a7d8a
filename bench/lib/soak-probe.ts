// Preloaded into the soaked waypoint (`node --expose-gc --import bench/lib/soak-probe.ts ...`) by
// bench/soak.ts: every SOAK_PROBE_MS it collects garbage (so the heap figure is the live heap, not
// what the next GC would free) and appends one JSON line of memory and active handles to
// SOAK_PROBE_FILE. It never touches the waypoint's own code; without SOAK_PROBE_FILE it does nothing.
import { appendFileSync } from 'node:fs';

const file = process.env.SOAK_PROBE_FILE;
if (file) {
  const every = Number(process.env.SOAK_PROBE_MS ?? 5000);
  const gc = (globalThis as { gc?: () => void }).gc;
  setInterval(() => {
    gc?.();
    const m = process.memoryUsage();
    const types: Record<string, number> = {};
    const resources = process.getActiveResourcesInfo();
    for (const r of resources) types[r] = (types[r] ?? 0) + 1;
    appendFileSync(file, `${JSON.stringify({ t: Date.now(), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, handles: resources.length, types })}\n`);
  }, every).unref();
}
