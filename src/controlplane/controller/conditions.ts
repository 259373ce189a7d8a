// metav1.Condition handling as istiod's kstatus.UpdateConditionIfChanged does it: a condition whose
// status did not change keeps its lastTransitionTime (reason and message may still change), so a
// re-computed status that says the same thing compares equal and is never written again.
export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime?: string;
}

export type Wanted = Omit<Condition, 'lastTransitionTime'>;

/** The wanted conditions, sorted by type, each with the lastTransitionTime it keeps or gets. */
export function mergeConditions(existing: readonly Condition[] | undefined, wanted: readonly Wanted[], now: string): Condition[] {
  return [...wanted].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0)).map((w) => {
    const old = existing?.find((c) => c.type === w.type);
    return { ...w, lastTransitionTime: old && old.status === w.status && old.lastTransitionTime ? old.lastTransitionTime : now };
  });
}

/** True when every wanted condition is present with the same status, reason, message and generation. */
export function conditionsMatch(existing: readonly Condition[] | undefined, wanted: readonly Wanted[]): boolean {
  return wanted.every((w) => {
    const c = existing?.find((x) => x.type === w.type);
    return !!c && c.status === w.status && c.reason === w.reason && c.message === w.message && (c.observedGeneration ?? undefined) === w.observedGeneration;
  });
}

/** Now, as metav1.Time (seconds precision). */
export function metaNow(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Deep equality for plain JSON values (status fragments), key order ignored. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
