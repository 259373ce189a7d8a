// Preloaded (NODE_OPTIONS=--import) into a waypoint by bench/alloc-profile.ts: in the main thread,
// V8's sampling heap profiler with the objects later collected by scavenges and full GCs kept, so
// the profile is every allocation (sampled), not what stays live. Starts $ALLOC_PROBE_START_MS after
// load, runs $ALLOC_PROBE_MS, and writes the profile to $ALLOC_PROBE_OUT. Plain JavaScript, not
// TypeScript: a .ts preload would load Node's type stripper and allocate with it.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { isMainThread } from 'node:worker_threads';

const out = process.env.ALLOC_PROBE_OUT;
if (out && isMainThread) {
  const session = new Session();
  session.connect();
  const post = (method, params = {}) => new Promise((ok, fail) => session.post(method, params, (err, r) => (err ? fail(err) : ok(r))));
  setTimeout(async () => {
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    setTimeout(async () => {
      const { profile } = await post('HeapProfiler.stopSampling');
      writeFileSync(out, JSON.stringify(profile));
    }, Number(process.env.ALLOC_PROBE_MS ?? 5000)).unref();
  }, Number(process.env.ALLOC_PROBE_START_MS ?? 5000)).unref();
}
