// Temporary directories for configs and PEM files. Each one is removed by its `close()`, and anything a
// test forgot is removed when the process exits, so a failing test never leaves files behind.

import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Closable } from './lifecycle.ts';

export interface TmpDir extends Closable {
  readonly path: string;
}

const live = new Set<string>();
let exitHookInstalled = false;

export async function tmpDir(prefix = 'egressway-test-'): Promise<TmpDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  live.add(path);
  installExitHook();
  return {
    path,
    close: async () => {
      live.delete(path);
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** Writes YAML text into `dir` (default file name config.yaml) and returns the file's path. */
export async function writeConfig(dir: string, yamlText: string, fileName = 'config.yaml'): Promise<string> {
  const path = join(dir, fileName);
  await writeFile(path, yamlText);
  return path;
}

// 'exit' handlers must be synchronous, hence rmSync.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const path of live) rmSync(path, { recursive: true, force: true });
  });
}
