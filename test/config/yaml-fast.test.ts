// The YAML fast path (src/config/yaml-fast.ts) against the `yaml` library: whenever the fast path
// answers instead of falling back, every document's value (key order, -0 and NaN included), text
// slice and root offset equal what yaml gives, and yaml had no error or warning. Generated
// Kubernetes-like documents in many styles, then mutations of them and random strings.
// Longer runs: PROPERTY_SEED=<n> PROPERTY_RUNS=3000 ./node_modules/.bin/node --test test/config/yaml-fast.test.ts
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import fc from 'fast-check';
import { DOC_TEXT, parseDocuments } from '../../src/config/parse.ts';
import { parseFast } from '../../src/config/yaml-fast.ts';
import { differential } from '../helpers/yaml-differential.ts';

const seed = Number(process.env.PROPERTY_SEED ?? 0x16);
const numRuns = Number(process.env.PROPERTY_RUNS ?? 300);

/** True when the fast path answered (and then it agreed with yaml), false when it fell back. */
const agrees = (text: string): boolean => differential(text) === 'fast';

// ---- generators: a tree, then text in one of many styles ----

const words = ['svc-1', 'istio-egress', 'httpbin.org', 'ServiceEntry', 'networking.istio.io/v1', '/deny-1', 'GET', 'a b', 'x', 'é日本'];
// Valid as plain scalars, and resolved by the core schema to numbers, booleans, null or strings.
const resolving = ['80', '0x1F', '0X1F', '0O17', '0o', '0x', '1e', 'e3', '+.5', '1.e3', '.e3', '1.5E+3', '-.inf', '.Inf', '.INF', 'inf', '+-1', '1 2', '0.0', '-0.0', '1e400', '99999999999999999999', '0x1g', '0o17', '0o8', '1e3', '1E-3', '+1', '-1', '-0', '+0', '.5', '-.5', '1.', '1.50', '007', '0b1', '1_000', '12:30', '.inf', '-.Inf', '+.INF', '.NaN', '.nan', '.NAN', 'nan', 'yes', 'no', 'on', 'off', 'y', '~', 'null', 'Null', 'NULL', 'nULL', 'true', 'True', 'TRUE', 'tRUE', 'false', 'False', 'FALSE', '2026-01-01', 'Y', 'N', 'n', 'Yes', 'NO', 'OFF', 'On', '0777', '-0777', '08', '09.5', '-0o7', '0B11', '-0b101', '0b-101', '0b', '0b2', '1__0', '+_1', '_1', '1_', '0_x10', '._1', '.5_5', '.5_', '.', '+.', '1_000.5', '1e3_0', '1:30', '190:20:30', '0xFFFFFFFFFFFFFFFFFF', '.5e999', '2001-12-14t21:59:43.10Z', 'a:b', 'http://x.y/z?q=1', 'a#b', 'a,b', 'b[0]', 'x}', 'x]', '-x', '--x', "it's", 'a  b', '<<', '__proto__', 'toString', 'constructor', '\\', 'a\\nb', '...', '---'];
// Characters and spellings that need quotes, or that yaml reads in ways the fast path does not.
const edges = ['a #b', '{x}', '- x', '?x', ':x', '*x', '&x', '!x', '%x', '@x', '`x', '|', '>', "'q'", '"q"', ' lead', 'trail ', '', 'a: b', '#x', 'x:', '-', 'a\tb', 'a\nb', '\u0085', '\u00a0x'];
const tricky_ = [...resolving, ...edges];
const keyPool = ['apiVersion', 'kind', 'metadata', 'name', 'namespace', 'spec', 'hosts', 'ports', 'number', 'protocol', 'labels', 'app.kubernetes.io/name', 'a b', '"q"', 'x-y', 'é'];
const oddKeys = ['__proto__', 'toString', 'x:y', '-k', 'a#b', 'name', '"80"'];
// Keys yaml does not read as strings, or reads as a merge: the fast path leaves them to yaml.
const nonStringKeys = ['80', 'true', 'null', '~', '<<', '1e3', '.5', 'n', 'yes', '0777', '1_0'];

