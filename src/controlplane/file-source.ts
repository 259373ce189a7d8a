// File mode: load the config paths, compile, swap. Watches the paths (directories recursively;
// files through their parent so editors' rename-on-save and ConfigMap symlink swaps are seen),
// debounces bursts, and keeps the last good snapshot when a reload fails. The watcher is exported on
// its own (watchPaths) so the node agent reloads on the same events as the waypoint.
import { statSync, watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { compile, type CompileOptions } from '../compile/compile.ts';
import { isConfigFileName, loadConfig } from '../config/load.ts';
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

/** Load + validate + compile. Diagnostics from every stage, snapshot only if none is an error. */
export async function buildSnapshot(paths: readonly string[], options: CompileOptions) {
  const loaded = await loadConfig([...paths]);
  if (hasErrors(loaded.diagnostics)) return { diagnostics: loaded.diagnostics, files: loaded.files };
  const compiled = compile(loaded.resources, options);
  return { snapshot: compiled.snapshot, diagnostics: [...loaded.diagnostics, ...compiled.diagnostics], files: loaded.files };
}

export class FileSource {
  #store: SnapshotStore;
  #paths: readonly string[];
  #options: CompileOptions;
  #onResult: (r: ReloadResult) => void;
  #running: Promise<ReloadResult> | undefined;
  #again = false;
  #watch: PathWatch | undefined;

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
   * the result of the last run.
   */
  reload(): Promise<ReloadResult> {
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
  async #reloadOnce(): Promise<ReloadResult> {
    const built = await buildSnapshot(this.#paths, this.#options);
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
    this.#watch = await watchPaths(this.#paths, () => void this.reload());
  }

  close(): void {
    this.#watch?.close();
    this.#watch = undefined;
  }
}

export interface PathWatch {
  close(): void;
}

/** Calls `onChange` once per debounced burst of changes under `paths` (files or directories). */
export async function watchPaths(paths: readonly string[], onChange: () => void): Promise<PathWatch> {
  const debounced = debounce(onChange);
  const watchers: FSWatcher[] = [];
  for (const p of paths.map((x) => resolve(x))) {
    const isDir = (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
    const dir = isDir ? p : dirname(p);
    const name = basename(p);
    const w = watch(dir, { recursive: isDir, persistent: false }, (_event, file) => {
      const relevant = isDir ? readByLoader(dir, file) : !file || file === name || String(file).startsWith('..');
      if (relevant) debounced.trigger();
    });
    w.on('error', () => debounced.trigger());
    watchers.push(w);
  }
  return {
    close() {
      debounced.cancel();
      for (const w of watchers) w.close();
      watchers.length = 0;
    },
  };
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
