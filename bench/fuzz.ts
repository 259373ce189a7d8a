// Runs every property of test/fuzz/props/ for many inputs (1,000,000 each by default), one after the
// other in this process, and prints per-property time and any counterexample with the seed and path
// that replay it. `npm test` runs the same properties on a small fixed-seed slice.
//
//   node bench/fuzz.ts                                   # every property, 1,000,000 inputs each
//   node bench/fuzz.ts --runs 20000 --only normalize     # a quick look at a few
//   node bench/fuzz.ts --only "normalize-path: idempotent" --seed 42 --path "31:2:0" --runs 1  # replay
//
// Flags: --runs N (inputs per property), --seed S (default: random, printed), --only TEXT (names
// containing TEXT; repeatable), --path P (replay one shrunk counterexample, with --seed), --list.
// Exit code 1 when a property fails. A JSON summary goes to .bench/fuzz-<timestamp>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { ALL_PROPERTIES } from '../test/fuzz/props/index.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000000' },
    seed: { type: 'string' },
    only: { type: 'string', multiple: true },
    path: { type: 'string' },
    list: { type: 'boolean', default: false },
  },
});

const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got "${values.runs}"`);
const seed = values.seed !== undefined ? Number(values.seed) : (Math.random() * 2 ** 31) | 0;
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got "${values.seed}"`);
const selected = ALL_PROPERTIES.filter((p) => !values.only || values.only.some((o) => p.name.includes(o)));
if (selected.length === 0) throw new Error(`no property name contains ${JSON.stringify(values.only)}; --list shows them`);

if (values.list) {
  for (const p of ALL_PROPERTIES) console.log(p.name);
  process.exit(0);
}

// The YAML library warns through process.emitWarning about odd keys the fuzzer writes; count them
// rather than print thousands of lines.
let warnings = 0;
process.emitWarning = (() => { warnings++; }) as typeof process.emitWarning;

interface Row { name: string; runs: number; ms: number; perSecond: number; ok: boolean; seed: number; path?: string; counterexample?: string; error?: string }

console.log(`fuzz: ${selected.length} properties, ${runs.toLocaleString('en-US')} inputs each, seed ${seed}, node ${process.version}, ${os.cpus().length} CPUs`);
const rows: Row[] = [];
for (const p of selected) {
  const started = process.hrtime.bigint();
  const out = await p.check({ seed, numRuns: runs, ...(values.path ? { path: values.path } : {}), endOnFailure: false });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const row: Row = { name: p.name, runs: out.numRuns, ms: Math.round(ms), perSecond: Math.round(out.numRuns / (ms / 1000)), ok: !out.failed, seed: out.seed };
  if (out.failed) {
    row.path = out.counterexamplePath ?? undefined;
    row.counterexample = fc.stringify(out.counterexample);
    row.error = String(out.errorInstance);
  }
  rows.push(row);
  const time = `${(ms / 1000).toFixed(1).padStart(7)} s  ${row.perSecond.toLocaleString('en-US').padStart(9)}/s`;
  console.log(`${row.ok ? 'ok  ' : 'FAIL'} ${time}  ${row.runs.toLocaleString('en-US').padStart(10)}  ${p.name}`);
  if (!row.ok) {
    console.log(`     counterexample: ${row.counterexample}\n     error: ${row.error}`);
    console.log(`     replay: node bench/fuzz.ts --only ${JSON.stringify(p.name)} --seed ${row.seed} --path ${JSON.stringify(row.path)} --runs 1`);
  }
}
const failed = rows.filter((r) => !r.ok);
const totalS = rows.reduce((s, r) => s + r.ms, 0) / 1000;
console.log(`\n${rows.length - failed.length}/${rows.length} properties held; ${totalS.toFixed(0)} s in all; ${warnings} YAML warnings counted`);
mkdirSync(join(REPO, '.bench'), { recursive: true });
const file = join(REPO, '.bench', `fuzz-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify({ seed, runs, node: process.version, rows }, null, 2)}\n`);
console.log(`results: ${file}`);
process.exitCode = failed.length ? 1 : 0;
