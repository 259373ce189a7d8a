// Readiness (issue 11: /healthz/ready could stay 200 while draining and npm test stayed green).
// Before the first config loads the answer is 503, and from SIGTERM until exit it is 503 again on
// both the status port and the admin port, while in-flight requests still finish.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { loadConfig } from '../../src/config/load.ts';
import { SnapshotStore } from '../../src/controlplane/store.ts';
import { HttpEndpoint, readyHandler } from '../../src/dashboard/admin-server.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream } from '../helpers/upstream.ts';
import { startWaypoint } from '../helpers/waypoint.ts';

async function ready(url: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`${url}/healthz/ready`);
  return { status: r.status, body: await r.text() };
}

describe('readiness', () => {
  // The waypoint binds its status port only after the first load (a refused connection is "not
  // ready" to a probe as well), so the handler is driven here with a store that has no snapshot yet.
  test('503 until a config loads, then 200, then 503 while draining', async () => {
    const store = new SnapshotStore();
    let draining = false;
    const metrics = new Metrics();
    const ep = new HttpEndpoint({ '/healthz/ready': readyHandler({ store, metrics, isDraining: () => draining }) });
    const a = await ep.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${a.port}`;
    try {
      assert.deepEqual(await ready(url), { status: 503, body: 'no config loaded yet\n' });
      const loaded = await loadConfig(['examples/quickstart']);
      const { snapshot } = compile(loaded.resources, {});
      store.swap(snapshot!, []);
      assert.deepEqual(await ready(url), { status: 200, body: 'ready\n' });
      draining = true;
      assert.deepEqual(await ready(url), { status: 503, body: 'draining\n' });
    } finally {
      await ep.close();
      metrics.close();
    }
  });

  test('the real CLI: 200 when serving, 503 on status and admin ports from SIGTERM until exit', async () => {
    const up = await startHttpUpstream();
    const dir = await tmpDir();
    await writeFile(join(dir.path, 'c.yaml'), WAYPOINT_YAML + serviceEntry('api', `hosts: [api.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`));
    const wp = await startWaypoint({ configDir: dir.path, args: ['--drain-duration', '10s'] });
    try {
      const status = wp.listeners.status!.url;
      const admin = wp.listeners.admin!.url;
      assert.deepEqual(await ready(status), { status: 200, body: 'ready\n' });
      assert.deepEqual(await ready(admin), { status: 200, body: 'ready\n' });
      const slow = curl(['-x', wp.proxyUrl, 'http://api.test/delay/2500']);
      await sleep(300);
      const exited = wp.stop('SIGTERM', 15_000);
      await wp.waitForLog((l) => l.signal === 'SIGTERM');
      assert.deepEqual(await ready(status), { status: 503, body: 'draining\n' });
      assert.deepEqual(await ready(admin), { status: 503, body: 'draining\n' });
      assert.equal(wp.exitCode, null, 'still draining while the request is in flight');
      assert.equal((await slow).status, 200, 'the in-flight request finishes');
      assert.equal(await exited, 0);
    } finally {
      await wp.close();
      await up.close();
      await dir.close();
    }
  });
});
