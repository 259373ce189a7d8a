// Egressway reads YAML scalars as kubectl does (sigs.k8s.io/yaml, go-yaml v2: YAML 1.1 booleans,
// 0777 octal, underscores in numbers, no sexagesimal, timestamps left as strings), on both paths:
// the fast path (yaml-fast.ts) and the `yaml` library with KUBECTL_YAML. The oracle is the real
// kubectl: `kubectl label --local -f FILE -o json` reads a file offline and prints what the API
// server would receive. Also: what migrate writes (stringify with the same schema) reads back in
// kubectl as the same strings.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { parseDocuments } from '../../src/config/parse.ts';
import { migrate } from '../../src/migrate/migrate.ts';
import { meshNumTrustedProxies, readMeshConfig } from '../../src/cli/mesh-config.ts';
import { parseText } from '../../src/config/yaml-ast.ts';
import { parseFast } from '../../src/config/yaml-fast.ts';
import { KUBECTL_YAML } from '../../src/config/yaml-schema.ts';
import { PEERS_DIR } from '../helpers/kube.ts';
import { tmpDir } from '../helpers/tmp.ts';

const KUBECTL = join(PEERS_DIR, 'bin', 'kubectl');
const skip = existsSync(KUBECTL) ? false : `no kubectl at ${KUBECTL} (scripts/build-peers.sh builds it)`;

// Plain scalars kubectl and YAML 1.2 read differently, or that sit on an edge of go-yaml's rules.
// (.inf and .nan are left out: kubectl cannot write them as JSON.)
const VALUES = [
  'yes', 'Yes', 'YES', 'y', 'Y', 'on', 'On', 'ON', 'no', 'No', 'NO', 'n', 'N', 'off', 'Off', 'OFF',
  'true', 'True', 'FALSE', 'tRUE', 'yEs', 'oN', '~', 'null', 'Null', 'nULL',
  '0777', '-0777', '08', '09.5', '0', '00', '-0', '+0', '0o17', '0O17', '-0o7', '0o8',
  '0b101', '0B11', '-0b101', '+0b11', '0b', '0b2', '0b-101', '0b+11', '0x1F', '0X1f', '+0x10', '-0x10', '0x', '0xG', '0x1_F',
  '1_000', '1__0', '1_', '+_1', '_1', '0_x10', '1_000.5', '1e3', '1E3', '-1.5e-3', '1e_3', '1e3_0', '1_e3',
  '1.5', '1.', '+.5', '-.5', '.5', '.5e3', '.5_5', '._1', '.5_', '.', '+.', '+',
  '1e999', '.5e-999', '.5e999', '99999999999999999999', '-99999999999999999999', '0777777777777777777777777',
  '18446744073709551615', '0xFFFFFFFFFFFFFFFFFF', '-0xFFFFFFFFFFFFFFFFFF',
  '190:20:30', '1:30', '2001-12-14', '2001-12-14t21:59:43.10Z', '1.2.3', '10.0.0.1', '0.0.0.0/0', '+.inf1', 'Infinity', 'NaN',
];
// As keys (kubectl turns them into strings). Null keys are an error in kubectl; float keys other
// than these are formatted by Go's float32 rules, which Egressway does not copy.
const KEYS = ['n', 'Y', '0777', '08', '0x1F', '0b101', '1_000', '1.5', '2e3', '2001-12-14', '1:30', '.5', '._1', '0b'];

