// Golden files for `egressway migrate`: for each input pattern in test/fixtures/migrate/<pattern>/,
// the ambient YAML and the report (with --verify) must match test/golden/migrate/<pattern>.{yaml,txt}.
// UPDATE_GOLDEN=1 rewrites them. The output must analyze with no error, and verify must agree.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadForTools } from '../../src/analyze/load.ts';
import { migrate } from '../../src/migrate/migrate.ts';
import { formatReport } from '../../src/migrate/report.ts';
import { assertGolden } from '../helpers/golden.ts';

const INPUTS = 'test/fixtures/migrate';
const GOLDEN = 'test/golden/migrate';
const ACCOUNTS: Record<string, Map<string, string>> = { 'asm-http': new Map([['app=sleep-a', 'mytest/sleep-a']]) };

const patterns = readdirSync(INPUTS).sort();

test('at least 8 distinct input patterns', () => assert.ok(patterns.length >= 8));

for (const pattern of patterns) {
  test(`migrate ${pattern}: output and report match the golden files; output analyzes clean; verify agrees`, async () => {
    const loaded = await loadForTools([join(INPUTS, pattern)]);
    assert.deepEqual(loaded.diagnostics.filter((d) => d.level === 'error'), []);
    const result = migrate(loaded.resources, { serviceAccounts: ACCOUNTS[pattern], verify: true });
    assert.deepEqual(result.analysis.filter((d) => d.level === 'error'), []);
    assert.ok(result.verify!.length > 0 && result.verify!.every((v) => v.same), formatReport(result));
    await assertGolden(join(GOLDEN, `${pattern}.yaml`), result.yaml);
    await assertGolden(join(GOLDEN, `${pattern}.report.txt`), formatReport(result));
  });
}

test('an unmapped workloadSelector is reported, never guessed', async () => {
  const loaded = await loadForTools([join(INPUTS, 'asm-http')]);
  const result = migrate(loaded.resources, {});
  assert.ok(result.warnings.some((w) => w.why.includes('--service-account-for app=sleep-a=mytest/')));
  assert.ok(!result.yaml.includes('sleep-a'));
});
