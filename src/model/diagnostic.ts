// Diagnostics are values, never exceptions: parse, validate and compile all return them.
// The catalogue of codes lives in ./codes.ts so `analyze --list-codes` and docs read one table.

export type Level = 'error' | 'warning' | 'info';

export interface ResourceRef {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export interface Diagnostic {
  readonly code: string;
  readonly level: Level;
  readonly message: string;
  /** What to do about it, in one line. */
  readonly hint?: string;
  readonly resource?: ResourceRef;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** Field path inside the resource, e.g. `spec.ports[0].protocol`. */
  readonly path?: string;
}

export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

/** One line, istioctl-analyze style: `Error [IST0106] (ServiceEntry ns/name file:12:3) spec.x: message (hint)`. */
export function formatDiagnostic(d: Diagnostic): string {
  const level = d.level === 'error' ? 'Error' : d.level === 'warning' ? 'Warning' : 'Info';
  const where: string[] = [];
  if (d.resource) where.push(`${d.resource.kind} ${d.resource.namespace}/${d.resource.name}`);
  if (d.file) where.push(d.line ? `${d.file}:${d.line}${d.column ? `:${d.column}` : ''}` : d.file);
  const loc = where.length ? ` (${where.join(' ')})` : '';
  const path = d.path ? `${d.path}: ` : '';
  const hint = d.hint ? ` (fix: ${d.hint})` : '';
  return `${level} [${d.code}]${loc} ${path}${d.message}${hint}`;
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.level === 'error');
}
