// `egressway run --ca-address`: what an operator sees before istiod ever answers — bad flag
// combinations and bad tokens end the process with one line; an unreachable istiod is retried with
// backoff, one warning per attempt naming the next step, and nothing listens meanwhile.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createMeshCa } from '../../src/certs/pki.ts';
import { LogCollector } from '../helpers/log-lines.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { REPO_ROOT } from '../helpers/waypoint.ts';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwt = (claims: unknown) => `${b64({ alg: 'RS256' })}.${b64(claims)}.c2ln`;

function cli(args: string[]) {
  const child = spawn(join(REPO_ROOT, 'node_modules/.bin/node'), ['src/cli/main.ts', 'run', '-c', 'examples/quickstart', '--proxy-port', '0', '--admin-port', '0', '--status-port', '0', '--stats-port', '0', '--hbone-port', '0', '--access-log', 'off', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const exit = new Promise<{ code: number | null; stderr: string }>((r) => child.once('close', (code) => r({ code, stderr })));
  return { child, exit, logs: new LogCollector(child.stdout!) };
}

describe('run --ca-address: errors before istiod answers', () => {
  let dir: TmpDir;
  let root: string;
  let good: string;
  before(async () => {
    dir = await tmpDir('egressway-ca-flags-');
    root = join(dir.path, 'root.pem');
    await writeFile(root, (await createMeshCa({ trustDomain: 'cluster.local' })).cert);
    good = join(dir.path, 'good.token');
    await writeFile(good, jwt({ aud: ['istio-ca'], sub: 'system:serviceaccount:istio-egress:waypoint', exp: 4_000_000_000 }));
  });
  after(async () => dir?.close());

  const exitsWith = async (args: string[], re: RegExp) => {
    const r = await cli(args).exit;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr.trim().split('\n').filter((l) => !l.startsWith('(run with --help'))[0]!, re);
  };

  test('flag combinations and local files', async () => {
    await exitsWith(['--ca-address', '127.0.0.1:1', '--ca-root-cert', root, '--ca-token-file', good, '--hbone-cert', root], /^error: --ca-address and --hbone-cert\/--hbone-key\/--trust-bundle are two sources of the HBONE certificate; choose one$/);
    await exitsWith(['--ca-address', 'istiod'], /"istiod" is not host:port \(example: istiod\.istio-system\.svc:15012\)/);
    await exitsWith(['--ca-address', '127.0.0.1:1', '--cert-grace-ratio', '1.5'], /"1\.5" is not a ratio between 0 and 1/);
    const anon = join(dir.path, 'anon.token');
    await writeFile(anon, jwt({ aud: ['istio-ca'] }));
    await exitsWith(['--ca-address', '127.0.0.1:1', '--ca-root-cert', root, '--ca-token-file', anon], /^error: cannot tell this pod's identity: set POD_NAMESPACE and SERVICE_ACCOUNT/);
    await exitsWith(['--ca-address', '127.0.0.1:1', '--ca-root-cert', join(dir.path, 'missing.pem'), '--ca-token-file', good], /^error: cannot read the mesh root \S+missing\.pem \(ENOENT\); mount the istio-ca-root-cert ConfigMap there or pass --ca-root-cert$/);
    await exitsWith(['--ca-address', '127.0.0.1:1', '--ca-root-cert', good, '--ca-token-file', good], /is not a PEM root certificate .*root-cert\.pem from the istio-ca-root-cert ConfigMap$/);
    const wrong = join(dir.path, 'wrong.token');
    await writeFile(wrong, jwt({ aud: ['https://kubernetes.default.svc'], sub: 'system:serviceaccount:istio-egress:waypoint' }));
    await exitsWith(['--ca-address', '127.0.0.1:1', '--ca-root-cert', root, '--ca-token-file', wrong], /^error: the token in \S+ has audience https:\/\/kubernetes\.default\.svc, istiod's CA accepts only istio-ca/);
  });

  test('environment names as pilot-agent uses them: CA_ADDR, POD_NAMESPACE, SERVICE_ACCOUNT', async () => {
    const child = spawn(join(REPO_ROOT, 'node_modules/.bin/node'), ['src/cli/main.ts', 'run', '-c', 'examples/quickstart', '--proxy-port', '0', '--admin-port', '0', '--status-port', '0', '--stats-port', '0', '--hbone-port', '0', '--ca-root-cert', root, '--ca-token-file', good], {
      cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CA_ADDR: '127.0.0.1:1', POD_NAMESPACE: 'team-a', SERVICE_ACCOUNT: 'egress', TRUST_DOMAIN: 'corp.example' },
    });
    const logs = new LogCollector(child.stdout!);
    try {
      const asked = await logs.waitFor((l) => /requesting a certificate/.test(String(l.msg)), 15_000, () => '');
      assert.equal(asked.spiffeId, 'spiffe://corp.example/ns/team-a/sa/egress');
      assert.equal(asked.caAddress, '127.0.0.1:1');
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('istiod unreachable: retried with backoff, one warning per attempt, no listener meanwhile', async () => {
    const c = cli(['--ca-address', '127.0.0.1:1', '--ca-root-cert', root, '--ca-token-file', good]);
    try {
      const warns: import('../helpers/log-lines.ts').LogLine[] = [];
      for (let i = 0; i < 2; i++) {
        warns.push(await c.logs.waitFor((l) => l.level === 40 && !warns.includes(l), 15_000, () => ''));
      }
      assert.equal(warns[0]!.kind, 'unreachable');
      assert.match(String(warns[0]!.msg), /^istiod CA: istiod at 127\.0\.0\.1:1 is unreachable \(connect ECONNREFUSED 127\.0\.0\.1:1\); check --ca-address and that istiod runs \(kubectl -n istio-system get pods -l app=istiod\) \(retry in 1000 ms; HBONE waits for a first certificate\)$/);
      assert.deepEqual(warns.map((w) => w.retryInMs), [1000, 2000]);
      assert.equal(c.logs.lines.find((l) => l.msg === 'listening'), undefined);
    } finally {
      c.child.kill('SIGKILL');
    }
  });
});
