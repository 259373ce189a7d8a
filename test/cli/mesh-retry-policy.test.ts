// meshConfig defaultHttpRetryPolicy through the real `run --mesh-config`: `{attempts: 0}` turns the
// waypoint's default retries off (Istio's applyHTTPRouteDestination reads it for routes without
// retries, BuildDefaultHTTPOutboundRoute for the default route). A bad policy is refused by name.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { meshConfigOf } from '../../src/controlplane/mesh-config.ts';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { startWaypoint, type Waypoint } from '../helpers/waypoint.ts';

describe('run --mesh-config with defaultHttpRetryPolicy', () => {
  let dir: TmpDir;
  let up: HttpUpstream;
  let wp: Waypoint;
  let tries = 0;
  before(async () => {
    dir = await tmpDir();
    up = await startHttpUpstream({ routes: { '/flaky': ({ res }) => void res.writeHead(++tries === 1 ? 503 : 200).end() } });
    await writeFile(join(dir.path, 'config.yaml'), WAYPOINT_YAML + serviceEntry('api', `hosts: [api.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`));
    await writeFile(join(dir.path, 'mesh.yaml'), 'defaultHttpRetryPolicy: {attempts: 0}\n');
    wp = await startWaypoint({ configDir: join(dir.path, 'config.yaml'), args: ['--mesh-config', join(dir.path, 'mesh.yaml')], startTimeoutMs: 30_000 });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    await dir?.close();
  });

  test('a 503 reaches the client untried again', async () => {
    const r = await curl(['-x', wp.proxyUrl, '-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://api.test/flaky']);
    assert.equal(r.stdout, '503');
    assert.equal(tries, 1);
  });
});

test('defaultHttpRetryPolicy is checked as a VirtualService retries is', () => {
  assert.deepEqual(meshConfigOf({ defaultHttpRetryPolicy: { attempts: 3, retryOn: '5xx,503', perTryTimeout: '2s' } }, 'm.yaml').defaultHttpRetryPolicy, { attempts: 3, retryOn: '5xx,503', perTryTimeout: '2s' });
  assert.throws(() => meshConfigOf({ defaultHttpRetryPolicy: { attempts: 2, retryOn: '5xx, reset' } }, 'm.yaml'), /--mesh-config m\.yaml: defaultHttpRetryPolicy: retryOn: " reset" is not a valid retryOn policy/);
  assert.throws(() => meshConfigOf({ defaultHttpRetryPolicy: { attempts: 'two' } }, 'm.yaml'), /attempts: expected a number/);
  assert.throws(() => meshConfigOf({ defaultHttpRetryPolicy: 3 }, 'm.yaml'), /must be a mapping/);
});
