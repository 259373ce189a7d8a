// Golden files for compiled snapshots of the bundled examples. UPDATE_GOLDEN=1 rewrites them;
// review the diff like code.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { loadConfig } from '../../src/config/load.ts';
import { snapshotToJson } from '../../src/model/snapshot-json.ts';
import { assertGolden } from '../helpers/golden.ts';

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
    await assertGolden(file, text);
  });
}

test('compile is deterministic: input order does not change the snapshot', async () => {
  const loaded = await loadConfig([join(EXAMPLES, 'quickstart')]);
  const a = compile(loaded.resources, {});
  const b = compile([...loaded.resources].reverse(), {});
  assert.equal(JSON.stringify(snapshotToJson(a.snapshot!)), JSON.stringify(snapshotToJson(b.snapshot!)));
});
