// Regression (issue 11): a CLI command that hit an internal error printed one line and exited 0, so a
// script read a crashed `analyze` as "no issues". Internal errors now exit 70 (EX_SOFTWARE), and the
// inputs that crashed the validators (a null list item, no spec) are ordinary config errors.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir, writeConfig, type TmpDir } from '../helpers/tmp.ts';
import { REPO_ROOT } from '../helpers/waypoint.ts';

interface Result { code: number; stdout: string; stderr: string }

function cli(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeArgs, 'src/cli/main.ts', ...args], { cwd: REPO_ROOT, timeout: 20_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const SE = serviceEntry('api', 'hosts: [api.example.com]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS');

const INPUTS: Record<string, { yaml: string; where: RegExp }> = {
  'a null port in a ServiceEntry': {
    yaml: WAYPOINT_YAML + serviceEntry('api', 'hosts: [api.example.com]\nports: [null]\nresolution: DNS'),
    where: /ServiceEntry istio-egress\/api .*config\.yaml:\d+:\d+\) spec\.ports\[0\]: list item must not be null/,
  },
  'match: [null] in a VirtualService': {
    yaml: `${WAYPOINT_YAML}${SE}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: istio-egress}
spec:
  hosts: [api.example.com]
  http:
  - match: [null]
    route: [{destination: {host: api.example.com}}]
`,
    where: /VirtualService istio-egress\/vs .*config\.yaml:\d+:\d+\) spec\.http\[0\]\.match\[0\]: list item must not be null/,
  },
  'a null item in a nested AuthorizationPolicy list': {
    yaml: `${WAYPOINT_YAML}${SE}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: api}]
  rules: [{to: [null]}]
`,
    where: /AuthorizationPolicy istio-egress\/ap .*spec\.rules\[0\]\.to\[0\]: list item must not be null/,
  },
};

// Each command's exit code for a config error: run 1, analyze 79 (istioctl's), check 2, migrate 65.
const COMMANDS: [string, (dir: string) => string[], number][] = [
  ['run', (dir) => ['run', '--config', dir, '--proxy-port', '0', '--admin-port', '0', '--status-port', '0', '--stats-port', '0', '--no-watch'], 1],
  ['analyze', (dir) => ['analyze', dir], 79],
  ['check', (dir) => ['check', '--config', dir, 'http://api.example.com/'], 2],
  ['migrate', (dir) => ['migrate', dir], 65],
];

describe('inputs that crashed the CLI are config errors', () => {
  const dirs = new Map<string, TmpDir>();
  before(async () => {
    for (const [name, { yaml }] of Object.entries(INPUTS)) {
      const dir = await tmpDir();
      await writeConfig(dir.path, yaml);
      dirs.set(name, dir);
    }
  });
  after(async () => {
    for (const d of dirs.values()) await d.close();
  });

  for (const [name, { where }] of Object.entries(INPUTS)) {
    for (const [command, args, code] of COMMANDS) {
      test(`${command}: ${name}`, async () => {
        const r = await cli(args(dirs.get(name)!.path));
        assert.doesNotMatch(r.stderr, /internal error/);
        assert.match(r.stderr + r.stdout, where);
        assert.equal(r.code, code, r.stderr);
      });
    }
  }
});

describe('an AuthorizationPolicy with no spec', () => {
  let dir: TmpDir;
  before(async () => {
    dir = await tmpDir();
    await writeConfig(dir.path, `${WAYPOINT_YAML}${SE}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: nothing, namespace: istio-egress}
`);
  });
  after(() => dir.close());

  // Istio decodes it as an empty spec (allow-nothing); without targetRefs only ztunnel applies it.
  for (const [command, args] of COMMANDS.filter(([c]) => c !== 'run')) {
    test(`${command} does not crash`, async () => {
      const r = await cli(args(dir.path));
      assert.doesNotMatch(r.stderr, /internal error/);
      assert.equal(r.code, 0, r.stderr);
    });
  }
});

describe('an internal error exits 70 (EX_SOFTWARE)', () => {
  const inject = ['--import', join(REPO_ROOT, 'test/cli/fixtures/inject-internal-error.ts')];
  for (const kind of ['throw', 'reject']) {
    test(`an uncaught ${kind === 'throw' ? 'exception' : 'rejection'} in analyze`, async () => {
      const r = await cli(['analyze', join(REPO_ROOT, 'examples/quickstart')], { EGW_INJECT: kind }, inject);
      assert.match(r.stderr, /^egressway: internal error: injected (bug|rejection) \(please report/m);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without EGRESSWAY_DEBUG');
      assert.equal(r.code, 70);
    });
  }
});
