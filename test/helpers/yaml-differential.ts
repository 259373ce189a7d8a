// The YAML fast path's contract, checked against the `yaml` library: wherever parseFast answers,
// yaml reports nothing, and the documents' values (key order, prototype, -0), texts and root
// positions are yaml's. Shared by the property test and the adversarial one.
import assert from 'node:assert/strict';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { Document } from 'yaml';
import { lineStarts, linePos } from '../../src/config/yaml-ast.ts';
import { parseFast } from '../../src/config/yaml-fast.ts';
import { KUBECTL_YAML } from '../../src/config/yaml-schema.ts';

/** Values with key order, prototype and number identity spelt out (deepStrictEqual ignores key order). */
export function shape(v: unknown): unknown {
  if (Array.isArray(v)) return ['[', ...v.map(shape)];
  if (v !== null && typeof v === 'object') return ['{', Object.getPrototypeOf(v) === Object.prototype, ...Object.keys(v).map((k) => [k, shape((v as Record<string, unknown>)[k])])];
  if (typeof v === 'number') return ['n', Object.is(v, -0) ? '-0' : String(v)];
  return [typeof v, v];
}

/** 'fast' when the fast path answered and agreed with yaml in every respect, 'fallback' when it declined. */
export function differential(text: string): 'fast' | 'fallback' {
  let fast: ReturnType<typeof parseFast>;
  try {
    fast = parseFast(text);
  } catch (e) {
    assert.fail(`parseFast threw ${String(e)} on ${JSON.stringify(text)}`);
  }
  if (!fast) return 'fallback';
  const where = JSON.stringify(text.length > 3000 ? `${text.slice(0, 3000)}...` : text);
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { ...KUBECTL_YAML, lineCounter: lines }) as Document.Parsed[];
  assert.deepEqual(docs.flatMap((d) => [...d.errors, ...d.warnings].map((e) => e.code)), [], `fast path answered where yaml complains: ${where}`);
  assert.equal(fast.length, docs.length, `document count differs: ${where}`);
  const values = docs.map((d) => d.toJS({ maxAliasCount: 100 }) as unknown);
  assert.deepStrictEqual(fast.map((d) => shape(d.value)), values.map(shape), `values differ: ${where}`);
  assert.deepStrictEqual(fast.map((d) => d.value), values, `values differ: ${where}`);
  assert.deepStrictEqual(fast.map((d) => d.text), docs.map((d) => text.slice(d.range[0], d.range[2])), `document texts differ: ${where}`);
  const starts = lineStarts(text);
  docs.forEach((d, i) => {
    if (values[i] === null) return;
    const at = d.contents!.range[0];
    assert.equal(fast[i]!.rootOffset, at, `root offset differs in document ${i}: ${where}`);
    const { line, col } = lines.linePos(at);
    assert.deepEqual(linePos(starts, at), { line, column: col }, `root position differs: ${where}`);
  });
  return 'fast';
}
