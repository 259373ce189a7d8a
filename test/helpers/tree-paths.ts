// Paths into a parsed YAML/JSON value, and a copy with one path replaced: how the robustness test and
// the config fuzz properties put odd values into every position of a real fixture.
import { isPlainObject } from '../../src/config/schema.ts';

export type TreePath = (string | number)[];

/** Every path in `value`, the root included. */
export function treePaths(value: unknown, path: TreePath = []): TreePath[] {
  const kids = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : isPlainObject(value) ? Object.entries(value) : [];
  return [path, ...kids.flatMap(([k, v]) => treePaths(v, [...path, k]))];
}

/** A copy of `value` with the value at `path` replaced by `next`; the rest is shared. */
export function replacedAt(value: unknown, path: TreePath, next: unknown): unknown {
  if (path.length === 0) return next;
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? replacedAt(v, rest, next) : v));
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  copy[head!] = replacedAt(copy[head!], rest, next);
  return copy;
}
