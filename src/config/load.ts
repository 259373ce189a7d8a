// Files and directories -> validated resources. The only I/O in the config stage; everything it
// reads goes through parseDocuments and the kinds registry, and every failure is a diagnostic.
import { readFileSync } from 'node:fs';
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CODES } from '../model/codes.ts';
import { formatPath, hasErrors } from '../model/diagnostic.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import { resourceRef } from './diag.ts';
import { validateResource } from './kinds/index.ts';
import { WELL_SHAPED } from './kinds/common.ts';
import type { ValidationOptions, ValidationResult } from './kinds/index.ts';
import { parseDocuments } from './parse.ts';
import { RAW_SPEC } from './schema.ts';
import { forgetParsed } from './yaml-ast.ts';
import type { LoadResult, Resource } from './resource.ts';

const CONFIG_FILE = /\.(ya?ml|json)$/i;

/** Whether a directory scan reads a file of this name (the watcher asks, to ignore everything else). */
export function isConfigFileName(name: string): boolean {
  return CONFIG_FILE.test(name) && !name.startsWith('.');
}

interface Validated {
  readonly result: ValidationResult;
  readonly key: string;
}

/** One file as last read: its text, and what parsing it gave. */
interface FileEntry {
  readonly text: string;
  readonly resources: readonly Resource[];
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * What a reload can reuse (issue 16): each file's text and parse, and each resource's validation.
 * Resources are immutable, so an unchanged file yields the very same Resource objects, and compile
 * can reuse what it derived from them. Owned by one caller (FileSource); one set of options.
 */
export class LoadCache {
  readonly files = new Map<string, FileEntry>();
  /** Each resource's validation, and its identity key (group/kind/namespace/name) for duplicates. */
  readonly validated = new WeakMap<Resource, Validated>();
  /** The files of the last full scan, in order; a reload with hints edits this list. */
  scanned: string[] | undefined;
  /** Loads done with this cache. The first one (FileSource's at startup) runs before anything is served. */
  loads = 0;
}

/**
 * Reads every path (files, or directories recursively: .yaml, .yml, .json, skipping dotfiles) in
 * sorted order, so results do not depend on argument or directory order. `resources` holds only
 * known kinds that passed validation, first definition wins; like objects the API server rejected,
 * the rest exist only as diagnostics, so later stages can trust the wire types.
 *
 * With a `cache`, files whose text is unchanged are not parsed again. With `changed` too (the
 * watcher's list of files that changed), only those are read: the others are the ones the last scan
 * found. The result equals a load without a cache (test/controlplane/incremental.test.ts).
 */
export async function loadConfig(
  paths: string[], options: ValidationOptions = {}, defaultNamespace = 'default', cache?: LoadCache, changed?: ReadonlySet<string>,
): Promise<LoadResult> {
  const diagnostics: Diagnostic[] = [];
  let list: string[];
  if (cache?.scanned && changed) list = await rescanChanged(cache.scanned, changed, diagnostics);
  else {
    const found = new Set<string>();
    for (const p of paths) await collect(p, true, found, new Set(), diagnostics);
    list = [...found].sort();
  }
  const { texts, errors } = await readAll(list, cache, changed);
  if (cache) cache.loads++;
  const files: string[] = [];
  const parsed: Resource[] = [];
  const entries = new Map<string, FileEntry>();
  list.forEach((file, i) => {
    const text = texts[i];
    if (text === undefined) return void diagnostics.push(errors[i]!);
    files.push(file);
    const before = cache?.files.get(file);
    const entry = before?.text === text ? before : keepUnchanged(before, { text, ...parseDocuments(text, file, defaultNamespace) });
    entries.set(file, entry);
    diagnostics.push(...entry.diagnostics);
    parsed.push(...entry.resources);
  });
  if (cache) {
    cache.files.clear();
    for (const [f, e] of entries) cache.files.set(f, e);
    // A file that failed to read is not in `files`: the next hinted reload tries it again.
    cache.scanned = diagnostics.some((d) => d.code === CODES.UnreadablePath.code) ? undefined : files;
  }
  const rejected: Resource[] = [];
  const resources = validateAll(parsed, options, diagnostics, rejected, cache);
  forgetParsed();
  return { resources, diagnostics, files, rejected };
}

/**
 * A changed file often changes one document of several: the others keep their Resource objects
 * (same content at the same position, so positions stay right), and compile reuses what it built
 * from them.
 */
function keepUnchanged(before: FileEntry | undefined, after: FileEntry): FileEntry {
  if (!before) return after;
  const old = new Map<string, Resource>();
  for (const r of before.resources) old.set(`${r.apiVersion}/${r.kind}/${r.metadata.namespace}/${r.metadata.name}`, r);
  const content = (r: Resource) => JSON.stringify([r.metadata, RAW_SPEC.get(r) ?? null, r.status ?? null, r.source.line, r.source.column]);
  const resources = after.resources.map((r) => {
    const was = old.get(`${r.apiVersion}/${r.kind}/${r.metadata.namespace}/${r.metadata.name}`);
    return was && content(was) === content(r) ? was : r;
  });
  return { ...after, resources };
}

// The last scan's files, with each changed one added or dropped by whether it is still a file.
// A changed directory (or anything unexpected) asks for a full scan instead.
async function rescanChanged(scanned: readonly string[], changed: ReadonlySet<string>, diags: Diagnostic[]): Promise<string[]> {
  const list = new Set(scanned);
  for (const file of changed) {
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile()) {
      if (list.has(file) || isConfigFileName(basename(file))) list.add(file);
    }
    else if (!info) list.delete(file);
    else {
      const found = new Set<string>();
      await collect(file, false, found, new Set(), diags);
      for (const f of found) list.add(f);
    }
  }
  return [...list].sort();
}

