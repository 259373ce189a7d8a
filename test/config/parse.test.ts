// parseDocuments: documents, Lists, JSON, syntax errors, malformed objects, positions, and never
// throwing on bad input.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseDocuments } from '../../src/config/parse.ts';
import { assertDiagnostics, brief, fixture, loadFixture } from './fixtures.ts';

function parseFixture(name: string) {
  return parseDocuments(readFileSync(fixture(name), 'utf8'), name);
}

test('multi-document file: empty and comment-only documents are skipped', () => {
  const { resources, diagnostics } = parseFixture('multi-doc.yaml');
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(
    resources.map((r) => [r.group, r.version, r.kind, r.metadata.namespace, r.metadata.name, r.source.line]),
    [
      ['', 'v1', 'Namespace', '', 'istio-egress', 2],
      ['networking.istio.io', 'v1', 'ServiceEntry', 'default', 'httpbin-org', 12],
      ['gateway.networking.k8s.io', 'v1', 'Gateway', 'istio-egress', 'waypoint', 24],
    ],
  );
  assert.deepEqual(resources[0].metadata.labels, { 'istio.io/use-waypoint': 'waypoint' });
  assert.deepEqual(resources[1].spec, { hosts: ['httpbin.org'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' });
});

test('locate: a field resolves to its key; a missing field to its nearest ancestor', () => {
  const se = parseFixture('multi-doc.yaml').resources[1];
  const at = (path: (string | number)[]) => {
    const l = se.locate(path);
    return [l.file, l.line, l.column];
  };
  assert.deepEqual(at(['spec', 'ports', 0, 'protocol']), ['multi-doc.yaml', 21, 5]);
  assert.deepEqual(at(['spec', 'ports', 0]), ['multi-doc.yaml', 19, 5]);
  assert.deepEqual(at(['spec', 'hosts', 0]), ['multi-doc.yaml', 17, 11]);
  assert.deepEqual(at(['spec', 'ports', 0, 'targetPort']), ['multi-doc.yaml', 19, 5]);
  assert.deepEqual(at(['spec', 'ports', 7]), ['multi-doc.yaml', 18, 3]);
  assert.deepEqual(at(['spec', 'endpoints', 0, 'address']), ['multi-doc.yaml', 16, 1]);
  assert.deepEqual(at([]), ['multi-doc.yaml', 12, 1]);
});

test('kind: List: each item is a resource located within the list', async () => {
  const { resources, diagnostics } = parseFixture('list.yaml');
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(resources.map((r) => [r.kind, r.metadata.namespace, r.metadata.name, r.source.line, r.source.column]), [
    ['Namespace', '', 'app-ns', 6, 3],
    ['ServiceEntry', 'app-ns', 'example', 10, 3],
  ]);
  const loaded = await loadFixture('list.yaml');
  assertDiagnostics(loaded.diagnostics, ['example IST0106 error spec.ports[0].protocol @20']);
});

test('JSON is read as YAML, with positions', async () => {
  const result = await loadFixture('service-entry.json');
  assertDiagnostics(result.diagnostics, [
    'from-json EGW0003 warning spec.ports[0].target_port @11',
    'from-json IST0106 error spec.location @14',
  ]);
  const unknown = result.diagnostics[0];
  assert.equal(unknown.column, 57);
  assert.equal(unknown.hint, 'did you mean "targetPort"?');
});

test('syntax error: EGW0001 at file:line:column with a hint; the other documents still load', () => {
  const { resources, diagnostics } = parseFixture('syntax-error.yaml');
  assert.deepEqual(resources.map((r) => r.metadata.name), ['before', 'after']);
  assert.equal(diagnostics.length, 1);
  const d = diagnostics[0];
  assert.deepEqual([d.code, d.level, d.file, d.line, d.column], ['EGW0001', 'error', 'syntax-error.yaml', 10, 1]);
  assert.equal(d.message, 'Tabs are not allowed as indentation');
  assert.match(d.hint ?? '', /spaces/);
});

test('missing apiVersion, kind or metadata.name: EGW0004 naming the line', () => {
  const { resources, diagnostics } = parseFixture('missing-name.yaml');
  assert.deepEqual(resources.map((r) => r.metadata.name), ['fine']);
  assert.deepEqual(diagnostics.map((d) => [d.code, d.level, d.file, d.line, d.path, d.message]), [
    ['EGW0004', 'error', 'missing-name.yaml', 3, 'metadata.name', 'document lacks metadata.name (kind ServiceEntry)'],
    ['EGW0004', 'error', 'missing-name.yaml', 8, 'apiVersion', 'document lacks apiVersion (kind ServiceEntry)'],
    ['EGW0004', 'error', 'missing-name.yaml', 12, undefined, 'document is a list, not a Kubernetes object'],
  ]);
});

test('unknown fields warn with a "did you mean" hint, in metadata, spec and at the top level', async () => {
  const result = await loadFixture('unknown-field.yaml');
  assertDiagnostics(result.diagnostics, [
    'typos EGW0003 warning metadata.lables @6',
    'typos EGW0003 warning spec.port @10',
    'typos EGW0003 warning spec.ports[0].target_port @16',
    'typos EGW0003 warning spec.frobnicate @17',
    'egress EGW0003 warning spce @24',
  ]);
  const hints = Object.fromEntries(result.diagnostics.map((d) => [d.path, d.hint]));
  assert.equal(hints['metadata.lables'], 'did you mean "labels"?');
  assert.equal(hints['spec.port'], 'did you mean "ports"?');
  assert.equal(hints['spec.ports[0].target_port'], 'did you mean "targetPort"?');
  assert.equal(hints.spce, 'did you mean "spec"?');
  assert.match(hints['spec.frobnicate'] ?? '', /^remove it; known fields here: hosts, /);
  // Warnings do not stop a resource from loading.
  assert.deepEqual(result.resources.map((r) => r.metadata.name), ['typos', 'egress']);
});

test('type errors are IST0106; non-string label values are read as strings with a warning', async () => {
  const result = await loadFixture('type-errors.yaml');
  assertDiagnostics(result.diagnostics, [
    'types IST0133 warning metadata.labels.enabled @7',
    'types IST0133 warning metadata.labels.port @8',
    'types IST0106 error spec.hosts @10',
    'types IST0106 error spec.ports[0].number @12',
    'types IST0106 error spec.ports[0].name @13',
  ]);
  const number = result.diagnostics.find((d) => d.path === 'spec.ports[0].number');
  assert.equal(number?.message, 'expected an integer, got string "443"');
  assert.equal(number?.hint, 'write 443 without quotes');
  assert.deepEqual(result.resources, []);
  const [r] = parseFixture('type-errors.yaml').resources;
  assert.deepEqual(r.metadata.labels, { enabled: 'true', port: '8080' });
});

test('apiVersion splits into group and version', () => {
  const text = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: gateway.networking.k8s.io/v1beta1\nkind: Gateway\nmetadata: {name: b, namespace: x}\n';
  const { resources } = parseDocuments(text, 't.yaml');
  assert.deepEqual(resources.map((r) => [r.apiVersion, r.group, r.version, r.metadata.namespace]), [
    ['v1', '', 'v1', ''],
    ['gateway.networking.k8s.io/v1beta1', 'gateway.networking.k8s.io', 'v1beta1', 'x'],
  ]);
});

test('anchors and merge keys work as in kubectl', () => {
  const text = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  annotations: &l {team: x}\n  labels:\n    <<: *l\n    env: prod\n';
  const { resources, diagnostics } = parseDocuments(text, 't.yaml');
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(resources[0].metadata.labels, { team: 'x', env: 'prod' });
});

// Inputs that have broken parsers: each must give diagnostics or nothing, never an exception.
const hostile: Record<string, string> = {
  empty: '',
  'only separators': '---\n---\n...\n',
  'a scalar': 'hello',
  'a null document': 'null\n',
  'unterminated flow': '{"apiVersion": "v1", "kind": ',
  'unknown alias': 'a: *nope\n',
  'alias bomb': 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n',
  'binary garbage': '\u0000\u0001\u0002\uFFFD: [',
  'numbers for names': 'apiVersion: 1\nkind: 2\nmetadata: {name: 3}\n',
  'metadata is a list': 'apiVersion: v1\nkind: Namespace\nmetadata: [a]\n',
  'labels is a list': 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: [x]}\n',
  'List with junk items': 'apiVersion: v1\nkind: List\nitems: [1, null, {kind: X}]\n',
  'List without items': 'apiVersion: v1\nkind: List\n',
  'BOM': '\uFEFFapiVersion: v1\nkind: Namespace\nmetadata: {name: bom}\n',
};

for (const [name, text] of Object.entries(hostile)) {
  test(`never throws: ${name}`, () => {
    const result = parseDocuments(text, 'h.yaml');
    for (const d of result.diagnostics) assert.ok(d.code && d.message && d.file === 'h.yaml', brief(d));
  });
}

test('hostile inputs give the expected codes', () => {
  const codes = (text: string) => parseDocuments(text, 'h.yaml').diagnostics.map((d) => d.code);
  assert.deepEqual(codes(hostile['unknown alias']), ['EGW0001']);
  assert.deepEqual(codes(hostile['alias bomb']), ['EGW0001']);
  assert.deepEqual(codes(hostile['numbers for names']), ['EGW0004']);
  assert.deepEqual(codes(hostile['List with junk items']), ['EGW0004', 'EGW0004', 'EGW0004']);
  assert.deepEqual(codes(hostile['labels is a list']), ['IST0106']);
  assert.deepEqual(parseDocuments(hostile['labels is a list'], 'h.yaml').resources, []);
  assert.deepEqual(parseDocuments(hostile.BOM, 'h.yaml').resources.map((r) => r.metadata.name), ['bom']);
});

test('parsing reads no environment variable per token (issue 16: a getenv() each was a quarter of the parse); process.env is the same object after', () => {
  const env = process.env;
  let reads = 0;
  process.env = new Proxy(env, { get: (target, key) => (reads++, Reflect.get(target, key)) });
  const watched = process.env;
  try {
    const many = Array.from({ length: 50 }, (_, i) => `---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns-${i}, labels: {a: b, c: d}}\n`).join('');
    assert.equal(parseDocuments(many, 'many.yaml').resources.length, 50);
    assert.equal(process.env, watched);
    // yaml looks at LOG_TOKENS and LOG_STREAM: read twice per parse, not once per token (hundreds here).
    assert.ok(reads <= 2, `${reads} reads of process.env`);
  } finally {
    process.env = env;
  }
});

test('a name YAML 1.1 reads as a boolean or a number (kubectl does too): EGW0004 says so and says to quote it', () => {
  const text = 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: off, namespace: a}\nspec: {hosts: [x.test]}\n---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: 0777\nspec: {hosts: [y.test]}\n';
  const { resources, diagnostics } = parseDocuments(text, 'names.yaml');
  assert.deepEqual(resources, []);
  assert.deepEqual(diagnostics.map((d) => [d.code, d.line, d.path, d.message]), [
    ['EGW0004', 3, 'metadata.name', 'metadata.name is the boolean false, not a string (kind ServiceEntry)'],
    ['EGW0004', 9, 'metadata.name', 'metadata.name is the number 511, not a string (kind ServiceEntry)'],
  ]);
  assert.match(diagnostics[0]!.hint!, /quote it/);
  // Quoted, it is the name.
  assert.equal(parseDocuments(text.replace('name: off', 'name: "off"'), 'names.yaml').resources[0]?.metadata.name, 'off');
});

test('collections nested past the parser\'s stack: one error naming the nesting and the fix, not "Maximum call stack size exceeded"', () => {
  const r = parseDocuments(`a: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`, 'deep.yaml');
  assert.equal(r.resources.length, 0);
  assert.equal(r.diagnostics.length, 1, JSON.stringify(r.diagnostics));
  assert.equal(r.diagnostics[0]!.code, 'EGW0001');
  assert.match(r.diagnostics[0]!.message, /nested too deeply/);
  assert.match(r.diagnostics[0]!.hint!, /flatten the nesting/);
});