type Tree = { t: 's'; v: string } | { t: 'm'; e: [string, Tree][] } | { t: 'q'; v: Tree[] };
/** Trees of Kubernetes-like documents; `tricky` weighs the values and keys that test the edges. */
function trees(tricky: number) {
  const scalar: fc.Arbitrary<Tree> = fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...words) },
    { weight: 3, arbitrary: fc.constantFrom(...resolving) },
    { weight: 2, arbitrary: fc.integer({ min: -100000, max: 100000 }).map(String) },
    { weight: tricky - 1, arbitrary: fc.constantFrom(...edges) },
    { weight: tricky - 1, arbitrary: fc.string({ maxLength: 6 }) },
  ).map((v): Tree => ({ t: 's', v }));
  const key = fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...keyPool) }, { weight: tricky, arbitrary: fc.constantFrom(...oddKeys, ...(tricky > 1 ? [...nonStringKeys, ...tricky_] : [])) }, { weight: tricky - 1, arbitrary: fc.string({ maxLength: 4 }) });
  // Unique keys in ordinary documents (a duplicate makes yaml fail); the edge-dense ones repeat some.
  const entries = (value: fc.Arbitrary<Tree>, maxLength: number) => tricky > 1
    ? fc.array(fc.tuple(key, value), { minLength: 1, maxLength })
    : fc.uniqueArray(fc.tuple(key, value), { minLength: 1, maxLength, selector: ([k]) => k });
  const { tree } = fc.letrec<{ tree: Tree; map: Tree; seq: Tree }>((tie) => ({
    tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('map'), tie('seq')),
    map: entries(tie('tree'), 4).map((e): Tree => ({ t: 'm', e })),
    seq: fc.array(tie('tree'), { maxLength: 3 }).map((v): Tree => ({ t: 'q', v })),
  }));
  return entries(tree, 5).map((e): Tree => ({ t: 'm', e }));
}

/** Rendering choices, drawn once per document and consumed in order. */
interface Style { pick: (n: number) => number }
function styleFrom(choices: number[]): Style {
  let i = 0;
  return { pick: (n) => choices[i++ % choices.length]! % n };
}

function renderScalar(v: string, st: Style): string {
  switch (st.pick(5)) {
    case 0: return `'${v.replaceAll("'", "''")}'`;
    case 1: return JSON.stringify(v);
    case 2: return `"${[...v].map((ch) => (ch === '"' || ch === '\\' ? `\\${ch}` : ch === '\n' ? '\\n' : ch === '/' ? '\\/' : ch === 'é' ? '\\xe9' : ch === '日' ? '\\u65E5' : ch)).join('')}"`;
    default: return v;
  }
}
const renderKey = (k: string, st: Style) => (st.pick(6) === 0 ? renderScalar(k, st) : k);

function spaces(st: Style): string {
  return [' ', ' ', ' ', '  ', ''][st.pick(5)]!;
}
function comment(st: Style): string {
  const r = st.pick(8);
  return r === 0 ? ' # note: x' : r === 1 ? ' #' : '';
}

function flow(t: Tree, st: Style, indent: string): string {
  const multi = st.pick(4) === 0;
  const sep = multi ? `,${comment(st)}\n${indent}  ` : `,${spaces(st)}`;
  const trail = st.pick(6) === 0 ? ',' : '';
  if (t.t === 's') return renderScalar(t.v, st);
  if (t.t === 'q') return `[${t.v.map((x) => flow(x, st, `${indent}  `)).join(sep)}${t.v.length ? trail : ''}]`;
  return `{${spaces(st).trim()}${t.e.map(([k, v]) => `${renderKey(k, st)}:${st.pick(10) ? ' ' : spaces(st)}${flow(v, st, `${indent}  `)}`).join(sep)}${trail}${multi ? `\n${indent}` : ''}}`;
}

