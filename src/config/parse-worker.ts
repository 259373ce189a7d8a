// A parse thread of config/parse-threads.ts: takes batches of files from the shared counter and
// sends each batch's documents back as plain data, then ends.
import { parentPort, workerData } from 'node:worker_threads';
import type { ParsedBatch, ParseWorkerData } from './parse-threads.ts';
import { readDocuments } from './yaml-ast.ts';

const { srcs, batch: size, next } = workerData as ParseWorkerData;
const counter = new Int32Array(next);
const batches = Math.ceil(srcs.length / size);
for (let b = Atomics.add(counter, 0, 1); b < batches; b = Atomics.add(counter, 0, 1)) {
  const message: ParsedBatch = { batch: b, docs: srcs.slice(b * size, (b + 1) * size).map(readDocuments) };
  parentPort!.postMessage(message);
}
parentPort!.postMessage('end');
