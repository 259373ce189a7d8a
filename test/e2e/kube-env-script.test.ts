// scripts/kube-env.sh as a person uses it: start it, wait for the lines it prints, run its
// `export KUBECONFIG=...` + `kubectl get ...` lines in a shell, see the bundled example, then Ctrl-C
// (SIGINT) and check the API server is gone.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { kubePeersMissing } from '../helpers/kube.ts';
import { REPO_ROOT } from '../helpers/waypoint.ts';

const run = promisify(execFile);
const skip = kubePeersMissing();
if (skip) console.log(`# kube-env-script: ${skip}`);

test('scripts/kube-env.sh prints working kubectl lines and stops everything on Ctrl-C', { skip, timeout: 240_000 }, async () => {
  const child = spawn(join(REPO_ROOT, 'scripts', 'kube-env.sh'), [], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => void (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => void (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const deadline = Date.now() + 180_000;
    while (!out.includes('Ctrl-C here stops everything')) {
      assert.equal(child.exitCode, null, `the script exited early:\n${out}\n${err}`);
      assert.ok(Date.now() < deadline, `no usage lines after 180 s:\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const lines = out.split('\n');
    const exportLine = lines.find((l) => l.startsWith('export KUBECONFIG='))!;
    const getLine = lines.find((l) => /kubectl get /.test(l))!;
    assert.ok(exportLine && getLine, out);
    assert.match(out, /run --kubernetes --kubeconfig \S+/);
    // The printed lines, as typed into a shell.
    const { stdout } = await run('bash', ['-c', `${exportLine}\n${getLine}`]);
    assert.match(stdout, /istio-egress\s+serviceentry\.networking\.istio\.io\/httpbin\s/, stdout);
    assert.match(stdout, /istio-egress\s+gateway\.gateway\.networking\.k8s\.io\/waypoint\s/, stdout);
    child.kill('SIGINT');
    assert.equal(await exited, 0, err);
    assert.match(out, /stopped/);
    await assert.rejects(run('bash', ['-c', `${exportLine}\n${getLine.replace('kubectl get', 'kubectl --request-timeout=3s get')}`]), 'the API server is gone');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
