// migrate's inputs beyond the YAML: -n for namespace-less snippets, and --mesh-config in every form a
// user has at hand (a bare MeshConfig, the istio ConfigMap, an IstioOperator, Helm values).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { readMeshConfig } from '../../src/cli/mesh-config.ts';
import { runMigrate } from '../../src/cli/migrate.ts';
import { tmpDir } from '../helpers/tmp.ts';

function sink(): NodeJS.WriteStream & { text: string } {
  const w = new Writable({ write(c, _e, cb) { (w as Writable & { text: string }).text += String(c); cb(); } }) as Writable & { text: string };
  w.text = '';
  return w as unknown as NodeJS.WriteStream & { text: string };
}

const SNIPPET = 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: api}\nspec:\n  hosts: [api.example.com]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS\n';

test('-n puts namespace-less documents in that namespace, as kubectl -n does; without it they land in default', async (t) => {
  const dir = await tmpDir();
  t.after(() => dir.close());
  await writeFile(join(dir.path, 'se.yaml'), SNIPPET);
  const out = sink();
  assert.equal(await runMigrate([dir.path], { serviceAccountFor: new Map(), verify: true, namespace: 'payments' }, out, sink()), 0);
  assert.match(out.text, /name: api\n\s+namespace: payments/);
  const plain = sink();
  await runMigrate([dir.path], { serviceAccountFor: new Map(), verify: false }, plain, sink());
  assert.match(plain.text, /name: api\n\s+namespace: default/);
});

test('--mesh-config reads an IstioOperator fragment, the istio ConfigMap, Helm values and a bare MeshConfig alike', async (t) => {
  const dir = await tmpDir();
  t.after(() => dir.close());
  const forms: Record<string, string> = {
    'iop.yaml': 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  meshConfig:\n    outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n',
    'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    outboundTrafficPolicy:\n      mode: REGISTRY_ONLY\n',
    'values.yaml': 'meshConfig:\n  outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n',
    'bare.yaml': 'outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n',
  };
  for (const [name, text] of Object.entries(forms)) {
    await writeFile(join(dir.path, name), text);
    assert.equal((await readMeshConfig(join(dir.path, name))).outboundTrafficPolicy?.mode, 'REGISTRY_ONLY', name);
  }
});

test('--mesh-config refuses what holds no MeshConfig, by name, and migrate exits 2', async (t) => {
  const dir = await tmpDir();
  t.after(() => dir.close());
  await writeFile(join(dir.path, 'secret.yaml'), 'apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n');
  await writeFile(join(dir.path, 'iop.yaml'), 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec: {profile: ambient}\n');
  await assert.rejects(readMeshConfig(join(dir.path, 'secret.yaml')), /a Secret holds no MeshConfig/);
  await assert.rejects(readMeshConfig(join(dir.path, 'iop.yaml')), /IstioOperator has no spec\.meshConfig/);
  await writeFile(join(dir.path, 'se.yaml'), SNIPPET);
  const err = sink();
  assert.equal(await runMigrate([join(dir.path, 'se.yaml')], { serviceAccountFor: new Map(), verify: true, meshConfig: join(dir.path, 'secret.yaml') }, sink(), err), 2);
  assert.match(err.text, /^error: --mesh-config .*secret\.yaml: a Secret holds no MeshConfig/);
});

test('--mesh-config decides what verify expects for a host without a ServiceEntry (ALLOW_ANY passes it, REGISTRY_ONLY blocks it)', async (t) => {
  const dir = await tmpDir();
  t.after(() => dir.close());
  const dr = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: pool, namespace: default}\nspec:\n  host: api.other.example\n  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 8080}\n      connectionPool: {tcp: {maxConnections: 5}}\n';
  await writeFile(join(dir.path, 'in.yaml'), `${SNIPPET}---\n${dr}`);
  await writeFile(join(dir.path, 'mesh.yaml'), 'outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n');
  const strict = sink();
  await runMigrate([join(dir.path, 'in.yaml')], { serviceAccountFor: new Map(), verify: true, meshConfig: join(dir.path, 'mesh.yaml') }, sink(), strict);
  assert.match(strict.text, /api\.other\.example:8080 .*old deny \(no ServiceEntry, REGISTRY_ONLY\)/);
  const open = sink();
  await runMigrate([join(dir.path, 'in.yaml')], { serviceAccountFor: new Map(), verify: true }, sink(), open);
  assert.match(open.text, /api\.other\.example:8080 .*old allow http:\/\/api\.other\.example:8080/);
});
