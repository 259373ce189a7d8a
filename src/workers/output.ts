// The one writer of stdout under `run --concurrency N`. Workers send whole lines (log lines, and
// access-log batches that end at a line end) and the primary's own log goes here too, so every
// write to fd 1 comes from one ordered stream: lines from different workers never interleave
// mid-line, whatever stdout is (a pipe splits writes over 4 KiB between concurrent writers).
//
// It writes through process.stdout, not a WriteStream on fd 1: starting a worker thread opens
// process.stdout (a worker's stdout is piped to it), which puts a pipe on fd 1 into non-blocking
// mode, and fs writes then fail with EAGAIN as soon as the pipe is full. That dropped every line
// after the first burst, the `listening` line of a 3,000-service config included (issue 16);
// process.stdout waits for the pipe instead.
import { endWithin } from '../telemetry/access-log.ts';

/** As the access log's backlog bound (access-log.ts): past it, lines are dropped and counted. */
const MAX_BACKLOG_BYTES = 16 * 1024 * 1024;

export class Output {
  readonly #stream: NodeJS.WriteStream = process.stdout;
  #failed = false;
  #ended = false;
  dropped = 0;

  constructor(onError: (err: Error) => void) {
    this.#stream.on('error', (err) => {
      if (!this.#failed) onError(err);
      this.#failed = true;
    });
  }

  write(s: string): void {
    if (this.#failed || this.#ended || this.#stream.writableLength > MAX_BACKLOG_BYTES) {
      this.dropped++;
      return;
    }
    this.#stream.write(s);
  }

  /**
   * Writes what is queued (stdout itself stays open); gives up after `timeoutMs` so a stalled
   * stdout cannot hold up the exit.
   */
  end(timeoutMs = 2000): Promise<void> {
    if (this.#failed || this.#ended) return Promise.resolve();
    this.#ended = true;
    // An empty write's callback runs once every write before it is out.
    return endWithin({ end: (cb: () => void) => this.#stream.write('', () => cb()) }, timeoutMs);
  }
}
