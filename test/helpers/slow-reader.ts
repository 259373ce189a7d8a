// A fixture script run with Node 24 whose stdout pipe nobody reads for `readAfterMs`: the 64 KiB
// pipe fills, and what the child writes meanwhile must wait, not fail (workers/output.ts and the
// access log's fd writer).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './waypoint.ts';

export async function runWithSlowReader(script: string, args: readonly string[], readAfterMs: number): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(join(REPO_ROOT, 'node_modules/.bin/node'), [join(REPO_ROOT, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => void (err += d));
  child.stdout.pause();
  child.stdout.on('data', (d) => void (out += d));
  setTimeout(() => child.stdout.resume(), readAfterMs);
  const code = await new Promise<number | null>((r) => child.once('close', r));
  return { code, out, err };
}
