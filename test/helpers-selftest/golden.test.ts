// Regression (issue 11): golden tests wrote a missing golden file and then compared it with itself.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertGolden } from '../helpers/golden.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('a missing golden file fails, and is not written', async () => {
  const dir = await tmpDir();
  const file = join(dir.path, 'missing.txt');
  await assert.rejects(assertGolden(file, 'x', {}), /golden file .*missing\.txt is missing; run UPDATE_GOLDEN=1/);
  assert.equal(existsSync(file), false);
  await dir.close();
});

test('a different golden file fails; an equal one passes', async () => {
  const dir = await tmpDir();
  const file = join(dir.path, 'g.txt');
  await writeFile(file, 'old\n');
  await assert.rejects(assertGolden(file, 'new\n', {}), /differs; if the change is intended/);
  await assertGolden(file, 'old\n', {});
  await dir.close();
});

test('UPDATE_GOLDEN=1 writes the file (missing or different)', async () => {
  const dir = await tmpDir();
  const file = join(dir.path, 'g.txt');
  await assertGolden(file, 'one\n', { UPDATE_GOLDEN: '1' });
  assert.equal(await readFile(file, 'utf8'), 'one\n');
  await assertGolden(file, 'two\n', { UPDATE_GOLDEN: '1' });
  assert.equal(await readFile(file, 'utf8'), 'two\n');
  await dir.close();
});
