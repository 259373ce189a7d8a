// Golden files for compiled snapshots of the bundled examples. UPDATE_GOLDEN=1 rewrites them;
// review the diff like code.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { loadConfig } from '../../src/config/load.ts';
import { snapshotToJson } from '../../src/model/snapshot-json.ts';

const EXAMPLES = 'examples';
const GOLDEN = 'test/golden';

for (const example of readdirSync(EXAMPLES)) {
  test(`compiled snapshot of examples/${example} matches its golden file`, async () => {
    const loaded = await loadConfig([join(EXAMPLES, example)]);
    assert.deepEqual(loaded.diagnostics.filter((d) => d.level === 'error'), []);
    const out = compile(loaded.resources, {});
    assert.ok(out.snapshot, JSON.stringify(out.diagnostics));
    const text = `${JSON.stringify(snapshotToJson(out.snapshot), null, 2)}\n`;
    const file = join(GOLDEN, `snapshot-${example}.json`);
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
      if (process.env.CI) assert.fail(`${file} is missing; run UPDATE_GOLDEN=1 npm test and commit it`);
      await writeFile(file, text);
    }
    assert.equal(text, await readFile(file, 'utf8'));
  });
}

test('compile is deterministic: input order does not change the snapshot', async () => {
  const loaded = await loadConfig([join(EXAMPLES, 'quickstart')]);
  const a = compile(loaded.resources, {});
  const b = compile([...loaded.resources].reverse(), {});
  assert.equal(JSON.stringify(snapshotToJson(a.snapshot!)), JSON.stringify(snapshotToJson(b.snapshot!)));
});
