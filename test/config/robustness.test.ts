// Validators must never throw, whatever a field holds. Every field of every fixture resource is
// replaced in turn by values of the wrong shape; validation must still return diagnostics.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { validateResource } from '../../src/config/kinds/index.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import type { Resource } from '../../src/config/resource.ts';
import { isPlainObject } from '../../src/config/schema.ts';
import { fixture } from './fixtures.ts';
import { replacedAt, treePaths, type TreePath } from '../helpers/tree-paths.ts';

const WEIRD: unknown[] = [null, 0, -1, 1.5, '', '*', 'x/y', true, [], [null], {}, { a: null }];


const files = ['service-entry', 'gateway'].flatMap((dir) => readdirSync(fixture(dir)).map((f) => `${dir}/${f}`));

for (const file of files) {
  test(`validators never throw: ${file}`, () => {
    const resources = parseDocuments(readFileSync(fixture(file), 'utf8'), file).resources;
    for (const r of resources) {
      const body = { spec: r.spec, status: r.status };
      for (const path of treePaths(body).filter((p) => p.length > 0)) {
        for (const weird of WEIRD) {
          const mutated: Resource = { ...r, ...(replacedAt(body, path, weird) as object) };
          const label = `${r.metadata.name} ${path.join('.')} = ${JSON.stringify(weird)}`;
          const { diagnostics } = validateResource(mutated);
          for (const d of diagnostics) assert.ok(d.code && d.message && d.line, label);
        }
      }
    }
  });
}

// Regression (issue 11): parsing turned a null list item into `undefined`, which the schema walk let
// through and the rules then dereferenced (`ports: [null]` crashed every command). Through the real
// parser, every null list item is now one error at its path.
const kindsDirs = ['service-entry', 'gateway'];
const listFiles = kindsDirs.flatMap((dir) => readdirSync(fixture(dir)).map((f) => `${dir}/${f}`));

for (const file of listFiles) {
  test(`a null list item is an error at its path, through the parser: ${file}`, () => {
    const resources = parseDocuments(readFileSync(fixture(file), 'utf8'), file).resources;
    for (const r of resources) {
      const doc = { apiVersion: r.apiVersion, kind: r.kind, metadata: { name: r.metadata.name, namespace: r.metadata.namespace, labels: r.metadata.labels }, spec: r.spec };
      const itemPaths = treePaths({ spec: r.spec }).filter((p) => typeof p.at(-1) === 'number');
      for (const path of itemPaths) {
        const text = JSON.stringify(replacedAt(doc, path, null));
        const [parsed] = parseDocuments(text, 'x.json').resources;
        assert.ok(parsed, `${file} ${path.join('.')}`);
        const { diagnostics } = validateResource(parsed);
        const want = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').slice(1);
        const hit = diagnostics.find((d) => d.path === want && d.message === 'list item must not be null');
        const anyItems = path.includes('certificateRefs');
        assert.ok(hit || anyItems, `${r.metadata.name} ${want}: ${diagnostics.map((d) => `${d.path}: ${d.message}`).join('; ')}`);
      }
    }
  });
}
