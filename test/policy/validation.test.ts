// AuthorizationPolicy validation (reference §6.2): every diagnostic, with its field path and line.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { validateResource } from '../../src/config/kinds/index.ts';
import { parseDocuments } from '../../src/config/parse.ts';

interface Case { name: string; policy: string; expect?: string[] }

const doc = parse(readFileSync(new URL('../fixtures/policy/validation.yaml', import.meta.url), 'utf8')) as { cases: Case[] };

for (const c of doc.cases) {
  test(`validation: ${c.name}`, () => {
    const parsed = parseDocuments(c.policy, 'policy.yaml');
    assert.equal(parsed.resources.length, 1, JSON.stringify(parsed.diagnostics));
    const diags = validateResource(parsed.resources[0]).diagnostics;
    for (const d of diags) assert.equal(d.file, 'policy.yaml');
    const got = diags.map((d) => `${d.code} ${d.level} ${d.path} @${d.line}`);
    if (process.env.PRINT) console.log(c.name, JSON.stringify(diags.map((d) => [`${d.code} ${d.level} ${d.path} @${d.line}`, d.message]), null, 1));
    assert.deepEqual(got.sort(), [...(c.expect ?? [])].sort());
  });
}
