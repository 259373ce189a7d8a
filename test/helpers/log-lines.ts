// Collects a child's stdout as pino JSON lines and lets a test wait for the line it cares about, failing
// with the evidence (recent logs) rather than a bare timeout when that line never comes.

import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { withTimeout } from './lifecycle.ts';

/** One parsed stdout line. A line that is not a JSON object is kept as `{ raw: line }`. */
export type LogLine = Record<string, unknown>;
export type LogPredicate = (line: LogLine) => boolean;

interface Waiter {
  predicate: LogPredicate;
  resolve: (line: LogLine) => void;
  reject: (err: Error) => void;
}

export class LogCollector {
  readonly lines: LogLine[] = [];
  #waiters = new Set<Waiter>();
  #ended: Error | null = null;

  constructor(stream: Readable) {
    const reader = createInterface({ input: stream, crlfDelay: Infinity });
    reader.on('line', (text) => this.#add(parseLine(text)));
  }

  /** Resolves with the first line, already seen or still to come, that matches. */
  waitFor(predicate: LogPredicate, timeoutMs: number, describe: () => string): Promise<LogLine> {
    const seen = this.lines.find(predicate);
    if (seen) return Promise.resolve(seen);
    if (this.#ended) return Promise.reject(this.#ended);
    const waiter = { predicate } as Waiter;
    const found = new Promise<LogLine>((resolve, reject) => Object.assign(waiter, { resolve, reject }));
    this.#waiters.add(waiter);
    const timedOut = () => `no matching log line within ${timeoutMs}ms\n${describe()}`;
    return withTimeout(found, timeoutMs, timedOut).finally(() => this.#waiters.delete(waiter));
  }

  /** Fails every pending and future wait: the process is gone, so no new line can arrive. */
  end(reason: Error): void {
    this.#ended = reason;
    for (const waiter of this.#waiters) waiter.reject(reason);
    this.#waiters.clear();
  }

  #add(line: LogLine): void {
    this.lines.push(line);
    for (const waiter of this.#waiters) {
      if (waiter.predicate(line)) waiter.resolve(line);
    }
  }
}

function parseLine(text: string): LogLine {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as LogLine;
  } catch {
    // fall through: not JSON
  }
  return { raw: text };
}
