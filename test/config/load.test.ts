// loadConfig: files and directories, ordering, unreadable paths, unknown kinds and versions,
// duplicates, and which resources survive.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LoadCache, loadConfig } from '../../src/config/load.ts';
import { assertDiagnostics, fixture, loadFixture } from './fixtures.ts';

test('directories: recursive, sorted, only .yaml/.yml/.json, dotfiles and dot-directories skipped', async () => {
  const result = await loadConfig([fixture('tree')]);
  assert.deepEqual(result.diagnostics, []);
  assert.deepEqual(result.files, [fixture('tree/sub/a.json'), fixture('tree/sub/nested.yaml'), fixture('tree/top.yml')]);
  assert.deepEqual(result.resources.map((r) => r.metadata.name), ['json-ns', 'nested', 'top']);
});

test('a file named explicitly is read whatever its name', async () => {
  const result = await loadConfig([fixture('tree/README.md'), fixture('tree/.dotfile.yaml')]);
  assert.deepEqual(result.diagnostics.map((d) => [d.code, d.file, d.line]), [
    ['EGW0001', fixture('tree/.dotfile.yaml'), 2],
    ['EGW0004', fixture('tree/README.md'), 1],
  ]);
});

test('argument order and repeats do not change the result', async () => {
  const a = await loadConfig([fixture('tree/top.yml'), fixture('multi-doc.yaml'), fixture('tree/top.yml')]);
  const b = await loadConfig([fixture('multi-doc.yaml'), fixture('tree/top.yml')]);
  assert.deepEqual(a.files, b.files);
  assert.deepEqual(a.resources.map((r) => r.metadata.name), b.resources.map((r) => r.metadata.name));
  assert.deepEqual(a.files, [fixture('multi-doc.yaml'), fixture('tree/top.yml')]);
});

test('missing or unreadable paths are EGW0021 errors; the rest still loads', async () => {
  const missing = fixture('does-not-exist.yaml');
  const notDir = fixture('multi-doc.yaml/child.yaml');
  const result = await loadConfig([missing, notDir, fixture('tree/top.yml')]);
  assert.deepEqual(result.diagnostics.map((d) => [d.code, d.level, d.file]), [
    ['EGW0021', 'error', missing],
    ['EGW0021', 'error', notDir],
  ]);
  assert.equal(result.diagnostics[0].message, `cannot read ${missing}: ENOENT`);
  assert.deepEqual(result.files, [fixture('tree/top.yml')]);
  assert.deepEqual(result.resources.map((r) => r.metadata.name), ['top']);
});

test('a FIFO named like a config file is an EGW0021 error, never read (the first load reads synchronously)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'egressway-fifo-'));
  try {
    await writeFile(join(dir, 'a.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n');
    execFileSync('mkfifo', [join(dir, 'b.yaml')]);
    await symlink('b.yaml', join(dir, 'c.yaml'));
    // A cache's first load reads synchronously; without a cache, through the thread pool.
    for (const cache of [new LoadCache(), undefined]) {
      const result = await loadConfig([dir], {}, 'default', cache);
      assert.deepEqual(result.diagnostics.map((d) => [d.code, d.file]), [['EGW0021', join(dir, 'b.yaml')], ['EGW0021', join(dir, 'c.yaml')]]);
      assert.deepEqual(result.resources.map((r) => r.metadata.name), ['a']);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('unknown kinds are ignored with EGW0002; a known kind at an unknown version is EGW0006', async () => {
  const result = await loadFixture('unknown-kind.yaml');
  assertDiagnostics(result.diagnostics, [
    'curl EGW0002 warning kind @2',
    'istio-egressgateway EGW0002 warning kind @9',
    'future EGW0006 error apiVersion @15',
  ]);
  assert.deepEqual(result.resources, []);
});

test('duplicates: EGW0005 names both places; the first is kept', async () => {
  const result = await loadConfig([fixture('duplicate')]);
  assertDiagnostics(result.diagnostics, ['httpbin EGW0005 error metadata.name @12']);
  const d = result.diagnostics[0];
  assert.equal(d.file, fixture('duplicate/b.yaml'));
  assert.equal(d.message, `ServiceEntry egress/httpbin is defined twice: first at ${fixture('duplicate/a.yaml')}:4, again at ${fixture('duplicate/b.yaml')}:12; the first is used`);
  assert.deepEqual(result.resources.map((r) => [r.kind, r.metadata.namespace, r.metadata.name, r.source.file]), [
    ['ServiceEntry', 'egress', 'httpbin', fixture('duplicate/a.yaml')],
    ['Namespace', '', 'egress', fixture('duplicate/b.yaml')],
  ]);
});

test('resources with errors are left out; warnings are kept', async () => {
  const result = await loadFixture('service-entry/hosts.yaml');
  const names = result.resources.map((r) => r.metadata.name);
  assert.ok(names.includes('bad-partial-wildcard'), 'warning only');
  assert.ok(!names.includes('bad-star'), 'error');
});

test('symlinks are followed (ConfigMap mounts) and symlink loops end', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'egw-config-'));
  try {
    await mkdir(join(dir, '..2024_01_01'));
    await writeFile(join(dir, '..2024_01_01', 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: mounted}\n');
    await symlink('..2024_01_01', join(dir, '..data'));
    await symlink(join('..data', 'ns.yaml'), join(dir, 'ns.yaml'));
    await symlink('.', join(dir, 'loop'));
    const result = await loadConfig([dir]);
    assert.deepEqual(result.diagnostics, []);
    assert.deepEqual(result.resources.map((r) => r.metadata.name), ['mounted']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
