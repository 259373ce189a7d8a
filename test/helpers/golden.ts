// Golden files. A missing golden is a failure, not a file to write and then compare with itself
// (which could never fail): only UPDATE_GOLDEN=1 writes, and then reports what it wrote. Review
// the diff like code.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';

export function updatingGolden(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.UPDATE_GOLDEN === '1';
}

/** Asserts `text` equals `file`; with UPDATE_GOLDEN=1, writes it instead. */
export async function assertGolden(file: string, text: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (updatingGolden(env)) {
    await writeFile(file, text);
    return;
  }
  if (!existsSync(file)) assert.fail(`golden file ${file} is missing; run UPDATE_GOLDEN=1 on this test, review the new file and commit it`);
  assert.equal(text, await readFile(file, 'utf8'), `${file} differs; if the change is intended, run UPDATE_GOLDEN=1 and review the diff`);
}