/** Lines of a block node at `indent` (its first line's prefix supplied by the caller). */
function block(t: Tree, st: Style, indent: number, out: string[], first: string, inBlock = false): void {
  const pad = ' '.repeat(indent);
  if (t.t === 's' || (!inBlock && st.pick(5) === 0)) {
    out.push(`${first}${t.t === 's' ? renderScalar(t.v, st) : flow(t, st, pad)}${comment(st)}`);
    return;
  }
  if (t.t === 'q' && t.v.length === 0) {
    out.push(`${first}${inBlock ? '- x' : '[]'}`);
    return;
  }
  const items = t.t === 'm' ? t.e : t.v.map((v) => ['', v] as [string, Tree]);
  items.forEach(([k, v], i) => {
    const lead = i === 0 ? first : pad;
    if (st.pick(10) === 0) out.push(`${' '.repeat(st.pick(6))}# comment ${i}`);
    if (st.pick(12) === 0) out.push(' '.repeat(st.pick(2) * st.pick(5)));
    const head = t.t === 'm' ? `${lead}${renderKey(k, st)}:` : `${lead}-`;
    const step = [2, 2, 4, 1, 3][st.pick(5)]!;
    if (v.t === 's' && t.t === 'm' && st.pick(10) === 0) {
      out.push(`${head}${comment(st)}`); // the value on the next line, or empty
      if (st.pick(2) === 0) out.push(`${pad}${' '.repeat(step)}${renderScalar(v.v, st)}`);
    } else if (v.t === 's' || (v.t === 'q' && v.v.length === 0)) {
      out.push(`${head}${spaces(st) || ' '}${v.t === 's' ? renderScalar(v.v, st) : '[]'}${comment(st)}`);
    } else if (t.t === 'q' && st.pick(2) === 0) {
      // `- key: v` compact: the node starts on the dash's line.
      const gap = ' '.repeat(1 + st.pick(2));
      block(v, st, indent + 1 + gap.length, out, `${head}${gap}`);
    } else if (t.t === 'm' && v.t === 'q' && st.pick(2) === 0) {
      out.push(`${head}${comment(st)}`);
      block(v, st, indent, out, pad, true); // a sequence at its key's indent
    } else {
      out.push(`${head}${comment(st)}`);
      block(v, st, indent + step, out, ' '.repeat(indent + step));
    }
  });
}

function renderDoc(t: Tree, st: Style): string {
  const out: string[] = [];
  if (st.pick(12) === 0) out.push(flow(t, st, ''));
  else {
    const indent = st.pick(8) === 0 ? 2 : 0;
    block(t, st, indent, out, ' '.repeat(indent));
  }
  return out.join('\n');
}

function streams(tricky: number) {
  const docText = fc.tuple(trees(tricky), fc.array(fc.nat(), { minLength: 40, maxLength: 40 })).map(([t, c]) => renderDoc(t, styleFrom(c)));
  return fc.tuple(
    fc.array(fc.oneof({ weight: 6, arbitrary: docText }, { weight: 1, arbitrary: fc.constantFrom('', '# only a comment', '\n\n', '~', 'plain') }), { minLength: 1, maxLength: 3 }),
    fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
  ).map(([docs, c]) => {
    const st = styleFrom(c);
    const lead = ['', '---\n', '# head\n---\n', '\n\n', '--- # start\n'][st.pick(5)]!;
    const sep = () => ['\n---\n', '\n---\n', '\n...\n---\n', '\n\n# between\n---\n', '\n---   \n', '\n...\n', '\n  # c\n...  # c\n\n---\n'][st.pick(7)]!;
    const end = ['\n', '\n', '', '\n...\n', '\n\n\n', '\n# tail\n', '\n---\n', '\n# tail\n...\n', '\n...\n...\n'][st.pick(9)]!;
    return lead + docs.map((d, i) => (i ? sep() : '') + d).join('') + end;
  });
}
/** Mostly ordinary manifests (the share that takes the fast path is asserted on these). */
const streamText = streams(1);
/** Dense in the edges: numbers-as-strings, odd keys, indicator characters. */
const trickyText = streams(8);

