// Where two immutable lists differ, by identity: shared by compile (sorted-input.ts: what a config
// change replaced) and the workers (snapshot-delta.ts: what a snapshot change replaced), which may
// not import each other.

/** The run where two lists differ: a[start, endA) was replaced by b[start, endB). */
export function changedRun<T>(a: readonly T[], b: readonly T[]): { start: number; endA: number; endB: number } {
  const min = Math.min(a.length, b.length);
  let start = 0;
  while (start < min && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  return { start, endA, endB };
}
