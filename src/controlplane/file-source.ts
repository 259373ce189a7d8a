// File mode: load the config paths, compile, swap. Watches the paths (directories recursively;
// files through their parent so editors' rename-on-save and ConfigMap symlink swaps are seen),
// debounces bursts, and keeps the last good snapshot when a reload fails. The watcher is exported on
// its own (watchPaths) so the node agent reloads on the same events as the waypoint.
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { compile, type CompileOptions } from '../compile/compile.ts';
import { loadConfig } from '../config/load.ts';
import { hasErrors, type Diagnostic } from '../model/diagnostic.ts';
import { debounce } from './debounce.ts';
import type { SnapshotStore } from './store.ts';

export interface ReloadResult {
  readonly ok: boolean;
  readonly diagnostics: readonly Diagnostic[];
  readonly version?: string;
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
  #running = false;
  #again = false;
  #watch: PathWatch | undefined;

  constructor(store: SnapshotStore, paths: readonly string[], options: CompileOptions, onResult: (r: ReloadResult) => void) {
    this.#store = store;
    this.#paths = paths.map((p) => resolve(p));
    this.#options = options;
    this.#onResult = onResult;
  }

  /** One reload; concurrent triggers coalesce into one more run after the current one. */
  async reload(): Promise<ReloadResult> {
    if (this.#running) {
      this.#again = true;
      return { ok: true, diagnostics: [] };
    }
    this.#running = true;
    try {
      let result: ReloadResult;
      do {
        this.#again = false;
        result = await this.#reloadOnce();
      } while (this.#again);
      return result;
    } finally {
      this.#running = false;
    }
  }

  async #reloadOnce(): Promise<ReloadResult> {
    const built = await buildSnapshot(this.#paths, this.#options);
    const result: ReloadResult = built.snapshot
      ? { ok: true, diagnostics: built.diagnostics, version: built.snapshot.version }
      : { ok: false, diagnostics: built.diagnostics };
    if (built.snapshot) {
      if (!this.#store.hasSnapshot || this.#store.current().version !== built.snapshot.version) {
        this.#store.swap(built.snapshot, built.diagnostics);
      }
    } else {
      this.#store.reject(built.diagnostics);
    }
    this.#onResult(result);
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
      if (isDir || !file || file === name || String(file).startsWith('..')) debounced.trigger();
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
