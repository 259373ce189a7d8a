// Many files parsed on every core (issue 16: yaml was most of a 10,000-resource load). The files are
// cut into batches; this thread and up to THREADS worker threads each take the next batch from one
// shared counter until none is left, so a thread that starts late or runs slow simply takes fewer.
// Workers send plain data back (DocData: values and the few positions needed up front); resources,
// locators and everything after are built here, the same way as for a batch parsed here.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { readDocuments, type DocData, type SourceText } from './yaml-ast.ts';

export interface ParseThreadOptions {
  /** Worker threads at most, besides this one (default: the cores available minus one, at most 3). */
  readonly threads?: number;
  /** Below this many bytes of text, everything is parsed here: starting a worker costs more. */
  readonly minBytes?: number;
  /** Files per batch. */
  readonly batch?: number;
}

// A worker's start and its yaml import cost about 60 ms of CPU; yaml reads about 2.5 MB/s on this
// project's reference machine, so a worker pays for itself from a few hundred KB.
const MIN_BYTES = 512 * 1024;
const BATCH = 32;
const MAX_THREADS = 3;
const ENTRY = new URL(import.meta.url.endsWith('.ts') ? './parse-worker.ts' : './parse-worker.js', import.meta.url);

/** What a worker is given. */
export interface ParseWorkerData {
  readonly srcs: readonly SourceText[];
  readonly batch: number;
  /** One Int32: the next batch to take. */
  readonly next: SharedArrayBuffer;
}

/** From a worker: one batch's documents, in file order; then 'end'. */
export interface ParsedBatch {
  readonly batch: number;
  readonly docs: DocData[][];
}

/** How the last call split its work (tests check that threads were used). */
export const lastParse = { threads: 0, batchesHere: 0, batchesInWorkers: 0 };

/**
 * readDocuments of each text, on several threads when there is enough text. `onFile` is called
 * once per file, in no set order; for a file parsed here, right after it (so its tree is still
 * the one yaml-ast.ts keeps, and a locator needs no second parse).
 */
export async function readAllDocuments(srcs: readonly SourceText[], onFile: (index: number, docs: DocData[]) => void, o: ParseThreadOptions = {}): Promise<void> {
  const size = o.batch ?? BATCH;
  const batches = Math.ceil(srcs.length / size);
  let bytes = 0;
  for (const src of srcs) bytes += src.text.length;
  const threads = Math.min(o.threads ?? Math.min(MAX_THREADS, availableParallelism() - 1), batches - 1);
  if (threads < 1 || bytes < (o.minBytes ?? MIN_BYTES)) {
    Object.assign(lastParse, { threads: 0, batchesHere: batches, batchesInWorkers: 0 });
    srcs.forEach((src, i) => onFile(i, readDocuments(src)));
    return;
  }
  const done = new Uint8Array(batches);
  const next = new SharedArrayBuffer(4);
  const counter = new Int32Array(next);
  const data: ParseWorkerData = { srcs, batch: size, next };
  let inWorkers = 0;
  const received = (b: number, docs: DocData[][]) => {
    if (done[b]) return;
    done[b] = 1;
    for (let i = 0; i < docs.length; i++) onFile(b * size + i, docs[i]!);
  };
  const parseHere = (b: number) => {
    done[b] = 1;
    for (let i = b * size; i < Math.min(srcs.length, (b + 1) * size); i++) onFile(i, readDocuments(srcs[i]!));
  };
  const workers = Array.from({ length: threads }, () => {
    const w = new Worker(ENTRY, { workerData: data, stdout: false, stderr: false });
    return new Promise<void>((resolve) => {
      w.on('message', (m: ParsedBatch | 'end') => {
        if (m === 'end') return resolve();
        received(m.batch, m.docs);
        inWorkers++;
      });
      // A worker that fails leaves its batch undone; it is parsed here below. Never fatal.
      w.once('error', () => {});
      w.once('exit', () => resolve());
    });
  });
  let here = 0;
  for (let b = Atomics.add(counter, 0, 1); b < batches; b = Atomics.add(counter, 0, 1)) {
    parseHere(b);
    here++;
  }
  await Promise.all(workers);
  for (let b = 0; b < batches; b++) {
    if (!done[b]) {
      parseHere(b);
      here++;
    }
  }
  Object.assign(lastParse, { threads, batchesHere: here, batchesInWorkers: inWorkers });
}
