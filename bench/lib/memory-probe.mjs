// Preloaded (NODE_OPTIONS=--import) into every thread of the waypoint under bench/memory.ts: each
// thread writes its V8 heap figures to $MEMORY_PROBE_OUT.<threadId>.json once a second. Plain
// JavaScript, not TypeScript: a .ts preload would load Node's type stripper into every thread and
// distort what it measures.
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import { threadId } from 'node:worker_threads';

const out = process.env.MEMORY_PROBE_OUT;
const MiB = 1024 * 1024;
function dump() {
  const h = v8.getHeapStatistics();
  const m = process.memoryUsage();
  const spaces = {};
  for (const s of v8.getHeapSpaceStatistics()) {
    if (s.space_size > 0) spaces[s.space_name] = { committed: s.physical_space_size / MiB, used: s.space_used_size / MiB };
  }
  const body = { threadId, at: Date.now(), committed: h.total_physical_size / MiB, used: h.used_heap_size / MiB, external: m.external / MiB, arrayBuffers: m.arrayBuffers / MiB, malloced: h.malloced_memory / MiB, spaces };
  writeFileSync(`${out}.${threadId}.json`, JSON.stringify(body));
}
if (out) setInterval(dump, 1000).unref();
