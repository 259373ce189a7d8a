// The agent sends a tunnel to the waypoint that serves its host even when a VirtualService tcp rule
// there names a destination the waypoint does not serve: the waypoint answers it (503 NC), so the
// agent must not report the host as unbound.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ANY_WAYPOINT, loadAgentRoutes } from '../../src/agent/routes.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('a host whose TCP chain a VirtualService routes to an unserved destination still goes to its waypoint', async () => {
  const dir = await tmpDir();
  try {
    await writeFile(join(dir.path, 'config.yaml'), WAYPOINT_YAML
      + serviceEntry('a', 'hosts: [a.test]\nports: [{number: 9000, name: tcp, protocol: TCP}]\nresolution: DNS')
      + '---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a-away, namespace: istio-egress}\nspec: {hosts: [a.test], tcp: [{route: [{destination: {host: nowhere.test}}]}]}\n');
    const { routes, diagnostics } = await loadAgentRoutes([dir.path], new Map([[ANY_WAYPOINT, '127.0.0.1:15008']]));
    assert.ok(routes, JSON.stringify(diagnostics));
    const r = routes.lookup('a.test', 9000);
    assert.equal(r.kind, 'waypoint', JSON.stringify(r));
    assert.equal(routes.lookup('other.test', 9000).kind, 'none');
  } finally {
    await dir.close();
  }
});
