// One data-plane worker of `run --concurrency N` (a worker thread): the same request path as a
// single-process `run` (server.ts startDataPlane), on the snapshot the primary sends, with every
// listener bound with SO_REUSEPORT beside the other workers'. It has no config source of its own,
// no admin port and no stdout: log lines and access-log batches go to the primary, which writes
// them, and metrics and summaries are read by the primary on each scrape.
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { SnapshotStore } from '../controlplane/store.ts';
import { startDataPlane, type DataPlane } from '../data-plane.ts';
import { Metrics } from '../telemetry/metrics.ts';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.ts';
import type { PodWorkload } from '../model/identity.ts';
import { CredentialReplica, IdentityReplica, PodReplica } from './replicas.ts';
import { MemoryReleaser } from '../controlplane/release-memory.ts';
import { applyDelta } from './snapshot-delta.ts';

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (m: FromWorker): void => port.postMessage(m);

const log = pino({ level: init.logLevel, base: { component: 'egressway', worker: init.index } }, { write: (s: string) => post({ t: 'out', s }) });
const store = new SnapshotStore();
store.swap(init.snapshot, []);
const metrics = new Metrics();
let completed = 0;
metrics.bindWorker(init.index, () => completed);

const r = init.replicas;
const credentials = r.credentials && new CredentialReplica(r.credentials);
const pods = r.pods && new PodReplica(r.pods.namespacesInPolicy, JSON.parse(r.pods.entries) as [string, PodWorkload][]);
const identity = r.identity && new IdentityReplica(r.identity);

// A worker's start-up (modules, the first snapshot's copy) grows its young generation as a load
// does the primary's; each later snapshot is a copy of its size. Given back once the loop is quiet.
const releaser = init.options.releaseMemory === false ? undefined : new MemoryReleaser();
if (releaser) metrics.bindMemoryRelease(() => releaser.stats);

let dp: DataPlane | undefined;
port.on('message', (m: ToWorker) => void onMessage(m));

async function onMessage(m: ToWorker): Promise<void> {
  switch (m.t) {
    case 'snapshot':
      // Same rule as the store's offer(): a snapshot already served is not swapped again.
      if (store.current().version !== m.snapshot.version) {
        store.swap(m.snapshot, []);
        releaser?.schedule();
      }
      return post({ t: 'swapped', version: store.current().version });
    case 'delta':
      // The primary sends a delta only on the snapshot it sent last; anything else is a bug, repaired.
      if (store.current().version !== m.delta.base) return post({ t: 'resync', version: store.current().version });
      // No memory release after a delta: it allocates a few objects, not a snapshot's copy.
      store.swap(applyDelta(store.current(), m.delta), []);
      return post({ t: 'swapped', version: store.current().version });
    case 'collect': {
      const s = dp?.summary();
      return post({
        t: 'collected', id: m.id,
        data: { metrics: await metrics.state(), summary: dp!.summaries.state(), activeRequests: s?.totals.activeRequests ?? 0, activeTunnels: s?.totals.activeTunnels ?? 0 },
      });
    }
    case 'drain':
      releaser?.close();
      await dp?.stop(m.graceMs);
      return post({ t: 'drained' });
    case 'credentials':
      return credentials?.set(m.entries);
    case 'pods':
      return pods?.apply(m.delta);
    case 'identity':
      return identity?.set(m.material);
    case 'crash':
      if (!init.testHooks) return;
      // An uncaught exception, as a bug would throw: the primary sees the worker die and restarts it.
      setImmediate(() => { throw new Error('crash requested by a test (EGRESSWAY_TEST_HOOKS=1)'); });
  }
}

try {
  dp = await startDataPlane({ ...init.options, logger: log, onRecord: () => void completed++ }, store, metrics, {
    log, accessLog: (batch) => post({ t: 'out', s: batch }), reusePort: true, ports: init.ports, credentials, pods, identity,
  });
  post({ t: 'listening', listeners: dp.listeners });
  releaser?.schedule();
} catch (err) {
  post({ t: 'failed', message: (err as Error).message });
}
