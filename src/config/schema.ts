// A small schema walker for the wire shape of each kind.
//
// Why our own instead of JSON Schema + a validator library: every finding must carry a field path
// that `Resource.locate` can turn into a YAML line, unknown fields must be *warnings* (Kubernetes
// prunes them silently; we would rather say so, with a "did you mean" hint), and `null` must read as
// "absent" as the API server treats it. Those three needs are a page of code; adapting a general
// validator's error objects to them would be more. Kinds describe their shape with the `s.*` builders
// below; semantic rules (Istio's messages) live in each kind's validator, not here.
import { CODES } from '../model/codes.ts';
import type { Level } from '../model/diagnostic.ts';

export type Path = readonly (string | number)[];

export type Schema =
  | { readonly type: 'string'; readonly enum?: readonly string[] }
  | { readonly type: 'integer' }
  | { readonly type: 'boolean' }
  | { readonly type: 'array'; readonly items: Schema }
  | { readonly type: 'map'; readonly values: Schema; readonly nullValue?: (key: string) => string }
  | { readonly type: 'any' }
  | ObjectSchema;

export interface ObjectSchema {
  readonly type: 'object';
  readonly fields: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  /** Open objects (status, opaque sub-trees) do not warn about fields they do not list. */
  readonly open?: boolean;
}

/** A finding before it is tied to a resource and a YAML position. */
export interface Issue {
  readonly code: string;
  readonly level: Level;
  readonly path: Path;
  readonly message: string;
  readonly hint: string;
}

export const s = {
  string: (values?: readonly string[]): Schema => (values ? { type: 'string', enum: values } : { type: 'string' }),
  integer: (): Schema => ({ type: 'integer' }),
  boolean: (): Schema => ({ type: 'boolean' }),
  array: (items: Schema): Schema => ({ type: 'array', items }),
  /** `nullValue`: the error for `key: null` (Go keeps the entry with a nil value), else null is absent. */
  map: (values: Schema, nullValue?: (key: string) => string): Schema => (nullValue ? { type: 'map', values, nullValue } : { type: 'map', values }),
  any: (): Schema => ({ type: 'any' }),
  object: (fields: Record<string, Schema>, opts: { required?: string[]; open?: boolean } = {}): ObjectSchema => ({
    type: 'object',
    fields,
    ...opts,
  }),
};

export function checkSchema(value: unknown, schema: Schema, path: Path = []): Issue[] {
  const out: Issue[] = [];
  walk(value, schema, path, out);
  return out;
}

function walk(value: unknown, schema: Schema, path: Path, out: Issue[]): void {
  if (value === null || value === undefined || schema.type === 'any') return;
  const mismatch = typeMismatch(value, schema);
  if (mismatch) {
    out.push(typeIssue(path, mismatch, value));
    return;
  }
  switch (schema.type) {
    case 'string':
      if (schema.enum && !schema.enum.includes(value as string)) out.push(enumIssue(path, value as string, schema.enum));
      return;
    case 'array':
      (value as unknown[]).forEach((item, i) => walkItem(item, schema.items, [...path, i], out));
      return;
    case 'map':
      for (const [k, v] of Object.entries(value as object)) {
        if (v === null && schema.nullValue) out.push(issue('error', [...path, k], schema.nullValue(k), 'give it a value, or remove the entry'));
        else walk(v, schema.values, [...path, k], out);
      }
      return;
    case 'object':
      walkObject(value as Record<string, unknown>, schema, path, out);
      return;
  }
}

// A null list item is never meaningful (Go decodes it as a zero value), so it is an error, unlike
// a null field.
function walkItem(item: unknown, schema: Schema, path: Path, out: Issue[]): void {
  if (item === null && schema.type !== 'any') {
    out.push(issue('error', path, 'list item must not be null', 'remove the empty "-" entry'));
  } else {
    walk(item, schema, path, out);
  }
}

function walkObject(value: Record<string, unknown>, schema: ObjectSchema, path: Path, out: Issue[]): void {
  for (const [key, v] of Object.entries(value)) {
    // Own fields only: `fields["__proto__"]` would be Object.prototype, a "schema" that accepts anything.
    const field = Object.hasOwn(schema.fields, key) ? schema.fields[key] : undefined;
    if (field) walk(v, field, [...path, key], out);
    else if (!schema.open) out.push(unknownField(path, key, Object.keys(schema.fields)));
  }
  for (const key of schema.required ?? []) {
    if (value[key] === undefined || value[key] === null) {
      out.push(issue('error', [...path, key], `missing required field "${key}"`, `add "${key}"`));
    }
  }
}

