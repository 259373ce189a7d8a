// The one writer of stdout under `run --concurrency N`. Workers send whole lines (log lines, and
// access-log batches that end at a line end) and the primary's own log goes here too, so every
// write to fd 1 comes from one ordered stream: lines from different workers never interleave
// mid-line, whatever stdout is (a pipe splits writes over 4 KiB between concurrent writers).
import { createWriteStream } from 'node:fs';
import { endWithin } from '../telemetry/access-log.ts';

/** As the access log's backlog bound (access-log.ts): past it, lines are dropped and counted. */
const MAX_BACKLOG_BYTES = 16 * 1024 * 1024;

export class Output {
  readonly #stream = createWriteStream('', { fd: 1, autoClose: false });
  #failed = false;
  dropped = 0;

  constructor(onError: (err: Error) => void) {
    this.#stream.on('error', (err) => {
      if (!this.#failed) onError(err);
      this.#failed = true;
    });
  }

  write(s: string): void {
    if (this.#failed || this.#stream.writableEnded || this.#stream.writableLength > MAX_BACKLOG_BYTES) {
      this.dropped++;
      return;
    }
    this.#stream.write(s);
  }

  /** Writes what is queued; gives up after `timeoutMs` so a stalled stdout cannot hold up the exit. */
  end(timeoutMs = 2000): Promise<void> {
    if (this.#failed || this.#stream.writableEnded) return Promise.resolve();
    return endWithin(this.#stream, timeoutMs);
  }
}
