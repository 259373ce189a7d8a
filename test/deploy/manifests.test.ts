// deploy/manifests/egressway.yaml is the chart rendered with its default values: this fails when a
// chart change was committed without re-running scripts/render-manifests.sh.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { HELM, helmMissing, MANIFESTS, parseManifests } from '../helpers/helm.ts';
import { REPO_ROOT } from '../helpers/waypoint.ts';

const skip = helmMissing();
if (skip) console.log(`# manifests: ${skip}`);

test('deploy/manifests/egressway.yaml is up to date with the chart (else run scripts/render-manifests.sh)', { skip }, async () => {
  const committed = await readFile(MANIFESTS, 'utf8');
  const { stdout } = await promisify(execFile)('bash', [join(REPO_ROOT, 'scripts/render-manifests.sh')], { env: { ...process.env, HELM, EGRESSWAY_MANIFESTS_OUT: '-' } });
  assert.equal(stdout, committed, 'deploy/manifests/egressway.yaml is stale: run scripts/render-manifests.sh and commit it');
});

test('the plain manifests hold the Namespace first, then every object of the chart in it', async () => {
  const objects = parseManifests(await readFile(MANIFESTS, 'utf8'));
  assert.deepEqual([objects[0]!.kind, objects[0]!.metadata.name], ['Namespace', 'egressway-system']);
  const kinds = new Set(objects.map((o) => o.kind));
  for (const k of ['GatewayClass', 'ConfigMap', 'ServiceAccount', 'Deployment', 'PodDisruptionBudget', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']) assert.ok(kinds.has(k), `${k} is in the manifests`);
  for (const o of objects) {
    const clusterScoped = ['Namespace', 'GatewayClass', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind);
    assert.equal(o.metadata.namespace, clusterScoped ? undefined : 'egressway-system', `${o.kind}/${o.metadata.name} namespace`);
  }
});
