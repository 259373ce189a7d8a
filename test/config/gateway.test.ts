// Gateway, GatewayClass and Namespace rules, table-driven from test/fixtures/config/gateway/*.yaml.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gatewayStatus } from '../../src/config/kinds/gateway.ts';
import { namespaceSelectorLabels } from '../../src/config/kinds/namespace.ts';
import { assertDiagnostics, assertNearMisses, loadFixture, messageOf } from './fixtures.ts';

const E = 'IST0106 error';

const cases: Record<string, { fixture: string; expect: string[]; messages?: Record<string, string> }> = {
  'listeners: unique names, port range, unique port/protocol/hostname, required fields': {
    fixture: 'gateway/listeners.yaml',
    expect: [
      `bad-listeners ${E} spec.listeners[1].name @11`,
      `bad-listeners ${E} spec.listeners[1].port @12`,
      `bad-listeners ${E} spec.listeners[2] @14`,
      `bad-listeners ${E} spec.listeners[3].name @17`,
      `bad-listeners ${E} spec.listeners[3].protocol @19`,
      `bad-no-class ${E} spec.gatewayClassName @40`,
      `bad-no-port ${E} spec.listeners[0].port @49`,
      `bad-empty-listeners ${E} spec.gatewayClassName @56`,
      `bad-empty-listeners ${E} spec.listeners @57`,
    ],
    messages: {
      [`bad-listeners ${E} spec.listeners[1].name @11`]: 'Listener name must be unique within the Gateway: "mesh" is also listeners[0]',
      [`bad-listeners ${E} spec.listeners[1].port @12`]: 'port number 0 must be in the range 1..65535',
    },
  },
  'allowedRoutes: Selector needs a selector, selectors need from Selector, expression values': {
    fixture: 'gateway/allowed-routes.yaml',
    expect: [
      `bad-selector-missing ${E} spec.listeners[0].allowedRoutes.namespaces.from @14`,
      'bad-selector-ignored IST0133 warning spec.listeners[0].allowedRoutes.namespaces.selector @28',
      `bad-expressions ${E} spec.listeners[0].allowedRoutes.namespaces.selector.matchExpressions[0].values @45`,
      `bad-expressions ${E} spec.listeners[0].allowedRoutes.namespaces.selector.matchExpressions[1].values @49`,
      `bad-expressions ${E} spec.listeners[0].allowedRoutes.namespaces.selector.matchExpressions[2].key @50`,
      `bad-operator ${E} spec.listeners[0].allowedRoutes.namespaces.selector.matchExpressions[0].operator @68`,
    ],
  },
  'hostname and tls by protocol': {
    fixture: 'gateway/tls-hostname.yaml',
    expect: [
      `bad-tls-hostname ${E} spec.listeners[0].hostname @11`,
      `bad-tls-hostname ${E} spec.listeners[1].hostname @15`,
      `bad-tls-hostname ${E} spec.listeners[1].tls @16`,
      `bad-tls-hostname ${E} spec.listeners[2] @17`,
      `bad-tls-hostname ${E} spec.listeners[3].tls.mode @23`,
    ],
    messages: { [`bad-tls-hostname ${E} spec.listeners[0].hostname @11`]: "hostname must not be specified for protocols ['TCP', 'UDP']" },
  },
  'spec.addresses and status.addresses': {
    fixture: 'gateway/addresses.yaml',
    expect: [
      `bad-addresses ${E} spec.addresses[0].value @9`,
      `bad-addresses ${E} spec.addresses[1].value @10`,
      `bad-addresses ${E} spec.addresses[2].type @11`,
      `bad-addresses ${E} status.addresses[0].value @14`,
    ],
  },
  'GatewayClass controllerName': {
    fixture: 'gateway/gateway-class.yaml',
    expect: [`bad-class ${E} spec.controllerName @7`],
  },
};

for (const [rule, c] of Object.entries(cases)) {
  test(`Gateway ${rule}`, async () => {
    const result = await loadFixture(c.fixture);
    assertDiagnostics(result.diagnostics, c.expect);
    assertNearMisses(c.fixture, result);
    for (const [line, message] of Object.entries(c.messages ?? {})) assert.equal(messageOf(result, line), message, line);
  });
}

test('Gateway status addresses and GatewayClass scope are readable', async () => {
  const gw = await loadFixture('gateway/addresses.yaml');
  const ok = gw.resources.find((r) => r.metadata.name === 'ok-addresses');
  assert.deepEqual(ok && gatewayStatus(ok).addresses, [{ type: 'IPAddress', value: '10.96.0.20' }]);
  const classes = await loadFixture('gateway/gateway-class.yaml');
  const cls = classes.resources.find((r) => r.kind === 'GatewayClass');
  assert.equal(cls?.metadata.namespace, '');
  assert.equal(cls?.metadata.labels['istio.io/waypoint-for'], 'service');
});

test('Namespace: name and label syntax; selector labels include kubernetes.io/metadata.name', async () => {
  const result = await loadFixture('labels.yaml');
  assertDiagnostics(result.diagnostics, [
    `Bad_Namespace ${E} metadata.name @5`,
    `Bad_Namespace ${E} metadata.labels.bad key! @7`,
    `Bad_Namespace ${E} metadata.labels.good @8`,
  ]);
  const ns = result.resources.find((r) => r.metadata.name === 'ok-namespace');
  assert.ok(ns);
  assert.deepEqual(namespaceSelectorLabels(ns), { 'istio.io/dataplane-mode': 'ambient', empty: '', 'kubernetes.io/metadata.name': 'ok-namespace' });
});
