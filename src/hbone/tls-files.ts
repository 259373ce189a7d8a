// Certificate, key and trust bundle read from files and reloaded when they change, for both ends
// of HBONE. Directories are watched (not files) so rename-into-place writes and Kubernetes secret
// symlink swaps are seen. A changed set is applied only once cert and key match and the bundle
// parses: a half-rotated pair (new cert, old key) waits for the next event instead of breaking TLS.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';

export interface TlsPaths {
  readonly cert: string;
  readonly key: string;
  /** Trust bundle: one PEM file, several roots allowed (old and new during a CA rotation). */
  readonly ca: string;
}

export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** Reads and checks a set; throws with the file and the cause. */
export async function readTlsMaterial(p: TlsPaths): Promise<TlsMaterial> {
  const read = (what: string, f: string) => readFile(f, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${what} ${f}: ${err.code ?? err.message}`);
  });
  const m = { cert: await read('certificate', p.cert), key: await read('key', p.key), ca: await read('trust bundle', p.ca) };
  try {
    createSecureContext(m);
  } catch (err) {
    throw new Error(`${p.cert}, ${p.key}, ${p.ca}: ${(err as Error).message} (does the key belong to the certificate?)`);
  }
  return m;
}

export interface TlsWatcherOptions {
  readonly onChange: (m: TlsMaterial) => void;
  readonly onError?: (err: Error) => void;
  /** Quiet time before a reload, so a cert and key written one after the other are read together. */
  readonly debounceMs?: number;
}

export class TlsFileWatcher {
  #paths: TlsPaths;
  #opts: TlsWatcherOptions;
  #current: TlsMaterial;
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #loading = false;

  constructor(paths: TlsPaths, initial: TlsMaterial, opts: TlsWatcherOptions) {
    this.#paths = { cert: resolve(paths.cert), key: resolve(paths.key), ca: resolve(paths.ca) };
    this.#current = initial;
    this.#opts = opts;
    const dirs = new Set([this.#paths.cert, this.#paths.key, this.#paths.ca].map((f) => dirname(f)));
    const names = new Set([this.#paths.cert, this.#paths.key, this.#paths.ca].map((f) => basename(f)));
    for (const dir of dirs) {
      const w = watch(dir, (_event, name) => {
        // `..data` is the symlink Kubernetes swaps when a mounted secret changes.
        if (name === null || names.has(name) || name === '..data') this.#schedule();
      });
      w.on('error', (err) => this.#opts.onError?.(err));
      w.unref();
      this.#watchers.push(w);
    }
  }

  get current(): TlsMaterial {
    return this.#current;
  }

  /** Re-reads now (also what a watch event does, after the debounce). */
  async check(): Promise<boolean> {
    if (this.#loading) return false;
    this.#loading = true;
    try {
      const next = await readTlsMaterial(this.#paths);
      if (next.cert === this.#current.cert && next.key === this.#current.key && next.ca === this.#current.ca) return false;
      this.#current = next;
      this.#opts.onChange(next);
      return true;
    } catch (err) {
      this.#opts.onError?.(err as Error);
      return false;
    } finally {
      this.#loading = false;
    }
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      // An event during a read gets its own read once that one is done.
      if (this.#loading) this.#schedule();
      else void this.check();
    }, this.#opts.debounceMs ?? 100);
    this.#timer.unref();
  }

  close(): void {
    clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
  }
}
