// Istio's PILOT_DEBOUNCE_AFTER / PILOT_DEBOUNCE_MAX: fire after `quietMs` without events, but no
// later than `maxMs` after the first event of a burst.

export function debounce(fn: () => void, quietMs = 100, maxMs = 10_000): { trigger(): void; cancel(): void } {
  let quiet: NodeJS.Timeout | undefined;
  let cap: NodeJS.Timeout | undefined;
  const fire = () => {
    clearTimeout(quiet);
    clearTimeout(cap);
    quiet = cap = undefined;
    fn();
  };
  return {
    trigger() {
      clearTimeout(quiet);
      quiet = setTimeout(fire, quietMs);
      cap ??= setTimeout(fire, maxMs);
    },
    cancel() {
      clearTimeout(quiet);
      clearTimeout(cap);
      quiet = cap = undefined;
    },
  };
}
