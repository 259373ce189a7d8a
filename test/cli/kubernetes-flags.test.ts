// `run --kubernetes` flag errors through the real CLI: one line naming the flag and the next step, exit 1,
// never an internal error. Needs no API server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/waypoint.ts';

const PORTS = ['--proxy-port', '0', '--admin-port', '0', '--status-port', '0', '--stats-port', '0'];

function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(REPO_ROOT, 'node_modules/.bin/node'), ['src/cli/main.ts', 'run', ...args, ...PORTS], { cwd: REPO_ROOT, timeout: 30_000 }, (err, _out, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr });
    });
  });
}

test('a missing --kubeconfig is a one-line error naming it, exit 1 (was an internal error)', async () => {
  const r = await cli(['--kubernetes', '--kubeconfig', '/nonexistent/kubeconfig']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^error: cannot read --kubeconfig \/nonexistent\/kubeconfig: ENOENT; pass a readable kubeconfig/m);
  assert.doesNotMatch(r.stderr, /internal error/);
});

test('--config and --kubernetes together, or neither, are refused with the choice to make', async () => {
  const both = await cli(['--kubernetes', '--config', 'examples/quickstart']);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /--config and --kubernetes are two sources; choose one/);
  const none = await cli([]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /give the config: --config <paths\.\.\.>.*or --kubernetes/);
  const stray = await cli(['--config', 'examples/quickstart', '--kubeconfig', 'x']);
  assert.equal(stray.code, 1);
  assert.match(stray.stderr, /--kubeconfig only applies with --kubernetes/);
});

test('--secrets-dir with --kubernetes, --identify-pods-by-ip without it or with a bad value: one-line errors', async () => {
  const secrets = await cli(['--kubernetes', '--secrets-dir', '/tmp']);
  assert.equal(secrets.code, 1);
  assert.match(secrets.stderr, /--secrets-dir is for --config; with --kubernetes, credentialName Secrets are read from the API server/);
  const pods = await cli(['--config', 'examples/quickstart', '--identify-pods-by-ip']);
  assert.equal(pods.code, 1);
  assert.match(pods.stderr, /--identify-pods-by-ip only applies with --kubernetes/);
  const bad = await cli(['--kubernetes', '--identify-pods-by-ip=principals']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--identify-pods-by-ip=principals: use it bare \(telemetry only\) or =namespaces/);
});
