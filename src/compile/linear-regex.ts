// Regexes from the config run in linear time, as Envoy's RE2 runs them. V8's own engine backtracks:
// a route regex such as `/(a+)+b` met by a 30-character path held the event loop for minutes, and
// with it every client of the waypoint. Two parts:
//  - V8 runs a regex that backtracks more than 50,000 times again on its linear-time engine
//    (--enable-experimental-regexp-engine-on-excessive-backtracks). Normal input never gets there,
//    so the hot path keeps V8's fast engine. The flags are process-wide and read when a RegExp is
//    made, so the fallback is set before compile makes the first route regex (a --concurrency
//    worker gets its copies by structured clone, made after that).
//  - The linear engine refuses a counted repetition over 16 (`[a-z]{1,63}`), which RE2 takes. So
//    such a repetition is written out (16 copies, then nested optionals), which matches the same
//    strings, and a regex the linear engine still refuses is a config error naming the regex.
import { setFlagsFromString } from 'node:v8';
import type { CompiledOrError } from './route-match.ts';

// The fallback makes V8 count backtracks in every regex compiled after it, Node's own included
// (about 3% of the CPU per request of a plain proxied request, A/B): so it is turned on with the
// first route regex (linearSource below), and a config without one never pays it.
let fallbackOn = false;
function linearFallback(): void {
  if (fallbackOn) return;
  fallbackOn = true;
  setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
}
// Only to ask, at compile time, whether a regex can run on the linear engine (the `l` flag).
setFlagsFromString('--enable-experimental-regexp-engine');

/** V8's linear engine replicates a quantified atom at most this many times (kMaxReplicationFactor). */
const MAX_COUNT = 16;
/** About Istio's re2.max_program_size.error_level (32768) in source characters once written out. */
const MAX_EXPANDED = 32 * 1024;

/**
 * `source` with counted repetitions over 16 written out, checked to run in linear time; the error
 * names the regex and what to change. `flags` are the RegExp flags it will be compiled with. An
 * invalid regex comes back as it is, for the caller's compile to say why.
 */
export function linearSource(source: string, flags = ''): CompiledOrError<string> {
  linearFallback();
  const f = flags.replace('g', '');
  // Nested counts multiply (`(?:a{1,16}){1,4}` is 64 copies to the linear engine): then every count is written out.
  for (const limit of [MAX_COUNT, 0]) {
    let expanded: string;
    try {
      expanded = source.includes('{') ? expand(source, limit) : source;
    } catch (err) {
      return { ok: false, error: `regex "${source}" ${(err as Error).message}` };
    }
    try {
      new RegExp(expanded, f);
    } catch {
      return { ok: true, value: expanded }; // invalid: the caller's own compile says why
    }
    try {
      new RegExp(expanded, `${f}l`);
      return { ok: true, value: expanded };
    } catch {
      // try again with every count written out
    }
  }
  return { ok: false, error: `regex "${source}" cannot be run in linear time (RE2's guarantee, which this waypoint keeps so that no request can stall it); write it without lookaround, backreferences or atomic groups` };
}

/** One pass over the source, writing out counts over `limit`; a group's body is done first (inner repetitions first). */
function expand(src: string, limit: number): string {
  const out: string[] = [];
  // Start (in `out`) of the atom a quantifier would apply to, and of each open group.
  let atom = -1;
  const groups: number[] = [];
  let total = 0;
  for (let i = 0; i < src.length;) {
    const c = src[i]!;
    if (c === '\\') {
      const end = escapeEnd(src, i);
      atom = out.length;
      out.push(src.slice(i, end));
      i = end;
    } else if (c === '[') {
      const end = classEnd(src, i);
      atom = out.length;
      out.push(src.slice(i, end));
      i = end;
    } else if (c === '(') {
      groups.push(out.length);
      out.push('(');
      i++;
      atom = -1;
    } else if (c === ')') {
      out.push(')');
      i++;
      atom = groups.pop() ?? -1;
    } else if (c === '{' && atom >= 0) {
      const q = /^\{(\d+)(,(\d*))?\}(\??)/.exec(src.slice(i));
      if (!q) {
        atom = out.length;
        out.push(c);
        i++;
        continue;
      }
      const min = Number(q[1]);
      const max = q[2] === undefined ? min : q[3] === '' ? Infinity : Number(q[3]);
      i += q[0].length;
      if (min <= limit && (max <= limit || max === Infinity)) {
        out.push(q[0]);
        atom = -1;
        continue;
      }
      const body = out.splice(atom).join('');
      const text = repeat(body, min, max, q[4] === '?');
      total += text.length;
      if (total > MAX_EXPANDED) throw new Error(`is too large once its counted repetitions are written out (over ${MAX_EXPANDED} characters, about Istio's RE2 program size limit); use + or * instead of large counts`);
      out.push(text);
      atom = -1;
    } else {
      atom = c === '|' || c === '^' || c === '$' ? -1 : out.length;
      out.push(c);
      i++;
    }
  }
  return out.join('');
}

/**
 * `body{min,max}` written out: min copies, then (max - min) nested optionals (or a `*`), greedy or
 * lazy as the quantifier was. One copy keeps the body's capturing groups (the others get `(?:`), so
 * the groups after it keep their numbers; an exact count captures its last iteration, as before.
 */
function repeat(body: string, min: number, max: number, lazy: boolean): string {
  const plain = `(?:${nonCapturing(body)})`;
  const q = lazy ? '?' : '';
  if (max === min) return `${plain.repeat(min - 1)}(?:${body})`;
  if (max === Infinity) return `${plain.repeat(min)}(?:${body})*${q}`;
  let optional = '';
  for (let k = max - min - 1; k >= 0; k--) optional = `(?:${k === 0 ? body : nonCapturing(body)}${optional})?${q}`;
  return `${plain.repeat(min)}${optional}`;
}

/** The body's capturing groups `(` and `(?<name>` made `(?:`. */
function nonCapturing(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\') {
      const end = escapeEnd(body, i);
      out += body.slice(i, end);
      i = end - 1;
    } else if (c === '[') {
      const end = classEnd(body, i);
      out += body.slice(i, end);
      i = end - 1;
    } else if (c === '(' && body[i + 1] !== '?') {
      out += '(?:';
    } else if (c === '(' && body.startsWith('(?<', i) && body[i + 3] !== '=' && body[i + 3] !== '!') {
      out += '(?:';
      i = body.indexOf('>', i);
    } else out += c;
  }
  return out;
}

/** Index after the character class opened at `i` (JS syntax: a `]` right after `[` or `[^` closes it). */
function classEnd(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === '\\') j = escapeEnd(s, j) - 1;
    else if (s[j] === ']') return j + 1;
  }
  return s.length;
}

/** Index after the escape at `i`: `\xHH`, `\uHHHH`, `\cX` and legacy octal `\0NN` are one atom, as V8 reads them. */
function escapeEnd(s: string, i: number): number {
  const m = /^\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|c[a-zA-Z]|0[0-7]{0,2}|[^])/.exec(s.slice(i, i + 6));
  return i + (m ? m[0].length : 1);
}
