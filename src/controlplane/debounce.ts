// Istio's PILOT_DEBOUNCE_AFTER / PILOT_DEBOUNCE_MAX: fire after `quietMs` without events, but no
// later than `maxMs` after the first event of a burst.
// `leading` (the Kubernetes source): an event after a quiet spell fires on the next turn of the event
// loop instead of `quietMs` later, so a single `kubectl apply` is not held back; events within
// `quietMs` of a fire are debounced as usual, so a burst still costs one more compile, not one each.

export function debounce(fn: () => void, quietMs = 100, maxMs = 10_000, leading = false): { trigger(): void; cancel(): void } {
  let quiet: NodeJS.Timeout | undefined;
  let cap: NodeJS.Timeout | undefined;
  let lastFire = -Infinity;
  let soon = false;
  const fire = () => {
    clearTimeout(quiet);
    clearTimeout(cap);
    quiet = cap = undefined;
    soon = false;
    try {
      fn();
    } finally {
      // From the end of the work: what arrived while it ran is a burst, debounced.
      lastFire = performance.now();
    }
  };
  return {
    trigger() {
      if (soon) return;
      if (leading && !quiet && performance.now() - lastFire >= quietMs) {
        // Next turn, not now: the rest of a synchronous batch (a relist) joins this fire.
        soon = true;
        quiet = setTimeout(fire, 0);
        return;
      }
      clearTimeout(quiet);
      quiet = setTimeout(fire, quietMs);
      cap ??= setTimeout(fire, maxMs);
    },
    cancel() {
      clearTimeout(quiet);
      clearTimeout(cap);
      quiet = cap = undefined;
      soon = false;
    },
  };
}
