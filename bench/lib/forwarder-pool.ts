// The zero-feature forwarder (bench/baseline-forwarder.ts) on N event loops sharing one port, in the
// two ways Node offers, so bench/concurrency.ts can measure which one `egressway run --concurrency`
// should use without Egressway's own code in the way:
//   cluster: N processes; the primary accepts every connection and hands it round-robin to a worker
//            (node:cluster's default scheduling on Linux)
//   threads: N worker threads in one process, each with its own SO_REUSEPORT listener; the kernel
//            spreads connections by a hash of the 4-tuple
//
//   node bench/lib/forwarder-pool.ts --mode cluster|threads --workers N
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { startForwarder } from '../baseline-forwarder.ts';

const SELF = fileURLToPath(import.meta.url);

function announce(port: number, mode: string, workers: number): void {
  const listeners = { proxy: `127.0.0.1:${port}` };
  process.stdout.write(`${JSON.stringify({ msg: `listening: baseline forwarder x${workers} (${mode}) http://${listeners.proxy}`, listeners })}\n`);
}

function startThread(port: number): Promise<number> {
  const w = new Worker(SELF, { workerData: { port } });
  return new Promise((resolve, reject) => {
    w.once('message', (p: number) => resolve(p));
    w.once('error', reject);
  });
}

async function primary(): Promise<void> {
  const { values } = parseArgs({ options: { mode: { type: 'string', default: 'threads' }, workers: { type: 'string', default: '2' } } });
  const n = Number(values.workers);
  if (values.mode === 'cluster') {
    cluster.setupPrimary({ exec: SELF, args: [] });
    let up = 0;
    cluster.on('listening', (_w, a) => { if (++up === n) announce(a.port, 'cluster', n); });
    for (let i = 0; i < n; i++) cluster.fork();
    return;
  }
  // Port 0: the first thread picks the port, the others join it.
  const port = await startThread(0);
  for (let i = 1; i < n; i++) await startThread(port);
  announce(port, 'threads', n);
}

if (cluster.isWorker) {
  await startForwarder(0, '127.0.0.1');
} else if (!isMainThread) {
  const a = await startForwarder((workerData as { port: number }).port, '127.0.0.1', true);
  parentPort!.postMessage(a.port);
} else {
  await primary();
}
