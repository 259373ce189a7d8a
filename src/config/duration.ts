// Go / protobuf Duration strings as Istio writes them (`1.5s`, `100ms`, `1m30s`), in milliseconds.

const UNITS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, 'µs': 1e-3, ns: 1e-6 };
const DURATION = /^(\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|ns))+$/;
const PART = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g;

/** Milliseconds, or undefined when `v` is not a duration. */
export function parseDurationMs(v: string): number | undefined {
  if (!DURATION.test(v)) return undefined;
  let total = 0;
  for (const m of v.matchAll(PART)) total += Number(m[1]) * UNITS[m[2]!]!;
  return total;
}
