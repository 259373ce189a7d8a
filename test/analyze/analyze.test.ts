// One fixture per code (test/fixtures/analyze/<CODE>.yaml): resources named bad-* must get the code,
// resources named ok-* (the near miss) must not.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { analyze } from '../../src/analyze/analyze.ts';
import { loadForTools } from '../../src/analyze/load.ts';
import { exitCode, parseSuppression, suppressed } from '../../src/analyze/output.ts';

const DIR = 'test/fixtures/analyze';

for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort()) {
  const code = file.replace('.yaml', '');
  test(`${code}: fires on bad-* and not on the ok-* near miss`, async () => {
    const loaded = await loadForTools([join(DIR, file)]);
    const found = analyze(loaded.resources, loaded.diagnostics, {}, loaded.rejected).filter((d) => d.code === code);
    const names = found.map((d) => d.resource?.name ?? '');
    assert.ok(names.some((n) => n.startsWith('bad-')), `${code} should fire: ${JSON.stringify(found)}`);
    assert.deepEqual(names.filter((n) => n.startsWith('ok-')), [], `${code} fired on a near miss`);
    assert.ok(found.every((d) => d.file && d.line), 'every finding names file:line');
  });
}

test('suppression by code and resource glob, istioctl syntax', async () => {
  const loaded = await loadForTools([join(DIR, 'IST0134.yaml')]);
  const all = analyze(loaded.resources, loaded.diagnostics, {}, loaded.rejected);
  const rule = parseSuppression('IST0134=ServiceEntry egress/bad-*');
  assert.ok(typeof rule !== 'string');
  assert.equal(all.filter((d) => d.code === 'IST0134' && !suppressed(d, [rule])).length, 0);
  assert.equal(typeof parseSuppression('IST0134 ServiceEntry'), 'string');
});

test('exit codes follow istioctl: 79 for issues at the threshold, 65 for unparsable files, 0 otherwise', async () => {
  const bad = await loadForTools([join(DIR, 'IST0101.yaml')]);
  assert.equal(exitCode(analyze(bad.resources, bad.diagnostics), 'error'), 79);
  const warn = await loadForTools([join(DIR, 'IST0174.yaml')]);
  assert.equal(exitCode(analyze(warn.resources, warn.diagnostics), 'error'), 0);
  assert.equal(exitCode(analyze(warn.resources, warn.diagnostics), 'warning'), 79);
  const broken = await loadForTools(['test/fixtures/config/syntax-error.yaml']);
  assert.equal(exitCode(broken.diagnostics.filter((d) => d.code === 'EGW0001'), 'error'), 65);
});

test('bad input (non-YAML, unknown kinds, half-written resources) gives diagnostics with file:line, never a throw', async () => {
  const loaded = await loadForTools(['test/fixtures/config/syntax-error.yaml', 'test/fixtures/config/missing-name.yaml', 'test/fixtures/config/unknown-kind.yaml']);
  const all = analyze(loaded.resources, loaded.diagnostics, {}, loaded.rejected);
  assert.ok(all.length > 0);
  for (const d of all.filter((x) => x.level === 'error')) assert.ok(d.file && d.line, JSON.stringify(d));
  // The sidecar-era networking Gateway is read by analyze (not "unknown kind").
  assert.ok(all.some((d) => d.resource?.name === 'istio-egressgateway' && d.code === 'IST0106'));
});