// Mutations: insert, delete or replace one character at a time, with characters YAML cares about.
const specials = ['\t', ' ', '  ', '\n', ':', '-', '- ', '#', ' #', "'", '"', '[', ']', '{', '}', ',', '&a ', '*a', '!t ', '|', '>', '? ', '%', '\r', '\uFEFF', '...', '---', '\\', '<<: ', 'x: ', '~', '0x', '.'];
const mutated = fc.tuple(fc.oneof(streamText, trickyText), fc.array(fc.tuple(fc.nat(), fc.nat(2), fc.oneof(fc.constantFrom(...specials), fc.string({ maxLength: 2 }))), { minLength: 1, maxLength: 4 })).map(([text, edits]) => {
  let s = text;
  for (const [at, op, ins] of edits) {
    const i = at % (s.length + 1);
    s = op === 0 ? s.slice(0, i) + ins + s.slice(i) : op === 1 ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i) + ins + s.slice(i + ins.length);
  }
  return s;
});

test('yaml fast path: generated Kubernetes-like documents give what yaml gives, and most take the fast path', () => {
  let fast = 0;
  let total = 0;
  fc.assert(fc.property(streamText, (text) => {
    total++;
    if (agrees(text)) fast++;
  }), { seed, numRuns });
  console.log(`# fast path taken by ${fast} of ${total} generated streams (${((100 * fast) / total).toFixed(0)}%)`);
  assert.ok(fast > total / 2, `only ${fast} of ${total} took the fast path`);
});

test('yaml fast path: documents dense in edge cases fall back or give what yaml gives', () => {
  let fast = 0;
  fc.assert(fc.property(trickyText, (text) => {
    if (agrees(text)) fast++;
  }), { seed, numRuns });
  console.log(`# fast path taken by ${fast} of ${numRuns} edge-dense streams`);
});

test('yaml fast path: mutated documents and random strings fall back or give what yaml gives', () => {
  let fast = 0;
  fc.assert(fc.property(fc.oneof(mutated, fc.string({ maxLength: 40 }), fc.string({ unit: fc.constantFrom(...specials, 'a', 'b', '1'), maxLength: 20 })), (text) => {
    if (agrees(text)) fast++;
  }), { seed, numRuns: numRuns * 2 });
  console.log(`# fast path taken by ${fast} of ${numRuns * 2} mutated or random texts`);
});