function fileOf(keys: readonly string[], value: (i: number) => string): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: scalars\nvals:\n${keys.map((k, i) => `  ${k}: ${value(i)}\n`).join('')}`;
}

function kubectl(dir: string, text: string): Record<string, unknown> {
  const file = join(dir, 'scalars.yaml');
  writeFileSync(file, text);
  const out = execFileSync(KUBECTL, ['label', '--local', '-f', file, 'probe=1', '-o', 'json'], { encoding: 'utf8' });
  return (JSON.parse(out) as { vals: Record<string, unknown> }).vals;
}

/** The `vals` map through yaml-fast.ts, or undefined when it leaves the file to yaml. */
function fastVals(text: string): Record<string, unknown> | undefined {
  const docs = parseFast(text);
  return docs && (docs[0]!.value as { vals: Record<string, unknown> }).vals;
}

/** The `vals` map as the library path reads it (what parse.ts does when the fast path falls back). */
function libraryVals(text: string): Record<string, unknown> {
  const { docs } = parseText({ text, file: 'scalars.yaml' });
  assert.deepEqual(docs.flatMap((d) => [...d.errors, ...d.warnings]).map((e) => e.message), []);
  return (docs[0]!.toJS({ maxAliasCount: 100 }) as { vals: Record<string, unknown> }).vals;
}

test('plain scalar values read as kubectl reads them, on the fast path and the library path', { skip }, async (t) => {
  const dir = await tmpDir();
  t.after(() => dir.close());
  const keys = VALUES.map((_, i) => `k${i}`);
  const text = fileOf(keys, (i) => VALUES[i]!);
  const want = kubectl(dir.path, text);
  const fast = fastVals(text);
  assert.ok(fast, 'the fast path should answer for a block map of plain scalars');
  const lib = libraryVals(text);
  for (const [i, k] of keys.entries()) {
    assert.deepEqual([VALUES[i], fast[k]], [VALUES[i], want[k]], `fast path: ${VALUES[i]}`);
    assert.deepEqual([VALUES[i], lib[k]], [VALUES[i], want[k]], `library path: ${VALUES[i]}`);
  }
  // Spot checks, so a wrong oracle is noticed too.
  assert.equal(want[`k${VALUES.indexOf('0777')}`], 511);
  assert.equal(want[`k${VALUES.indexOf('yes')}`], true);
  assert.equal(want[`k${VALUES.indexOf('1:30')}`], '1:30');
});

test('plain scalar keys become the strings kubectl makes of them', { skip }, async (t) => {
  const dir = await tmpDir();
  t.after(() => dir.close());
  const text = fileOf(KEYS, (i) => String(i));
  const want = kubectl(dir.path, text);
  assert.equal(want.false, 0); // `n:` is the key "false"
  assert.deepEqual(libraryVals(text), want);
  const fast = fastVals(text);
  if (fast) assert.deepEqual(fast, want);
});

test('a ServiceEntry port written 0443 is 291, as the API server stores it, on both paths', () => {
  const se = (extra: string) =>
    `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: api${extra}\nspec:\n  hosts: [api.example.com]\n  ports:\n  - number: 0443\n    name: tls\n    protocol: TLS\n  resolution: DNS\n`;
  // An anchor sends the file to the library path.
  for (const text of [se(''), se('\n  labels: &l {a: b}')]) {
    const { resources, diagnostics } = parseDocuments(text, 'se.yaml');
    assert.deepEqual(diagnostics.filter((d) => d.level === 'error'), []);
    const spec = resources[0]!.spec as { ports: { number: number }[] };
    assert.equal(spec.ports[0]!.number, 291);
  }
});

test('strings written with the same schema read back in kubectl as the same strings', { skip }, async (t) => {
  const dir = await tmpDir();
  t.after(() => dir.close());
  const vals = Object.fromEntries(VALUES.map((v, i) => [`k${i}`, v]));
  const text = stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'scalars' }, vals }, KUBECTL_YAML);
  assert.deepEqual(kubectl(dir.path, text), vals);
  assert.deepEqual(libraryVals(text), vals);
});

test('migrate writes a namespace named "on" quoted, so kubectl and Egressway read it back as that string', async () => {
  const input = readFileSync('test/fixtures/migrate/dr-without-serviceentry/input.yaml', 'utf8').replaceAll('namespace: default', 'namespace: "on"');
  const result = migrate(parseDocuments(input, 'input.yaml').resources, {});
  assert.match(result.yaml, /namespace: "on"/);
  const back = parseDocuments(result.yaml, 'out.yaml');
  const moved = back.resources.filter((r) => r.kind !== 'Gateway');
  assert.ok(moved.length > 0 && moved.every((r) => r.metadata.namespace === 'on'), result.yaml);
});

test('mesh config is read as istiod reads it: 010 trusted proxies are 8, in a file and in a ConfigMap data.mesh string', async (t) => {
  const dir = await tmpDir();
  t.after(() => dir.close());
  const bare = join(dir.path, 'mesh.yaml');
  writeFileSync(bare, 'defaultConfig:\n  gatewayTopology:\n    numTrustedProxies: 010\n');
  assert.equal(meshNumTrustedProxies(await readMeshConfig(bare)), 8);
  const cm = join(dir.path, 'istio.yaml');
  writeFileSync(cm, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata:\n  mesh: |\n    gatewayTopology:\n      numTrustedProxies: 0_10\n');
  assert.equal(meshNumTrustedProxies(await readMeshConfig(cm)), 8);
});
