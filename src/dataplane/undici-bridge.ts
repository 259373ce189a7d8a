// Hands undici a handler in its legacy shape (onConnect/onHeaders/onData/onComplete/onError) that
// drives a new-style handler (onRequestStart/onResponseStart/...). Why: undici 7.30's own adapter
// (UnwrapHandler) runs HTTP/2 trailers, which arrive as an object, through a parser for HTTP/1.1's
// raw [name, value] arrays, so every HTTP/2 trailer is lost, and gRPC's grpc-status with it.
// Remove when undici passes HTTP/2 trailers through.
import type { Dispatcher } from 'undici';

type Raw = (Buffer | string)[] | Record<string, string | string[]> | null | undefined;

function toObject(raw: Raw): Record<string, string | string[]> {
  if (!raw) return {};
  if (!Array.isArray(raw)) return raw;
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toString().toLowerCase();
    const v = raw[i + 1]!.toString();
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

class Controller implements Dispatcher.DispatchController {
  #abort: (reason?: Error) => void;
  #resume: (() => void) | undefined;
  #paused = false;
  #aborted = false;
  #reason: Error | null = null;

  constructor(abort: (reason?: Error) => void) {
    this.#abort = abort;
  }

  set resumeFn(fn: () => void) {
    this.#resume = fn;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get reason(): Error | null {
    return this.#reason;
  }

  abort(reason: Error): void {
    this.#aborted = true;
    this.#reason = reason;
    this.#abort(reason);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#resume?.();
  }
}

export function legacyHandler(h: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler {
  let c: Controller;
  const legacy = {
    onConnect(abort: (reason?: Error) => void, context?: unknown) {
      c = new Controller(abort);
      h.onRequestStart?.(c, context);
    },
    onHeaders(status: number, raw: Raw, resume: () => void, statusText?: string) {
      c.resumeFn = resume;
      h.onResponseStart?.(c, status, toObject(raw), statusText);
      return !c.paused;
    },
    onData(chunk: Buffer) {
      h.onResponseData?.(c, chunk);
      return !c.paused;
    },
    onComplete(trailers: Raw) {
      h.onResponseEnd?.(c, toObject(trailers));
    },
    onError(err: Error) {
      h.onResponseError?.(c, err);
    },
    onUpgrade() {},
  };
  return legacy as unknown as Dispatcher.DispatchHandler;
}
