// The config boundary (src/config/parse.ts, schema.ts, kinds/*, then compile and analyze): any text
// and any JSON-ish document is resources or diagnostics, never an exception.
import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { parseAllDocuments, stringify } from 'yaml';
import { analyze } from '../../../src/analyze/analyze.ts';
import { compile } from '../../../src/compile/compile.ts';
import { validateResource } from '../../../src/config/kinds/index.ts';
import { parseDocuments } from '../../../src/config/parse.ts';
import type { Resource } from '../../../src/config/resource.ts';
import { checkSchema, isPlainObject, withoutNulls } from '../../../src/config/schema.ts';
import { hasErrors } from '../../../src/model/diagnostic.ts';
import type { Diagnostic } from '../../../src/model/diagnostic.ts';
import { jsonish, resourceish, yamlText } from '../../helpers/arbitraries.ts';
import { fuzzProperty } from '../property.ts';
import { replacedAt, treePaths, type TreePath } from '../../helpers/tree-paths.ts';

const FIXTURES = new URL('../../fixtures/', import.meta.url);
const BASE = readFileSync(new URL('policy/base.yaml', FIXTURES), 'utf8');

/** Every object of the fixtures and examples: seeds that get far into validation and compile. */
function seeds(): Record<string, unknown>[] {
  const texts: string[] = [BASE];
  const dir = (d: URL) => readdirSync(d).filter((f) => f.endsWith('.yaml')).map((f) => readFileSync(new URL(f, d), 'utf8'));
  for (const d of ['config/service-entry/', 'config/gateway/']) texts.push(...dir(new URL(d, FIXTURES)));
  texts.push(...dir(new URL('../../../examples/quickstart/', import.meta.url)));
  // Route and policy fixtures hold their YAML in `config:` / `policies:` strings.
  for (const d of ['routes/', 'policy/']) {
    for (const file of dir(new URL(d, FIXTURES))) {
      for (const yamlDoc of parseAllDocuments(file)) {
        const doc = yamlDoc.toJS() as { config?: unknown; cases?: { policies?: unknown }[] } | null;
        if (!isPlainObject(doc)) continue;
        if (typeof doc.config === 'string') texts.push(doc.config);
        for (const c of Array.isArray(doc.cases) ? doc.cases : []) if (typeof c?.policies === 'string') texts.push(c.policies);
      }
    }
  }
  return texts.flatMap((t) => parseAllDocuments(t).map((d) => d.toJS() as unknown)).filter((v): v is Record<string, unknown> => isPlainObject(v) && typeof v.kind === 'string');
}

const SEEDS = seeds();


/** A fixture object with one to three of its fields (at any depth, metadata and kind included) replaced. */
const mutatedSeed: fc.Arbitrary<unknown> = fc.tuple(fc.nat(SEEDS.length - 1), fc.array(fc.tuple(fc.nat(), jsonish), { minLength: 1, maxLength: 3 }))
  .map(([i, edits]) => edits.reduce((doc: unknown, [at, value]) => {
    const all = treePaths(doc).filter((p) => p.length > 0);
    return all.length ? replacedAt(doc, all[at % all.length], value) : doc;
  }, SEEDS[i] as unknown));

function wellFormed(d: Diagnostic): void {
  if (typeof d.code !== 'string' || !d.code || !['error', 'warning', 'info'].includes(d.level) || typeof d.message !== 'string' || !d.message) {
    throw new Error(`malformed diagnostic ${JSON.stringify(d)}`);
  }
  if (d.line !== undefined && !(Number.isInteger(d.line) && d.line >= 1)) throw new Error(`line ${d.line} in ${JSON.stringify(d)}`);
}

/** What `egressway run` and `egressway analyze` do with a file's text, minus the file system. */
function pipeline(text: string): void {
  const parsed = parseDocuments(text, 'fuzz.yaml');
  const diagnostics: Diagnostic[] = [...parsed.diagnostics];
  const valid: Resource[] = [];
  for (const r of parsed.resources) {
    const v = validateResource(r);
    diagnostics.push(...v.diagnostics);
    if (v.known && !hasErrors(v.diagnostics)) valid.push(r);
  }
  diagnostics.push(...compile(valid).diagnostics);
  diagnostics.push(...analyze(valid, []));
  diagnostics.forEach(wellFormed);
}

const asYaml = (docs: readonly unknown[]) => docs.map((d) => stringify(d, { aliasDuplicateObjects: false })).join('---\n');

export const properties = [
  fuzzProperty('config: any YAML-ish text is resources or diagnostics, never an exception', fc.property(yamlText, fc.boolean(), (text, withBase) => {
    pipeline(withBase ? `${BASE}---\n${text}` : text);
  }), 200),
  fuzzProperty('config: any JSON-ish document is resources or diagnostics, never an exception', fc.property(fc.array(fc.oneof(jsonish, resourceish), { maxLength: 3 }), fc.boolean(), (docs, json) => {
    pipeline(`${BASE}---\n${json ? docs.map((d) => JSON.stringify(d) ?? 'null').join('\n---\n') : asYaml(docs)}`);
  }), 150),
  fuzzProperty('config: fixture resources with fields replaced by any value validate, compile and analyze without an exception', fc.property(fc.array(mutatedSeed, { minLength: 1, maxLength: 3 }), (docs) => {
    pipeline(`${BASE}---\n${asYaml(docs)}`);
  }), 150),
  fuzzProperty('config: checkSchema and withoutNulls take any value', fc.property(jsonish, (v) => {
    checkSchema(v, { type: 'object', fields: { a: { type: 'array', items: { type: 'integer' } }, b: { type: 'map', values: { type: 'string', enum: ['x'] } } }, required: ['a'] });
    withoutNulls(v);
  })),
];
