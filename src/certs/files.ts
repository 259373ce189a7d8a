// PEM files on disk. Writes go to a temporary name and are renamed into place, so a watcher (the
// waypoint's or the agent's hot reload) never reads half a file.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca.key';

export async function writeAtomic(path: string, text: string, mode = 0o644): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, path);
}

/** Writes `<name>.crt` and `<name>.key` (0600) under `dir`, key first, and returns their paths. */
export async function writePair(dir: string, name: string, cert: string, key: string): Promise<{ cert: string; key: string }> {
  await mkdir(dir, { recursive: true });
  const paths = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await writeAtomic(paths.key, key, 0o600);
  await writeAtomic(paths.cert, cert);
  return paths;
}

export async function readText(flag: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
