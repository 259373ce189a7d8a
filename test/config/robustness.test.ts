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

const WEIRD: unknown[] = [null, 0, -1, 1.5, '', '*', 'x/y', true, [], [null], {}, { a: null }];

type Path = (string | number)[];

function leafPaths(value: unknown, path: Path = []): Path[] {
  const children = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : isPlainObject(value) ? Object.entries(value) : [];
  return [path, ...children.flatMap(([k, v]) => leafPaths(v, [...path, k]))];
}

function replaced(value: unknown, path: Path, next: unknown): unknown {
  if (path.length === 0) return next;
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? replaced(v, rest, next) : v));
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  copy[head] = replaced(copy[head], rest, next);
  return copy;
}

const files = ['service-entry', 'gateway'].flatMap((dir) => readdirSync(fixture(dir)).map((f) => `${dir}/${f}`));

for (const file of files) {
  test(`validators never throw: ${file}`, () => {
    const resources = parseDocuments(readFileSync(fixture(file), 'utf8'), file).resources;
    for (const r of resources) {
      const body = { spec: r.spec, status: r.status };
      for (const path of leafPaths(body).filter((p) => p.length > 0)) {
        for (const weird of WEIRD) {
          const mutated: Resource = { ...r, ...(replaced(body, path, weird) as object) };
          const label = `${r.metadata.name} ${path.join('.')} = ${JSON.stringify(weird)}`;
          const { diagnostics } = validateResource(mutated);
          for (const d of diagnostics) assert.ok(d.code && d.message && d.line, label);
        }
      }
    }
  });
}
