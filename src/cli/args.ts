// Argument parsers shared by commands. Each throws InvalidArgumentError with the fix in the text,
// which commander prints as one line.
import { InvalidArgumentError } from 'commander';
import { parseDurationMs } from '../config/duration.ts';

export function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`"${v}" is not a port (0-65535; 0 picks a free one)`);
  return n;
}

/** Go/Istio-style durations (500ms, 5s, 1m30s), or a bare number of seconds. */
export function parseDuration(v: string): number {
  const t = v.trim();
  const ms = /^\d+(\.\d+)?$/.test(t) ? Number(t) * 1000 : parseDurationMs(t);
  if (ms === undefined) throw new InvalidArgumentError(`"${v}" is not a duration (examples: 500ms, 30s, 2m)`);
  return Math.round(ms);
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