// A cache's first load (FileSource's, before anything listens) reads synchronously, in slices
// between which other callbacks run: 3,335 small files took 20 ms so, against 190 ms of CPU through
// fs.promises (open, fstat, read, close and a promise each; issue 16). Every other load may run
// beside traffic (the agent loads without a cache), where a file on a stalled mount must not block
// the event loop: those read in parallel through the thread pool (one await per file in sequence
// was 0.5 s of 3,000 small files), and with `changed`, only the changed files are read.
async function readAll(
  list: readonly string[], cache: LoadCache | undefined, changed: ReadonlySet<string> | undefined,
): Promise<{ texts: (string | undefined)[]; errors: Diagnostic[] }> {
  const texts: (string | undefined)[] = new Array(list.length);
  const errors: Diagnostic[] = new Array(list.length);
  if (cache?.loads === 0) {
    for (let i = 0; i < list.length; i++) {
      try {
        texts[i] = readFileSync(list[i]!, 'utf8');
      } catch (e) {
        errors[i] = unreadable(list[i]!, e);
      }
      if (i % 256 === 255) await new Promise((r) => setImmediate(r));
    }
    return { texts, errors };
  }
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const i = next++;
      const file = list[i]!;
      const cached = changed && !changed.has(file) ? cache?.files.get(file)?.text : undefined;
      if (cached !== undefined) texts[i] = cached;
      else {
        try {
          texts[i] = await readFile(file, 'utf8');
        } catch (e) {
          errors[i] = unreadable(file, e);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(32, list.length) }, worker));
  return { texts, errors };
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
    const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const child = join(path, entry.name);
      // A regular file needs no stat of its own (one per file was 55 ms of 3,335 files); symlinks,
      // directories and the rest go the long way.
      if (entry.isFile()) {
        if (CONFIG_FILE.test(child)) found.add(child);
      } else await collect(child, false, found, seen, diags);
    }
  } catch (e) {
    diags.push(unreadable(path, e));
  }
}

function unreadable(path: string, e: unknown): Diagnostic {
  const code = (e as NodeJS.ErrnoException).code;
  const hint = code === 'ENOENT' ? 'check the path; it does not exist' : code === 'EACCES' ? 'check the permissions' : 'pass a readable file or directory';
  return { code: CODES.UnreadablePath.code, level: 'error', message: `cannot read ${path}: ${code ?? (e as Error).message}`, hint, file: path };
}

function validateAll(parsed: readonly Resource[], options: ValidationOptions, diagnostics: Diagnostic[], rejected: Resource[], cache?: LoadCache): Resource[] {
  const first = new Map<string, Resource>();
  const out: Resource[] = [];
  for (const r of parsed) {
    let v = cache?.validated.get(r);
    if (!v) {
      // Group too: Istio's networking Gateway and Gateway API's Gateway are different objects. The
      // key is kept with the validation: a reload of one file among 3,335 built 10,000 of them (a
      // third of its load time), and reading four fields of each resource cost as much again.
      v = { result: validateResource(r, options), key: `${r.group}/${r.kind}/${r.metadata.namespace}/${r.metadata.name}` };
      cache?.validated.set(r, v);
    }
    const { result, key } = v;
    diagnostics.push(...result.diagnostics);
    if (!result.known) continue;
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
