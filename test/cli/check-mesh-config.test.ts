// `check --mesh-config` reads meshConfig outboundTrafficPolicy and serviceEntryVisibility as `run`
// does (it read neither: a ServiceEntry that NAMESPACE visibility keeps off a waypoint in another
// namespace was "forwarded", and an unknown host under ALLOW_ANY "refused"). Each row goes through
// the real `run --mesh-config` (the access log says the route and cluster) and through `check` with
// the same files; both must say what the row expects.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { REPO_ROOT, startWaypoint, type Waypoint } from '../helpers/waypoint.ts';

// In namespace shop, bound to the waypoint in istio-egress: NAMESPACE visibility forbids that.
const SHOP_ENTRY = (port: number) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: shop, labels: {istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-egress}}
spec: {hosts: [api.shop.test], ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}], resolution: STATIC, endpoints: [{address: 127.0.0.1}]}
`;
const MESH = 'outboundTrafficPolicy: {mode: ALLOW_ANY}\nserviceEntryVisibility: {defaultVisibility: NAMESPACE}\n';

function check(dir: string, url: string): Promise<{ code: number; route: { kind: string; routeName: string; cluster: string } }> {
  return new Promise((resolve, reject) => {
    execFile(join(REPO_ROOT, 'node_modules/.bin/node'), ['src/cli/main.ts', 'check', '--config', join(dir, 'config.yaml'), '--mesh-config', join(dir, 'mesh.yaml'), '-o', 'json', url],
      { cwd: REPO_ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
        try {
          resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, route: (JSON.parse(stdout) as { route: { kind: string; routeName: string; cluster: string } }).route });
        } catch {
          reject(new Error(`check printed no JSON: ${stdout}\n${stderr}`));
        }
      });
  });
}

describe('check --mesh-config agrees with run --mesh-config', () => {
  let dir: TmpDir;
  let up: HttpUpstream;
  let wp: Waypoint;
  before(async () => {
    dir = await tmpDir();
    up = await startHttpUpstream();
    await writeFile(join(dir.path, 'config.yaml'), WAYPOINT_YAML + SHOP_ENTRY(up.port));
    await writeFile(join(dir.path, 'mesh.yaml'), MESH);
    wp = await startWaypoint({ configDir: join(dir.path, 'config.yaml'), args: ['--mesh-config', join(dir.path, 'mesh.yaml')], startTimeoutMs: 30_000 });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    await dir?.close();
  });

  const live = async (url: string) => {
    const from = wp.logs.length;
    await curl(['-x', wp.proxyUrl, '-sS', '-o', '/dev/null', url]);
    const log = await wp.waitForLog((l) => wp.logs.indexOf(l) >= from && typeof l.authority === 'string' && url.includes(l.authority), 5_000);
    return { routeName: log.route_name, cluster: log.upstream_cluster };
  };

  for (const [what, url] of [
    ['serviceEntryVisibility NAMESPACE keeps a shop ServiceEntry off the istio-egress waypoint; ALLOW_ANY passes it through', 'http://api.shop.test/'],
    ['outboundTrafficPolicy ALLOW_ANY passes an unknown host through', 'http://nowhere.test/'],
  ] as const) {
    test(what, async () => {
      const [seen, checked] = await Promise.all([live(url), check(dir.path, url)]);
      assert.deepEqual(seen, { routeName: 'allow_any', cluster: 'PassthroughCluster' });
      assert.deepEqual(checked.route, { kind: 'passthrough', routeName: 'allow_any', cluster: 'PassthroughCluster' });
    });
  }
});
