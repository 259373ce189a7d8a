// The access log as the real CLI writes it: one valid JSON line per request, Istio's keys.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { WAYPOINT_YAML, loopbackEntry } from '../helpers/inprocess.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream } from '../helpers/upstream.ts';
import { startWaypoint } from '../helpers/waypoint.ts';

test('each request writes one JSON access-log line with Istio keys', async () => {
  const up = await startHttpUpstream();
  const dir = await tmpDir();
  await writeFile(join(dir.path, 'c.yaml'), WAYPOINT_YAML + loopbackEntry('api', up.port));
  const wp = await startWaypoint({ configDir: dir.path });
  try {
    await curl(['-x', wp.proxyUrl, 'http://api.test/logged', '-A', 'egw-test']);
    await curl(['-x', wp.proxyUrl, 'http://nope.test/']);
    const ok = await wp.waitForLog((l) => l.path === '/logged');
    assert.equal(ok.method, 'GET');
    assert.equal(ok.response_code, 200);
    assert.equal(ok.response_flags, '-');
    assert.equal(ok.response_code_details, 'via_upstream');
    assert.equal(ok.authority, 'api.test');
    assert.equal(ok.user_agent, 'egw-test');
    assert.equal(ok.upstream_cluster, 'inbound-vip|80|http|api.test');
    assert.equal(ok.upstream_host, `127.0.0.1:${up.port}`);
    assert.equal(ok.route_name, 'default');
    assert.match(String(ok.request_id), /^[0-9a-f-]{36}$/);
    assert.match(String(ok.start_time), /^\d{4}-\d\d-\d\dT/);
    const nr = await wp.waitForLog((l) => l.authority === 'nope.test');
    assert.equal(nr.response_code, 502);
    assert.equal(nr.response_flags, 'NR');
    assert.equal(nr.upstream_cluster, 'BlackHoleCluster');
    assert.equal(nr.route_name, 'block_all');
  } finally {
    await wp.stop('SIGTERM');
    await up.close();
    await dir.close();
  }
});
