// File mode: load the config paths, compile, swap. Watches the paths (directories one directory at a
// time, see DirTree; files through their parent so editors' rename-on-save and ConfigMap symlink
// swaps are seen),
// debounces bursts, and keeps the last good snapshot when a reload fails. The watcher is exported on
// its own (watchPaths) so the node agent reloads on the same events as the waypoint.
import { statSync, watch, type FSWatcher } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { compile, CompileMemo, type CompileOptions } from '../compile/compile.ts';
import { isConfigFileName, LoadCache, loadConfig } from '../config/load.ts';
import { hasErrors, type Diagnostic } from '../model/diagnostic.ts';
import { debounce } from './debounce.ts';
import type { SnapshotStore } from './store.ts';

export interface ReloadResult {
  readonly ok: boolean;
  readonly diagnostics: readonly Diagnostic[];
  readonly version?: string;
  /**
   * False when the compiled snapshot is the one already served (same version, last reload good):
   * nothing was swapped or reported.
   */
  readonly changed: boolean;
}

/**
 * Load + validate + compile. Diagnostics from every stage, snapshot only if none is an error. With
 * `cache` (and the files that `changed`, from the watcher), unchanged files are not parsed again and
 * compile reuses what it built from their resources (issue 16: incremental compile).
 */
export async function buildSnapshot(paths: readonly string[], options: CompileOptions, cache?: BuildCache, changed?: ReadonlySet<string>) {
  const loaded = await loadConfig([...paths], {}, 'default', cache?.load, changed);
  if (hasErrors(loaded.diagnostics)) return { diagnostics: loaded.diagnostics, files: loaded.files };
  const compiled = compile(loaded.resources, options, cache?.compile);
  return { snapshot: compiled.snapshot, diagnostics: [...loaded.diagnostics, ...compiled.diagnostics], files: loaded.files };
}

export interface BuildCache {
  readonly load: LoadCache;
  readonly compile: CompileMemo;
}

export class FileSource {
  #store: SnapshotStore;
  #paths: readonly string[];
  #options: CompileOptions;
  #onResult: (r: ReloadResult) => void;
  #running: Promise<ReloadResult> | undefined;
  #again = false;
  #watch: PathWatch | undefined;
  #cache: BuildCache = { load: new LoadCache(), compile: new CompileMemo() };
  /** Files changed since the last reload started; undefined: scan everything. */
  #changed: Set<string> | undefined;

  constructor(store: SnapshotStore, paths: readonly string[], options: CompileOptions, onResult: (r: ReloadResult) => void) {
    this.#store = store;
    this.#paths = paths.map((p) => resolve(p));
    this.#options = options;
    this.#onResult = onResult;
  }

  /** Compile options for the next reload (SIGHUP re-reads --mesh-config). */
  setOptions(options: CompileOptions): void {
    this.#options = options;
  }