test('yaml fast path: hand-picked edge cases', () => {
  const cases = [
    '', '# c\n', 'a: 1', '---\n---\n', '---\n', '--- # c\n', 'a: 1\n---', 'a:\n  b:\n\n', '- a\n-\n\n', 'a:\n- 1\n-\n',
    'a: 1\n...\n# x\n---\nb: 1\n', '  \n  # c\n  a: 1\n', '{"a": [1, 2],\n "b": null}\n', 'a: [1,\n  2]\n',
    'k: -0\nf: .NaN\nx: 0o17\nh: 0x1F\ne: 1e3\n', '__proto__: 1\ntoString: 2\n', '"80": x\n', "'a''b': \"\\u00e9\\x41\\U0001F600\"\n",
    'a  : b\n', '"a" : b\n', '- a: 1\n  - b\n', 'a:\n  - b\n  c: d\n', "a: 'b' # c\n", "a: 'b'# c\n", '- - - a\n',
    'a:\n  -\n    b: 1\n', 'a: -1\nb: --1\n', 'a: ...\n', '  ...\n', 'k: v:1\n', 'a: http://x:80/y\n', '[a, b]: c\n',
    'a: "\\x4"\n', 'a: "\\UFFFFFFFF"\n', 'a: "\\q"\n', 'a:\n\n\n  b: 1\n', 'a: 1\n   \n# c\n   \n', 'x\n  \n\n', 'x\n# c\n',
    '{a: 1}: b\n', 'a: [b]c\n', 'a: {b: c}\n  d: e\n', 'a:\n  [1,\n  2]\n', 'a: [1,\n2]\n', '- [1,\n  2]\n', '[a,#c\n]\n', '[a, # c\n  b]\n',
    'a:\n   \n', 'a:\n   \n# c\n', 'a: 1\n   \n', '- \n  \n', '---\n  \n', '---  \n\n',
    '...\n', '\n...\n', '---\n...\n', '--- # c\n...\n', 'a: 1\n...\n...\n', 'plain\n\n...\n', 'a:\n...\n', 'a: b\n...\nc: d\n',
  ];
  for (const c of cases) agrees(c);
  // What must fall back: the fast path does not read these.
  for (const c of ['a: &x 1\nb: *x\n', 'a: !!str 1\n', '<<: {a: 1}\n', 'a: |\n  x\n', 'a: b\n  c\n', 'a:\n\t- 1\n', '%YAML 1.2\n---\na: 1\n', 'a: 1\na: 2\n', '? a\n: b\n', '80: x\n', 'a: "x\n  y"\n', 'a: 1\r\n', `${'['.repeat(100)}${']'.repeat(100)}`]) {
    assert.equal(parseFast(c), undefined, JSON.stringify(c));
  }
  // The generators reach the fast path at all (a parser that always falls back passes the rest).
  assert.ok(agrees('apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: y}\nspec:\n  ports:\n  - port: 80\n    name: "http"\n'));
});

test('yaml fast path: every YAML and JSON file of the repository falls back or gives what yaml gives', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const files = ['examples', 'deploy', 'test/fixtures', 'test/golden'].flatMap((dir) => readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).map((f) => join(root, dir, f)))
    .filter((f) => /\.(ya?ml|json)$/.test(f));
  const fast = files.filter((f) => agrees(readFileSync(f, 'utf8').replace(/^\uFEFF/, '')));
  console.log(`# fast path taken by ${fast.length} of ${files.length} files of the repository`);
  assert.ok(fast.length > files.length / 2);
});

test('parseDocuments: the fast path gives the resources, positions and diagnostics the yaml path gives', () => {
  // A trailing `!!null` document sends the same text down the yaml path (a tag is outside the subset).
  const viaYaml = (t: string) => `${t}---\n!!null\n`;
  const manifest = fc.tuple(fc.constantFrom('ServiceEntry', 'AuthorizationPolicy', 'VirtualService', 'Widget'), fc.constantFrom('x', 'y', '80', '"80"'), streamText).map(([kind, name, extra]) =>
    `# ${kind}\napiVersion: networking.istio.io/v1\nkind: ${kind}\nmetadata: {name: ${name}, namespace: istio-egress}\nspec:\n  hosts: [a.test]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n---\n${extra}\n`);
  let compared = 0;
  fc.assert(fc.property(manifest, (text) => {
    if (!parseFast(text)) return;
    assert.equal(parseFast(viaYaml(text)), undefined);
    compared++;
    const a = parseDocuments(text, 'f.yaml');
    const b = parseDocuments(viaYaml(text), 'f.yaml');
    const view = (r: (typeof a.resources)[number]) => ({ ...r, locate: undefined, spec: r.locate(['spec']), meta: r.locate(['metadata', 'name']), text: DOC_TEXT.get(r) });
    assert.deepStrictEqual(a.resources.map(view), b.resources.map(view));
    assert.deepStrictEqual(a.diagnostics, b.diagnostics);
  }), { seed, numRuns: Math.ceil(numRuns / 4) });
  console.log(`# ${compared} of ${Math.ceil(numRuns / 4)} manifests compared through parseDocuments`);
  assert.ok(compared > 0);
});