function typeMismatch(value: unknown, schema: Schema): string | undefined {
  switch (schema.type) {
    case 'string':
      return typeof value === 'string' ? undefined : 'a string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) ? undefined : 'an integer';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'a boolean (true or false)';
    case 'array':
      return Array.isArray(value) ? undefined : 'a list';
    case 'map':
    case 'object':
      return isPlainObject(value) ? undefined : 'a mapping';
    default:
      return undefined;
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Drops null-valued fields (`tls:` with nothing after it), as the API server prunes them, so that
 * validators and compile see "absent" one way. Null list items stay: they are errors.
 */
/**
 * The spec as written, nulls included, for the schema walk (a null map value can be an error there);
 * `Resource.spec` itself is pruned by `withoutNulls`.
 */
export const RAW_SPEC: WeakMap<object, unknown> = new WeakMap();

export function withoutNulls(value: unknown): unknown {
  // A null item must stay null (not become undefined, which reads as absent) so the walk reports it.
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const w = v === null ? null : withoutNulls(v);
      if (w !== v && !out) out = value.slice(0, i);
      out?.push(w);
    }
    return out ?? value;
  }
  if (!isPlainObject(value)) return value ?? undefined;
  // Copy on write: a value without nulls is returned as it is, so RAW_SPEC and Resource.spec share
  // one object instead of holding two (issue 16: memory per resource), and a second pass is cheap.
  let out: Record<string, unknown> | undefined;
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = value[k];
    const w = v === null || v === undefined ? undefined : withoutNulls(v);
    if (w !== v && !out) {
      out = {};
      for (let j = 0; j < i; j++) define(out, keys[j]!, value[keys[j]!]);
    }
    if (out && w !== undefined) define(out, k, w);
  }
  return out ?? value;
}

// Defined, not assigned: `out["__proto__"] = v` would make v the copy's prototype, so the schema
// walk (own fields) would not see v's fields while compile read them (found by test/fuzz/config.test.ts).
function define(out: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
}

export function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (isPlainObject(value)) return 'a mapping';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

function typeIssue(path: Path, want: string, value: unknown): Issue {
  return issue('error', path, `expected ${want}, got ${describe(value)}`, typeHint(want, value));
}

function typeHint(want: string, value: unknown): string {
  if (want === 'an integer' && typeof value === 'string' && /^\d+$/.test(value)) return `write ${value} without quotes`;
  if (want === 'a string' && (typeof value === 'number' || typeof value === 'boolean')) {
    return `quote the value: "${String(value)}"`;
  }
  if (want === 'a list') return 'write it as a YAML list ("- item" lines or [a, b])';
  if (want === 'a mapping') return 'write it as "key: value" lines';
  return `change the value to ${want}`;
}

function enumIssue(path: Path, value: string, values: readonly string[]): Issue {
  const guess = suggest(value, values);
  const hint = guess ? `did you mean "${guess}"?` : `use one of ${values.join(', ')}`;
  return issue('error', path, `unsupported value ${JSON.stringify(value)}: must be one of ${values.join(', ')}`, hint);
}

function unknownField(path: Path, key: string, known: readonly string[]): Issue {
  const guess = suggest(key, known);
  const hint = guess ? `did you mean "${guess}"?` : `remove it; known fields here: ${known.join(', ')}`;
  return {
    code: CODES.UnknownField.code,
    level: 'warning',
    path: [...path, key],
    message: `unknown field "${key}" is ignored`,
    hint,
  };
}

function issue(level: Level, path: Path, message: string, hint: string): Issue {
  const code = level === 'error' ? CODES.SchemaValidationError.code : CODES.SchemaWarning.code;
  return { code, level, path, message, hint };
}

/**
 * The closest candidate by edit distance, if it is close enough to be a likely typo. Case, `_` and
 * `-` are ignored first, so `target_port` finds `targetPort` and `dns` finds `DNS`.
 */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const norm = (x: string) => x.toLowerCase().replace(/[-_]/g, '');
  const w = norm(word);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, norm(c));
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(1, Math.floor(w.length / 3)) ? best : undefined;
}

/**
 * Optimal string alignment distance: Levenshtein plus adjacent transpositions, the commonest typo
 * (`spce`, `hsots`), so a swap costs 1 rather than 2.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