  /**
   * One reload; triggers while one runs coalesce into one more run after it, and every caller gets
   * the result of the last run. `changed`: the files that changed (absolute paths), when the
   * caller knows them (the watcher does); only those are read again. Without it, every file is.
   */
  reload(changed?: Iterable<string>): Promise<ReloadResult> {
    this.#hint(changed);
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        let result: ReloadResult;
        do {
          this.#again = false;
          result = await this.#reloadOnce();
        } while (this.#again);
        return result;
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  // An unchanged snapshot does nothing at all: no swap, no log, no metric. Saving a file without
  // changes, or a burst of events that ends where it began, is not a reload.
  // Hints accumulate until a reload takes them; one reload without hints makes the next a full scan.
  #hinted = false;
  #hint(changed: Iterable<string> | undefined): void {
    if (!changed) {
      this.#hinted = true;
      this.#changed = undefined;
    } else if (!this.#hinted || this.#changed) {
      this.#hinted = true;
      this.#changed ??= new Set();
      for (const f of changed) this.#changed.add(resolve(f));
    }
  }

  async #reloadOnce(): Promise<ReloadResult> {
    const files = this.#changed;
    this.#changed = undefined;
    this.#hinted = false;
    const built = await buildSnapshot(this.#paths, this.#options, this.#cache, files);
    if (!built.snapshot) {
      const failed: ReloadResult = { ok: false, diagnostics: built.diagnostics, changed: false };
      this.#store.reject(built.diagnostics);
      this.#onResult(failed);
      return failed;
    }
    const changed = this.#store.offer(built.snapshot, built.diagnostics);
    const result: ReloadResult = { ok: true, diagnostics: built.diagnostics, version: built.snapshot.version, changed };
    if (changed) this.#onResult(result);
    return result;
  }

  async watch(): Promise<void> {
    this.#watch = await watchPaths(this.#paths, (changed) => void this.reload(changed));
  }

  close(): void {
    this.#watch?.close();
    this.#watch = undefined;
  }
}

export interface PathWatch {
  close(): void;
}

/**
 * Calls `onChange` once per debounced burst of changes under `paths` (files or directories), with
 * the config files that changed when every event of the burst named one, else with undefined
 * (a directory, a ConfigMap swap, an event without a name: the caller rescans everything).
 */
export async function watchPaths(paths: readonly string[], onChange: (changed?: ReadonlySet<string>) => void): Promise<PathWatch> {
  let changed: Set<string> | undefined = new Set();
  const debounced = debounce(() => {
    const files = changed;
    changed = new Set();
    onChange(files);
  });
  const note = (file: string | undefined) => {
    if (file === undefined) changed = undefined;
    else changed?.add(file);
    debounced.trigger();
  };
  const watchers: FSWatcher[] = [];
  const trees: DirTree[] = [];
  for (const p of paths.map((x) => resolve(x))) {
    const isDir = (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
    if (isDir) {
      const tree = new DirTree(p, (file) => {
        const relevant = readByLoader(p, file);
        if (!relevant) return;
        note(file.split(sep).some((part) => part.startsWith('..')) || !isConfigFileName(basename(file)) ? undefined : join(p, file));
      }, () => note(undefined));
      await tree.add(p);
      trees.push(tree);
      continue;
    }
    const name = basename(p);
    const w = watch(dirname(p), { persistent: false }, (_event, file) => {
      if (file && file === name) note(p);
      else if (!file || String(file).startsWith('..')) note(undefined);
    });
    w.on('error', () => note(undefined));
    watchers.push(w);
  }
  return {
    close() {
      debounced.cancel();
      for (const w of watchers) w.close();
      watchers.length = 0;
      for (const t of trees) t.close();
    },
  };
}

/**
 * A config directory watched one directory at a time (inotify on each directory, which reports every
 * entry's events whatever the entry's inode). Node's recursive watch on Linux watches files by
 * inode: once a file was replaced by a rename (sed -i, vim, git checkout, `mv new old`), it reported
 * nothing more for it, neither later edits nor its removal, and the waypoint served stale config
 * without a word. Directories the loader reads (not dot-directories) are watched; one that appears
 * is added, one that goes away is dropped.
 */
class DirTree {
  readonly #root: string;
  readonly #onFile: (rel: string) => void;
  readonly #onLost: () => void;
  readonly #watchers = new Map<string, FSWatcher>();
  /** Real paths watched: a symlink back up the tree (a loop) is not followed twice, as the loader's `seen`. */
  readonly #real = new Map<string, string>();
  #closed = false;

  constructor(root: string, onFile: (rel: string) => void, onLost: () => void) {
    this.#root = root;
    this.#onFile = onFile;
    this.#onLost = onLost;
  }

  async add(dir: string): Promise<void> {
    if (this.#closed || this.#watchers.has(dir)) return;
    const real = await realpath(dir).catch(() => undefined);
    if (real === undefined || [...this.#real.values()].includes(real)) return;
    this.#real.set(dir, real);
    let w: FSWatcher;
    try {
      w = watch(dir, { persistent: false }, (_event, file) => this.#event(dir, file));
    } catch {
      return this.#onLost();
    }
    w.on('error', () => {
      this.#drop(dir);
      this.#onLost();
    });
    this.#watchers.set(dir, w);
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const child = join(dir, e.name);
      if (e.isDirectory() || (e.isSymbolicLink() && (await stat(child).catch(() => undefined))?.isDirectory())) await this.add(child);
    }
  }

  #event(dir: string, file: string | Buffer | null): void {
    if (!file) return this.#onFile('');
    const path = join(dir, String(file));
    const rel = relative(this.#root, path);
    // A directory that appeared is watched from now on (and rescanned: the whole tree is reloaded);
    // one that went away stops being watched.
    if (!String(file).startsWith('.')) {
      let isDir = false;
      try {
        isDir = statSync(path).isDirectory();
      } catch {
        for (const d of [...this.#watchers.keys()]) if (d === path || d.startsWith(`${path}${sep}`)) this.#drop(d);
      }
      if (isDir) void this.add(path);
    }
    this.#onFile(rel);
  }

  #drop(dir: string): void {
    this.#watchers.get(dir)?.close();
    this.#watchers.delete(dir);
    this.#real.delete(dir);
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
    this.#real.clear();
  }
}

/**
 * Whether a change under a watched directory can change what loadConfig reads: a config file
 * (.yaml/.yml/.json, not a dotfile), a directory (moved in with files inside, or removed), or a
 * Kubernetes ConfigMap swap (`..data`, `..2024_...`). A log file written next to the YAML is not.
 */
function readByLoader(dir: string, file: string | Buffer | null): boolean {
  if (!file) return true;
  const rel = String(file);
  const parts = rel.split(sep);
  if (parts.some((p) => p.startsWith('..'))) return true;
  if (parts.some((p) => p.startsWith('.'))) return false;
  if (isConfigFileName(parts.at(-1)!)) return true;
  try {
    return statSync(join(dir, rel)).isDirectory();
  } catch {
    // Gone: a removed directory may have held config files; a removed `app.log` did not.
    return extname(rel) === '';
  }
}
