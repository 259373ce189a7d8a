// Argument parsers shared by commands. Each throws InvalidArgumentError with the fix in the text,
// which commander prints as one line.
import { InvalidArgumentError } from 'commander';

export function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`"${v}" is not a port (0-65535; 0 picks a free one)`);
  return n;
}

/** Go/Istio-style durations: 100ms, 5s, 1m, 1h, or a bare number of seconds. */
export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`"${v}" is not a duration (examples: 500ms, 30s, 2m)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  return Math.round(Number(m[1]) * unit);
}

export function parseWaypointRef(v: string): string {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v)) {
    throw new InvalidArgumentError(`"${v}" is not namespace/name (example: istio-egress/waypoint)`);
  }
  return v;
}

export function oneOf<T extends string>(values: readonly T[]): (v: string) => T {
  return (v) => {
    const up = values.find((x) => x.toLowerCase() === v.toLowerCase());
    if (!up) throw new InvalidArgumentError(`"${v}" must be one of ${values.join(', ')}`);
    return up;
  };
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}
