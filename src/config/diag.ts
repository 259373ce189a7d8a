// Ties findings to a resource: every diagnostic from validation names the resource, the file, the
// YAML line and column of the field (via Resource.locate) and the field path.
import { CODES } from '../model/codes.ts';
import { formatPath } from '../model/diagnostic.ts';
import type { Diagnostic, Level, ResourceRef } from '../model/diagnostic.ts';
import type { Resource } from './resource.ts';
import type { Issue, Path } from './schema.ts';

export function resourceRef(r: Pick<Resource, 'kind' | 'metadata'>): ResourceRef {
  return { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
}

export function diagnosticAt(r: Resource, issue: Issue): Diagnostic {
  const loc = r.locate(issue.path);
  return {
    code: issue.code,
    level: issue.level,
    message: issue.message,
    hint: issue.hint,
    resource: resourceRef(r),
    file: loc.file,
    line: loc.line,
    column: loc.column,
    path: formatPath(issue.path),
  };
}

/** Collects a validator's findings; `error` is IST0106 and `warn` IST0133 unless a code is given. */
export interface Reporter {
  error(path: Path, message: string, hint: string): void;
  warn(path: Path, message: string, hint: string, code?: string): void;
  add(issues: readonly Issue[]): void;
  readonly diagnostics: Diagnostic[];
}

export function createReporter(r: Resource): Reporter {
  const diagnostics: Diagnostic[] = [];
  const push = (code: string, level: Level, path: Path, message: string, hint: string) =>
    diagnostics.push(diagnosticAt(r, { code, level, path, message, hint }));
  return {
    diagnostics,
    error: (path, message, hint) => push(CODES.SchemaValidationError.code, 'error', path, message, hint),
    warn: (path, message, hint, code = CODES.SchemaWarning.code) => push(code, 'warning', path, message, hint),
    add: (issues) => {
      for (const i of issues) diagnostics.push(diagnosticAt(r, i));
    },
  };
}
