// Files and directories -> validated resources. The only I/O in the config stage; everything it
// reads goes through parseDocuments and the kinds registry, and every failure is a diagnostic.
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CODES } from '../model/codes.ts';
import { formatPath, hasErrors } from '../model/diagnostic.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import { resourceRef } from './diag.ts';
import { validateResource } from './kinds/index.ts';
import { WELL_SHAPED } from './kinds/common.ts';
import type { ValidationOptions } from './kinds/index.ts';
import { parseDocuments } from './parse.ts';
import type { LoadResult, Resource } from './resource.ts';

const CONFIG_FILE = /\.(ya?ml|json)$/i;

/** Whether a directory scan reads a file of this name (the watcher asks, to ignore everything else). */
export function isConfigFileName(name: string): boolean {
  return CONFIG_FILE.test(name) && !name.startsWith('.');
}

/**
 * Reads every path (files, or directories recursively: .yaml, .yml, .json, skipping dotfiles) in
 * sorted order, so results do not depend on argument or directory order. `resources` holds only
 * known kinds that passed validation, first definition wins; like objects the API server rejected,
 * the rest exist only as diagnostics, so later stages can trust the wire types.
 */
export async function loadConfig(paths: string[], options: ValidationOptions = {}, defaultNamespace = 'default'): Promise<LoadResult> {
  const diagnostics: Diagnostic[] = [];
  const found = new Set<string>();
  for (const p of paths) await collect(p, true, found, new Set(), diagnostics);
  const files: string[] = [];
  const parsed: Resource[] = [];
  for (const file of [...found].sort()) {
    const text = await readText(file, diagnostics);
    if (text === undefined) continue;
    files.push(file);
    const result = parseDocuments(text, file, defaultNamespace);
    diagnostics.push(...result.diagnostics);
    parsed.push(...result.resources);
  }
  const rejected: Resource[] = [];
  return { resources: validateAll(parsed, options, diagnostics, rejected), diagnostics, files, rejected };
}

// Symlinks are followed because Kubernetes mounts a ConfigMap as symlinks into a hidden `..data`
// directory; `seen` (real paths) stops a symlink loop.
async function collect(path: string, explicit: boolean, found: Set<string>, seen: Set<string>, diags: Diagnostic[]): Promise<void> {
  try {
    const info = await stat(path);
    if (info.isFile()) {
      // A file named on the command line is read whatever its extension.
      if (explicit || CONFIG_FILE.test(path)) found.add(path);
      return;
    }
    if (!info.isDirectory()) throw Object.assign(new Error('not a file or directory'), { code: 'ENOTFILE' });
    const real = await realpath(path);
    if (seen.has(real)) return;
    seen.add(real);
    for (const name of (await readdir(path)).sort()) {
      if (!name.startsWith('.')) await collect(join(path, name), false, found, seen, diags);
    }
  } catch (e) {
    diags.push(unreadable(path, e));
  }
}

async function readText(file: string, diags: Diagnostic[]): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    diags.push(unreadable(file, e));
    return undefined;
  }
}

function unreadable(path: string, e: unknown): Diagnostic {
  const code = (e as NodeJS.ErrnoException).code;
  const hint = code === 'ENOENT' ? 'check the path; it does not exist' : code === 'EACCES' ? 'check the permissions' : 'pass a readable file or directory';
  return { code: CODES.UnreadablePath.code, level: 'error', message: `cannot read ${path}: ${code ?? (e as Error).message}`, hint, file: path };
}

function validateAll(parsed: readonly Resource[], options: ValidationOptions, diagnostics: Diagnostic[], rejected: Resource[]): Resource[] {
  const first = new Map<string, Resource>();
  const out: Resource[] = [];
  for (const r of parsed) {
    const result = validateResource(r, options);
    diagnostics.push(...result.diagnostics);
    if (!result.known) continue;
    // Group too: Istio's networking Gateway and Gateway API's Gateway are different objects.
    const key = `${r.group}/${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
    const earlier = first.get(key);
    if (earlier) diagnostics.push(duplicate(r, earlier));
    else {
      first.set(key, r);
      if (!hasErrors(result.diagnostics)) out.push(r);
      else if (WELL_SHAPED.has(r)) rejected.push(r);
    }
  }
  return out;
}

function duplicate(r: Resource, earlier: Resource): Diagnostic {
  const loc = r.locate(['metadata', 'name']);
  const was = earlier.locate(['metadata', 'name']);
  const id = r.metadata.namespace ? `${r.metadata.namespace}/${r.metadata.name}` : r.metadata.name;
  return {
    code: CODES.DuplicateResource.code,
    level: 'error',
    message: `${r.kind} ${id} is defined twice: first at ${was.file}:${was.line}, again at ${loc.file}:${loc.line}; the first is used`,
    hint: 'delete one of the two documents, or rename one',
    resource: resourceRef(r),
    file: loc.file,
    line: loc.line,
    column: loc.column,
    path: formatPath(['metadata', 'name']),
  };
}
