// `egressway check` through the real CLI: the route, every policy with why, the decision and exit codes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';

const POLICIES = `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: orders, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: api}]
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/cart"]}}]
    to: [{operation: {methods: [POST], paths: ["/v1/orders"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ghost, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: missing}]
  rules: [{}]
`;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['src/cli/main.ts', 'check', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('egressway check', () => {
  let dir: TmpDir;
  before(async () => {
    dir = await tmpDir();
    await writeFile(join(dir.path, 'config.yaml'), WAYPOINT_YAML + serviceEntry('api', 'hosts: [api.example.com]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS') + POLICIES);
  });
  after(async () => dir?.close());

  test('allowed: exit 0, names the ServiceEntry, binding, route and the matching rule', async () => {
    const r = await run(['--config', dir.path, '--from', 'spiffe://cluster.local/ns/shop/sa/cart', '--method', 'POST', 'http://api.example.com/v1/orders']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /serviceentry istio-egress\/api/);
    assert.match(r.stdout, /binding .*bound \(WaypointAccepted\)/);
    assert.match(r.stdout, /route +forward default -> /);
    assert.match(r.stdout, /MATCH +ALLOW istio-egress\/orders \[service\] rule 0/);
    assert.match(r.stdout, /decision +ALLOW: allowed by ALLOW policy istio-egress\/orders rule 0/);
  });

  test('denied: exit 1 with the rule that did not match and why; -o json', async () => {
    const r = await run(['--config', dir.path, '--from', 'spiffe://cluster.local/ns/shop/sa/web', '--method', 'POST', '-o', 'json', 'http://api.example.com/v1/orders']);
    assert.equal(r.code, 1, r.stderr);
    const j = JSON.parse(r.stdout) as { decision: { allow: boolean; details: string }; policies: { policy: string; matched: boolean; why: string[] }[] };
    assert.equal(j.decision.allow, false);
    assert.equal(j.decision.details, 'rbac_access_denied_matched_policy[none]');
    assert.equal(j.policies[0]!.matched, false);
    assert.match(j.policies[0]!.why[0]!, /from\[0\]\.source\.principals: "cluster.local\/ns\/shop\/sa\/web" not in/);
  });

  test('an unknown host is denied by routing (exit 1); bad usage is exit 2', async () => {
    const r = await run(['--config', dir.path, 'http://nowhere.example.com/']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /refused before authorization/);
    assert.match(r.stdout, /details +route_not_found\{host_not_in_registry\}\nresponse +502, flags NR\n/);
    assert.equal((await run(['--config', dir.path, '--from', 'not-spiffe', 'http://api.example.com/'])).code, 2);
    assert.equal((await run(['--config', dir.path, 'ftp://x/'])).code, 2);
  });

  test('a tunnel to a TCP port routed by a VirtualService tcp rule names the rule and the cluster it goes to', async () => {
    const tcp = await tmpDir();
    try {
      await writeFile(join(tcp.path, 'config.yaml'), WAYPOINT_YAML
        + serviceEntry('a', 'hosts: [a.test]\nports: [{number: 9000, name: tcp, protocol: TCP}]\nresolution: DNS')
        + serviceEntry('b', 'hosts: [b.test]\nports: [{number: 9000, name: tcp, protocol: TCP}]\nresolution: DNS')
        + '---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a-to-b, namespace: istio-egress}\nspec: {hosts: [a.test], tcp: [{route: [{destination: {host: b.test}}]}]}\n');
      const r = await run(['--config', tcp.path, 'tcp://a.test:9000']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /route +forward default -> inbound-vip\|9000\|tcp\|b\.test \(VirtualService istio-egress\/a-to-b tcp\[0\]\)/);
    } finally {
      await tcp.close();
    }
  });
});
