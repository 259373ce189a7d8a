// RE2 read as RE2 (config/re2.ts): each row is a pattern, strings it must fully match and strings
// it must not, as Go's regexp / RE2 decide; then patterns Go refuses, with Go's words. Every
// translated source must also run on V8's linear-time engine (no flags but `u` for \p classes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { translateRe2 } from '../../src/config/re2.ts';

setFlagsFromString('--enable-experimental-regexp-engine');

const full = (re: string) => {
  const t = translateRe2(re);
  assert.ok(t.ok, `${re}: ${!t.ok && t.error}`);
  return { re: new RegExp(`^(?:${t.source})$`, t.flags), t };
};

const MATCHES: [string, string[], string[]][] = [
  ['(?i)/api/v[0-9]+', ['/API/V2', '/api/v1'], ['/apx/v1']],
  ['/a(?i)b|c', ['/ab', '/aB', 'C'], ['/Ab']],
  ['(?i:a)b', ['Ab'], ['AB']],
  ['(?i)k', ['k', 'K', '\u212a'], ['x']],
  ['(?i)[^a]', ['b'], ['a', 'A']],
  ['a.b', ['axb', 'a\rb'], ['a\nb']],
  ['(?s)a.b', ['a\nb'], []],
  ['a\\sb', ['a b', 'a\tb'], ['a\u000bb', 'a\u00a0b']],
  ['\\Qa.b*\\E', ['a.b*'], ['axb']],
  ['\\Qab\\E*', ['a', 'abbb'], ['abab']],
  ['(?i)\\Qab\\E', ['AB'], []],
  ['[[:alpha:]]+[[:^alpha:]]', ['ab1'], ['abc']],
  ['[]a]+', [']a'], ['b']],
  ['[^]a]', ['b'], [']', 'a']],
  ['[a-]+', ['a-'], ['b']],
  ['[\\d-z]+', ['1-z'], ['a']],
  ['\\pL+\\p{Greek}', ['héα'], ['h1']],
  ['\\PN', ['a'], ['1']],
  ['\\x{1F600}\\x41\\101\\0', ['\u{1F600}AA\0'], []],
  ['(?U)(a+)(a*)', ['aaa'], []],
  ['a{2,3}', ['aa', 'aaa'], ['a', 'aaaa']],
  ['a{,3}', ['a{,3}'], ['aaa']],
  ['x\\z', ['x'], ['xz']],
  ['\\Ax', ['x'], ['Ax']],
  ['(?m)^x$', ['x'], []],
  ['(?P<v>v\\d+)-(?<w>\\w+)', ['v1-ab_c'], ['v-x']],
];

test('RE2 patterns match what RE2 matches, and run on the linear engine', () => {
  for (const [pattern, yes, no] of MATCHES) {
    const { re, t } = full(pattern);
    for (const s of yes) assert.ok(re.test(s), `${pattern} should match ${JSON.stringify(s)} (as ${re})`);
    for (const s of no) assert.ok(!re.test(s), `${pattern} should not match ${JSON.stringify(s)} (as ${re})`);
    if (!t.flags) assert.doesNotThrow(() => new RegExp(`^(?:${t.source})$`, 'l'), `${pattern} as ${t.source}`);
  }
});

test('(?U) swaps greedy and lazy: the first group takes one a', () => {
  const { re } = full('(?U)(a+)(a*)');
  assert.equal(re.exec('aaa')?.[1], 'a');
});

const REFUSED: [string, string][] = [
  ['a(?=b)', 'invalid or unsupported Perl syntax: `(?=b`'],
  ['(?<!a)b', 'invalid or unsupported Perl syntax: `(?<!`'],
  ['(a)\\1', 'invalid escape sequence: `\\1`'],
  ['\\e', 'invalid escape sequence: `\\e`'],
  ['\\C', 'invalid escape sequence: `\\C`'],
  ['a**', 'invalid nested repetition operator: `**`'],
  ['a{2}{3}', 'invalid nested repetition operator: `{2}{3}`'],
  ['a{1001}', 'invalid repeat count: `{1001}`'],
  ['a{3,2}', 'invalid repeat count: `{3,2}`'],
  ['*a', 'missing argument to repetition operator: `*`'],
  ['(a', 'missing closing ): `(a`'],
  ['a)', 'unexpected ): `a)`'],
  ['[a', 'missing closing ]: `[a`'],
  ['[z-a]', 'invalid character class range: `z-a`'],
  ['[a-\\d]', 'invalid escape sequence: `\\d`'],
  ['\\p{Klingon}', 'invalid character class range: `\\p{Klingon}`'],
  ['[[:word2:]]', 'invalid character class range: `[:word2:]`'],
  ['(?x)a', 'invalid or unsupported Perl syntax: `(?x)`'],
  ['(?P<a-b>x)', 'invalid named capture: `(?P<a-b>`'],
  ['a\\', 'trailing backslash at end of expression'],
];

test('what Go refuses is refused with its words', () => {
  for (const [pattern, words] of REFUSED) {
    const t = translateRe2(pattern);
    assert.ok(!t.ok, `${pattern} should be refused`);
    assert.ok(t.error.startsWith('error parsing regexp: ') && t.error.includes(words), `${pattern}: ${t.error}`);
  }
});
