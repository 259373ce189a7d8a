// The pipeline's import rules (STYLE.md): the data plane only ever sees the compiled snapshot, and
// compile stays a pure function of config. A violation names the file and the import.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^import [^;]*? from '([^']+)';/gms)].map((m) => m[1]!);
}

const RULES: { dirs: string[]; forbidden: RegExp; why: string }[] = [
  { dirs: ['src/dataplane', 'src/policy', 'src/hbone', 'src/telemetry'], forbidden: /\/(config|compile)\//, why: 'the data plane sees only the snapshot' },
  { dirs: ['src/compile', 'src/config'], forbidden: /\/(dataplane|policy|hbone|controlplane|telemetry|dashboard|cli)\//, why: 'compile is pure: config in, snapshot out' },
  { dirs: ['src/model'], forbidden: /^\.\.\//, why: 'model types depend on nothing else' },
];

test('the import scanner sees multi-line and type imports', () => {
  assert.ok(imports('src/compile/services.ts').includes('../config/resource.ts'));
  assert.ok(imports('src/dataplane/proxy-listener.ts').includes('../model/snapshot.ts'));
});

test('imports flow one way through the pipeline', () => {
  const bad: string[] = [];
  for (const r of RULES) {
    for (const f of r.dirs.flatMap(files)) {
      for (const i of imports(f)) if (r.forbidden.test(i)) bad.push(`${f} imports ${i} (${r.why})`);
    }
  }
  assert.deepEqual(bad, []);
});

test('compile does no I/O', () => {
  const bad = files('src/compile').filter((f) => /from 'node:(fs|net|http|https|dns|child_process)(\/promises)?'/.test(readFileSync(f, 'utf8')));
  assert.deepEqual(bad, []);
});

/** Modules `file` loads at run time, transitively (type-only imports are erased and load nothing). */
function runtimeClosure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const src = readFileSync(file, 'utf8');
  for (const m of src.matchAll(/^import (?!type )[^;]*? from '(\.[^']+)';/gms)) runtimeClosure(join(file, '..', m[1]!), seen);
  for (const m of src.matchAll(/^export (?!type )[^;]*? from '(\.[^']+)';/gms)) runtimeClosure(join(file, '..', m[1]!), seen);
  return seen;
}

test('a run --concurrency worker never loads the config or compile code (it is sent the compiled snapshot)', () => {
  const loaded = [...runtimeClosure('src/workers/worker.ts')];
  assert.ok(loaded.includes(join('src/dataplane/proxy-listener.ts')), 'the scanner follows imports');
  assert.deepEqual(loaded.filter((f) => /^src\/(config|compile)\/|controlplane\/(file|kube)-source/.test(f)), []);
});

test("node:http is imported through src/node-http.ts: a named ES import reads its WebSocket getter, which loads Node's bundled undici and node:http2 (13 MiB)", () => {
  const bad = files('src').filter((f) => /^import (?!type )[^;]*? from 'node:http';/ms.test(readFileSync(f, 'utf8')));
  assert.deepEqual(bad, []);
  assert.match(readFileSync('src/node-http.ts', 'utf8'), /getBuiltinModule\('node:http'\)/);
});
