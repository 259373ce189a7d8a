// undici dispatch-handler plumbing for PolicyPool (policy-pool.ts): fail a handler before dispatch, and
// wrap one to observe the response status and the end of the request, in both handler styles.
import type { Dispatcher } from 'undici';
import type { Outcome } from './outlier.ts';

type AnyHandler = Record<string, ((...a: unknown[]) => unknown) | undefined>;

export function failHandler(handler: Dispatcher.DispatchHandler, err: Error): void {
  const h = handler as unknown as AnyHandler;
  if (h.onResponseError) h.onResponseError.call(handler, undefined, err);
  else if (h.onError) h.onError.call(handler, err);
  else throw err;
}

const METHODS = [
  'onRequestStart', 'onRequestUpgrade', 'onResponseStart', 'onResponseData', 'onResponseEnd', 'onResponseError',
  'onConnect', 'onError', 'onUpgrade', 'onResponseStarted', 'onHeaders', 'onData', 'onComplete', 'onBodySent', 'onRequestSent',
];
// Errors that say nothing about the upstream's health.
const NOT_UPSTREAM = new Set(['downstream_disconnect', 'UND_ERR_ABORTED', 'ABORT_ERR', 'upstream_overflow', 'superseded']);

/**
 * Forwards every handler callback (new and legacy undici styles) unchanged, reporting the response
 * status (or a local-origin failure before it) once and calling `end` once when the request ends.
 */
export function observe(handler: Dispatcher.DispatchHandler, outcome: (o: Outcome | undefined) => void, end: () => void): Dispatcher.DispatchHandler {
  const h = handler as unknown as AnyHandler;
  let reported = false;
  let ended = false;
  const report = (o: Outcome | undefined) => {
    if (!reported) outcome(o);
    reported = true;
  };
  const finish = (err?: unknown) => {
    if (err !== undefined) {
      const code = (err as { code?: string; name?: string }).code ?? (err as { name?: string }).name ?? '';
      report(NOT_UPSTREAM.has(code) ? undefined : { localFailure: true });
    }
    if (!ended) end();
    ended = true;
  };
  const w: AnyHandler = {};
  for (const m of METHODS) {
    const fn = h[m];
    if (fn) w[m] = (...a: unknown[]) => fn.apply(handler, a);
  }
  const tap = (m: string, before: (a: unknown[]) => void) => {
    const inner = w[m];
    if (inner) w[m] = (...a: unknown[]) => { before(a); return inner(...a); };
  };
  tap('onResponseStart', (a) => { if ((a[1] as number) >= 200) report({ status: a[1] as number }); });
  tap('onHeaders', (a) => { if ((a[0] as number) >= 200) report({ status: a[0] as number }); });
  tap('onRequestUpgrade', () => { report({ status: 101 }); finish(); });
  tap('onUpgrade', () => { report({ status: 101 }); finish(); });
  tap('onResponseEnd', () => finish());
  tap('onComplete', () => finish());
  tap('onResponseError', (a) => finish(a[1] ?? new Error('error')));
  tap('onError', (a) => finish(a[0] ?? new Error('error')));
  return w as unknown as Dispatcher.DispatchHandler;
}
