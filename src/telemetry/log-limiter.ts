// One log line per key per window: a flood of the same refusal (say, bad PROXY headers from a
// misbehaving peer) must not flood the log. The first line of a window is written in full; the rest
// are counted and summed up in one line when the next one arrives after the window.
export interface LimitedLog {
  warn(obj: object, msg: string): void;
}

export function limitedWarn(log: LimitedLog, windowMs = 10_000, now: () => number = Date.now): (key: string, obj: object, msg: string) => void {
  const windows = new Map<string, { start: number; suppressed: number }>();
  return (key, obj, msg) => {
    const t = now();
    const w = windows.get(key);
    if (w && t - w.start < windowMs) {
      w.suppressed++;
      return;
    }
    const suppressed = w?.suppressed ?? 0;
    windows.set(key, { start: t, suppressed: 0 });
    // Keys come from a closed set (refusal reasons), so the map stays small.
    log.warn(suppressed ? { ...obj, suppressed } : obj, suppressed ? `${msg} (and ${suppressed} more like it in the previous ${Math.round(windowMs / 1000)} s, not logged)` : msg);
  };
}
