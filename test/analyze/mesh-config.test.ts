// `analyze --meshConfigFile` (istioctl's flag): analyzers that depend on mesh config use it. A CUSTOM
// policy's provider is unknown without it and known with it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { runAnalyze } from '../../src/cli/analyze.ts';

const DIR = 'test/fixtures/analyze-mesh';

function sink(): Writable & { text: string } {
  const w = new Writable({ write(chunk, _e, cb) { w.text += String(chunk); cb(); } }) as Writable & { text: string };
  w.text = '';
  return w;
}

async function run(extra: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const flags = { output: 'json' as const, listCodes: false, suppress: [], failureThreshold: 'Warning' as const, outputThreshold: 'Info' as const, ...extra };
  const code = await runAnalyze([`${DIR}/custom-policy.yaml`], flags, out as unknown as typeof process.stdout, err as unknown as typeof process.stderr);
  return { code, out: out.text, err: err.text };
}

test('without mesh config, the CUSTOM provider is unknown', async () => {
  const r = await run({});
  assert.equal(r.code, 79);
  assert.match(r.out, /provider opa is not an envoyExtAuthzHttp provider/);
});

test('--meshConfigFile supplies extensionProviders', async () => {
  const r = await run({ meshConfigFile: `${DIR}/mesh.yaml` });
  assert.equal(r.code, 0, r.out);
  assert.doesNotMatch(r.out, /provider opa/);
});

test('an unreadable --meshConfigFile is a usage error naming the flag', async () => {
  const r = await run({ meshConfigFile: `${DIR}/missing.yaml` });
  assert.equal(r.code, 64);
  assert.match(r.err, /cannot read --meshConfigFile .*missing\.yaml/);
});
