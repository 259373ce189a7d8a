// config/re2.ts against Go's regexp (what istiod validates with; RE2 syntax, as Envoy runs it):
// seeded random patterns over RE2's features (inline flags, case folding, classes, POSIX and
// Unicode classes, \Q..\E, octal and hex escapes, lazy and counted repeats) and over syntax Go
// refuses, each with random inputs. Both must accept or refuse the same patterns, and full-match
// the same inputs. Needs `go` on PATH (builds test/helpers/re2diff once); skips without it.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { translateRe2 } from '../../src/config/re2.ts';

const goBin = spawnSync('go', ['version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 're2diff-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let seed = 20261207;
const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const ATOMS = ['a', 'b', 'K', 'k', 'S', '.', '\\d', '\\D', '\\s', '\\S', '\\w', '\\W', '[a-c]', '[^a]', '[]a]', '[^]a]', '[[:alpha:]]',
  '[[:^digit:]x]', '[a-]', '[\\d-z]', '\\.', '\\-', '\\x41', '\\x{42}', '\\101', '\\pL', '\\p{Greek}', '\\PN', '\\Qa.\\E', '\\z', '\\A',
  '^', '$', '\\b', '/', '%', '{', 'a{,2}', 'é', 'ſ', '\u212a', '[k-m]', '(?i:a)', '[^\\s]',
  // Refused by Go, or close to it.
  '*', ')', '(', '[', '\\e', '{1001}', '(?=a)', '\\1', '[z-a]', '(?x)', '\\C', '\\8', '[[:foo:]]', '\\p{Foo}', '\\x{110000}', '\\xZ',
  '(?P<>a)', 'a{2}{3}', '**', '[a-\\d]', '(?i', '(?-)', '\\Q', '}', ']', '(?<x>a)', '\\E', '^*', '(|a)', '()'];
const QUANT = ['', '', '', '*', '+', '?', '{2}', '{1,3}', '*?', '+?', '??', '{0,}'];
const FLAGS = ['', '', '', '(?i)', '(?s)', '(?U)', '(?m)', '(?i-s)'];
const CHARS = ['a', 'b', 'A', 'B', 'k', 'K', 's', 'S', '\u212a', 'ſ', '1', '2', ' ', '\t', '\n', '\u000b', '\u00a0', '.', ']', '-', '/', 'x', 'é', 'É', 'α', 'Ω', '%', '{', ',', '}', '_', '\0', 'C'];

function pattern(depth: number): string {
  let out = '';
  for (let i = 0, n = 1 + Math.floor(rnd() * 4); i < n; i++) {
    const r = rnd();
    if (r < 0.15 && depth < 3) out += `${pick(['(', '(?:', `(?P<g${depth}${i}>`, '(?i:'])}${pattern(depth + 1)}${rnd() < 0.3 ? `|${pattern(depth + 1)}` : ''})${pick(QUANT)}`;
    else if (r < 0.22) out += pick(FLAGS);
    else out += pick(ATOMS) + pick(QUANT);
  }
  return out;
}

const input = () => Array.from({ length: Math.floor(rnd() * 6) }, () => pick(CHARS)).join('');

test('2000 random patterns: accepted and refused alike, and full-matched alike, by Go and by the translation', { skip: goBin ? false : 'go is not on PATH (install Go to run this differential test)' }, () => {
  const bin = join(dir, 're2diff');
  execFileSync('go', ['build', '-o', bin, fileURLToPath(new URL('../helpers/re2diff/main.go', import.meta.url))], { env: { ...process.env, GO111MODULE: 'off' }, stdio: 'pipe' });
  const cases = Array.from({ length: 2000 }, () => ({ p: pattern(0), in: Array.from({ length: 12 }, input) }));
  const go = spawnSync(bin, { input: `${cases.map((c) => JSON.stringify(c)).join('\n')}\n`, maxBuffer: 1 << 28 });
  const answers = go.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as { ok: boolean; err?: string; m: boolean[] });
  assert.equal(answers.length, cases.length, go.stderr.toString());
  const diffs: string[] = [];
  cases.forEach((c, i) => {
    const g = answers[i]!;
    const t = translateRe2(c.p);
    if (t.ok !== g.ok) return void diffs.push(`${JSON.stringify(c.p)}: Go ${g.err ?? 'accepts'}, translation ${t.ok ? 'accepts' : t.error}`);
    if (!t.ok) return;
    const re = new RegExp(`^(?:${t.source})$`, t.flags);
    c.in.forEach((s, j) => { if (re.test(s) !== g.m[j]) diffs.push(`${JSON.stringify(c.p)} on ${JSON.stringify(s)}: Go ${g.m[j]}, translation ${!g.m[j]} (${t.source})`); });
  });
  assert.deepEqual(diffs.slice(0, 20), []);
});
