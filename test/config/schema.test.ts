// The schema walker on its own: what counts as a type error, an unknown field, and a suggestion.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSchema, editDistance, s, suggest } from '../../src/config/schema.ts';

const port = s.object({ number: s.integer(), name: s.string(), protocol: s.string(['HTTP', 'TCP']) }, { required: ['number'] });
const shape = s.object({ ports: s.array(port), labels: s.map(s.string()), status: s.object({}, { open: true }) });

function run(value: unknown) {
  return checkSchema(value, shape, ['spec']).map((i) => `${i.code} ${i.level} ${i.path.join('.')}: ${i.message}`);
}

test('null fields are absent; null list items are errors', () => {
  assert.deepEqual(run({ ports: null, labels: null }), []);
  assert.deepEqual(run({ ports: [null] }), ['IST0106 error spec.ports.0: list item must not be null']);
});

test('type errors name what was expected and what was found', () => {
  assert.deepEqual(run({ ports: [{ number: 1.5, name: 80 }], labels: ['a'] }), [
    'IST0106 error spec.ports.0.number: expected an integer, got number 1.5',
    'IST0106 error spec.ports.0.name: expected a string, got number 80',
    'IST0106 error spec.labels: expected a mapping, got a list',
  ]);
});

test('required fields, enums, unknown fields, open objects', () => {
  assert.deepEqual(run({ ports: [{ protocol: 'UDP', nmae: 'x' }], status: { anything: 1 } }), [
    'IST0106 error spec.ports.0.protocol: unsupported value "UDP": must be one of HTTP, TCP',
    'EGW0003 warning spec.ports.0.nmae: unknown field "nmae" is ignored',
    'IST0106 error spec.ports.0.number: missing required field "number"',
  ]);
});

const suggestions: [string, string[], string | undefined][] = [
  ['spce', ['apiVersion', 'kind', 'metadata', 'spec', 'status'], 'spec'],
  ['target_port', ['number', 'targetPort'], 'targetPort'],
  ['lables', ['name', 'labels', 'annotations'], 'labels'],
  ['hsots', ['hosts', 'ports'], 'hosts'],
  ['dns', ['NONE', 'DNS', 'DNS_ROUND_ROBIN'], 'DNS'],
  ['gatewayClass', ['gatewayClassName', 'listeners'], 'gatewayClassName'],
  ['frobnicate', ['hosts', 'ports', 'resolution'], undefined],
  ['x', ['y'], 'y'],
  ['ab', ['zz'], undefined],
];

for (const [word, candidates, expected] of suggestions) {
  test(`suggest(${word}) -> ${expected}`, () => assert.equal(suggest(word, candidates), expected));
}

test('edit distance counts a transposition once', () => {
  assert.equal(editDistance('spce', 'spec'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
});
