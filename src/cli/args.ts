// Argument parsers shared by commands. Each throws InvalidArgumentError with the fix in the text,
// which commander prints as one line.
import { InvalidArgumentError, Option } from 'commander';
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

/** 3600000 -> '1h', 90000 -> '90s', 500 -> '500ms': how a duration default is shown in --help. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0 (off)';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * A duration flag whose --help default reads as a duration ("60s"), not as the milliseconds it is
 * stored in: a bare number on the command line means seconds, so "60000" copied back would be 16 h.
 */
export function durationOption(flags: string, description: string, defaultMs: number): Option {
  return new Option(flags, description).argParser(parseDuration).default(defaultMs, formatDuration(defaultMs));
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
