// ReferenceGrant is a kind the loader reads (gateway.networking.k8s.io v1beta1), validated against
// the CRD's bounds, so that a grant with a typo is reported instead of silently granting nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateResource } from '../../src/config/kinds/index.ts';
import { parseDocuments } from '../../src/config/parse.ts';

const grant = (spec: string, apiVersion = 'gateway.networking.k8s.io/v1beta1') => `apiVersion: ${apiVersion}
kind: ReferenceGrant
metadata: {name: g, namespace: team-b}
spec:
${spec.trim().split('\n').map((l) => `  ${l}`).join('\n')}
`;

function diags(yaml: string): string[] {
  return parseDocuments(yaml, 'g.yaml').resources.flatMap((r) => validateResource(r).diagnostics).map((d) => `${d.level} ${d.path}: ${d.message}`);
}

test('a well-formed ReferenceGrant is a known kind with no findings', () => {
  assert.deepEqual(diags(grant('from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}]\nto: [{group: "", kind: Service, name: api}]')), []);
});

test('missing or empty sides, missing kind and unknown fields are reported', () => {
  const got = diags(grant('from: []\nto: [{group: "", kind: Service, nmae: api}]'));
  assert.ok(got.some((g) => g.startsWith('error spec.from') && g.includes('between 1 and 16')), got.join('\n'));
  assert.ok(got.some((g) => g.startsWith('warning spec.to[0].nmae')), got.join('\n'));
  const noKind = diags(grant('from: [{group: gateway.networking.k8s.io, namespace: shop}]\nto: [{group: ""}]'));
  assert.ok(noKind.some((g) => g.includes('spec.from[0]') && g.startsWith('error')), noKind.join('\n'));
});
