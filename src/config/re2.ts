// RE2 (Envoy's safe_regex, Go's regexp as istiod validates) translated to a JS RegExp source, once
// per snapshot. JS and RE2 differ where a plain `new RegExp(re)` would silently disagree: `.` (RE2
// excludes only \n), `\s` (ASCII only), `\z` / `\A`, inline flags `(?i)` / `(?s)` / `(?U)` that
// apply to the rest of the group, `(?P<name>`, `\Q...\E`, POSIX classes `[[:alpha:]]`, `\pL` /
// `\p{Greek}`, octal escapes, and a leading `]` in a class. What Go refuses (lookaround,
// backreferences, `\e`, `a**`, `{1001}`...) is refused with Go's wording. Groups keep their numbers,
// so `\1` in a uriRegexRewrite still names the same group.
//
// The output needs no flags (only `u`, for `\p` classes): case folding is written out (`[aA]`) and
// bracket classes are resolved to plain ranges here, so the source also suits V8's linear-time
// engine, which takes neither `i`, `u`, `v` nor lookahead. `(?m)` changes nothing: the values
// routes match (paths, header and query values) never hold a newline.

export type Re2Translation = { readonly ok: true; readonly source: string; readonly flags: '' | 'u' } | { readonly ok: false; readonly error: string };

interface Flags { i: boolean; m: boolean; s: boolean; U: boolean }
type Range = readonly [number, number];

const MAX_CP = 0x10ffff;
const PERL: Record<string, readonly Range[]> = {
  d: [[0x30, 0x39]],
  s: [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]],
  w: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
};

const POSIX: Record<string, readonly Range[]> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]], alpha: [[0x41, 0x5a], [0x61, 0x7a]], ascii: [[0, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]], cntrl: [[0, 0x1f], [0x7f, 0x7f]], digit: [[0x30, 0x39]], graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]], print: [[0x20, 0x7e]], punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]], upper: [[0x41, 0x5a]], word: PERL.w!, xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};

const CONTROL: Record<string, number> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };
const MAX_REPEAT = 1000;
// Simple case folding beyond toUpperCase/toLowerCase: the Kelvin sign and the long s fold with k and s.
const EXTRA_FOLD: Record<number, number[]> = { 0x6b: [0x212a], 0x4b: [0x212a], 0x212a: [0x6b, 0x4b], 0x73: [0x17f], 0x53: [0x17f], 0x17f: [0x73, 0x53] };

class Re2Error extends Error {}
const fail = (msg: string): never => { throw new Re2Error(`error parsing regexp: ${msg}`); };

/** Sorted, merged ranges. */
function normalize(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function complement(ranges: readonly Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of normalize(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CP) out.push([next, MAX_CP]);
  return out;
}

/** The case variants of one code point (RE2's simple folding, close enough). */
function variants(cp: number): number[] {
  const c = String.fromCodePoint(cp);
  const out = new Set<number>([cp, ...(EXTRA_FOLD[cp] ?? [])]);
  for (const v of [c.toLowerCase(), c.toUpperCase()]) if ([...v].length === 1) out.add(v.codePointAt(0)!);
  return [...out];
}

/** Ranges with their case variants added: ASCII letters by range, the rest point by point (small ranges). */
function fold(ranges: readonly Range[]): Range[] {
  const out: Range[] = [...ranges];
  for (const [lo, hi] of ranges) {
    for (const [a, b, shift] of [[0x41, 0x5a, 32], [0x61, 0x7a, -32]] as const) {
      const l = Math.max(lo, a);
      const h = Math.min(hi, b);
      if (l <= h) out.push([l + shift, h + shift]);
    }
    if (hi - lo > 2048) continue;
    for (let cp = Math.max(lo, 0x80); cp <= hi; cp++) for (const v of variants(cp)) if (v !== cp) out.push([v, v]);
    for (const cp of [0x4b, 0x53, 0x6b, 0x73]) if (cp >= lo && cp <= hi) for (const v of EXTRA_FOLD[cp]!) out.push([v, v]);
  }
  return normalize(out);
}

export function translateRe2(re: string): Re2Translation {
  try {
    // `\p` classes need the `u` flag; everything else is written for no flags at all.
    const unicode = /\\[pP]/.test(re);
    return { ok: true, source: new Translator(re, unicode).run(), flags: unicode ? 'u' : '' };
  } catch (e) {
    if (e instanceof Re2Error) return { ok: false, error: e.message };
    throw e;
  }
}
class Translator {
  readonly #cp: string[];
  readonly #unicode: boolean;
  #i = 0;

  constructor(re: string, unicode: boolean) {
    this.#cp = Array.from(re);
    this.#unicode = unicode;
  }

  #peek(k = 0): string | undefined {
    return this.#cp[this.#i + k];
  }

  /** One code point as source text, valid inside and outside a class, with or without `u`. */
  #lit(cp: number): string {
    if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) return String.fromCodePoint(cp);
    if (this.#unicode) return `\\u{${cp.toString(16)}}`;
    if (cp < 0x100) return `\\x${cp.toString(16).padStart(2, '0')}`;
    // Without `u`, an astral code point is its surrogate pair.
    return String.fromCodePoint(cp).split('').map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
  }

  /** A set of code points (plus raw `\p` tokens) as one class. */
  #class(ranges: readonly Range[], raw: readonly string[] = [], negate = false): string {
    const set = normalize(ranges);
    if (raw.length === 0) {
      // Write whichever side is shorter; without `u`, astral code points are out of reach anyway.
      const all = negate ? complement(set) : set;
      if (all.length && all[all.length - 1]![1] === MAX_CP) {
        const rest = complement(all);
        return rest.length ? `[^${this.#ranges(rest)}]` : '[\\s\\S]';
      }
      return `[${this.#ranges(all)}]`;
    }
    return `[${negate ? '^' : ''}${raw.join('')}${this.#ranges(set)}]`;
  }

  #ranges(set: readonly Range[]): string {
    const limit = this.#unicode ? MAX_CP : 0xffff;
    return set.filter(([lo]) => lo <= limit).map(([lo, hi]) => {
      const h = Math.min(hi, limit);
      return lo === h ? this.#lit(lo) : `${this.#lit(lo)}-${this.#lit(h)}`;
    }).join('');
  }

  /** A literal character: under (?i) the class of its case variants. */
  #char(cp: number, flags: Flags): string {
    if (!flags.i) return this.#lit(cp);
    const v = variants(cp);
    return v.length > 1 ? this.#class(v.map((x) => [x, x] as const)) : this.#lit(cp);
  }

  run(): string {
    let out = '';
    let flags: Flags = { i: false, m: false, s: false, U: false };
    const stack: Flags[] = [];
    let canRepeat = false;
    let lastRepeat = '';
    const atom = (x: string) => { out += x; canRepeat = true; lastRepeat = ''; };
    while (this.#i < this.#cp.length) {
      const c = this.#cp[this.#i++]!;
      switch (c) {
        case '(': {
          let open = '(';
          if (this.#peek() === '?') {
            const g = this.#group();
            if (g.kind === 'flags') { flags = g.flags(flags); canRepeat = false; lastRepeat = ''; continue; }
            stack.push(flags);
            if (g.kind === 'group') { open = '(?:'; flags = g.flags(flags); }
          } else stack.push(flags);
          out += open;
          canRepeat = false;
          lastRepeat = '';
          break;
        }
        case ')':
          flags = stack.pop() ?? fail(`unexpected ): \`${this.#cp.join('')}\``);
          atom(')');
          break;
        case '|':
          out += '|';
          canRepeat = false;
          lastRepeat = '';
          break;
        case '*': case '+': case '?': case '{': {
          const q = c === '{' ? this.#braces() : c;
          if (q === undefined) { atom(this.#lit(0x7b)); break; }
          let op = q;
          if (this.#peek() === '?') { this.#i++; op += '?'; }
          if (!canRepeat) fail(`missing argument to repetition operator: \`${op}\``);
          if (lastRepeat) fail(`invalid nested repetition operator: \`${lastRepeat}${op}\``);
          // (?U) swaps greedy and lazy.
          out += q + ((op.length > q.length) !== flags.U ? '?' : '');
          lastRepeat = op;
          break;
        }
        case '^': atom('(?:^)'); break;
        case '$': atom('(?:$)'); break;
        case '.': atom(flags.s ? '[\\s\\S]' : '[^\\n]'); break;
        case '[': atom(this.#bracket(flags)); break;
        case '\\': {
          if (this.#peek() === 'Q') {
            // Go's parser reads \Q...\E as literals, one by one: a quantifier after it takes the last one.
            this.#i++;
            while (this.#i < this.#cp.length && !(this.#peek() === '\\' && this.#peek(1) === 'E')) atom(this.#char(this.#cp[this.#i++]!.codePointAt(0)!, flags));
            if (this.#i < this.#cp.length) this.#i += 2;
            break;
          }
          const e = this.#escape(false);
          atom(typeof e === 'number' ? this.#char(e, flags) : Array.isArray(e) ? this.#class(flags.i ? fold(e) : e) : e);
          break;
        }
        default: atom(this.#char(c.codePointAt(0)!, flags));
      }
    }
    if (stack.length) fail(`missing closing ): \`${this.#cp.join('')}\``);
    return out;
  }

  /** After `(?`: a named group, a flag group `(?flags:`, or flags for the rest of the group `(?flags)`. */
  #group(): { kind: 'named' } | { kind: 'flags' | 'group'; flags: (f: Flags) => Flags } {
    const start = this.#i - 1;
    this.#i++; // '?'
    const rest = this.#cp.slice(this.#i).join('');
    const named = /^P?<([^>]*)>/.exec(rest);
    if (named && !/^<[=!]/.test(rest)) {
      if (!/^[A-Za-z0-9_]+$/.test(named[1]!)) fail(`invalid named capture: \`(?${named[0]}\``);
      this.#i += Array.from(named[0]).length;
      return { kind: 'named' };
    }
    const m = /^([imsU]*)(?:-([imsU]*))?([:)])/.exec(rest);
    if (!m || m[2] === '' || (m[1] === '' && m[2] === undefined && m[3] === ')')) {
      fail(`invalid or unsupported Perl syntax: \`${this.#cp.slice(start, this.#i + 2).join('')}\``);
    }
    this.#i += m![0].length;
    const on = m![1]!;
    const off = m![2] ?? '';
    const apply = (f: Flags): Flags => {
      const g = { ...f };
      for (const k of on) g[k as keyof Flags] = true;
      for (const k of off) g[k as keyof Flags] = false;
      return g;
    };
    return { kind: m![3] === ')' ? 'flags' : 'group', flags: apply };
  }

  /** After `{`: a repeat `{n}`, `{n,}` or `{n,m}`, or undefined when the brace is a literal. */
  #braces(): string | undefined {
    const m = /^(\d+)(,(\d*))?\}/.exec(this.#cp.slice(this.#i).join(''));
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[3] ? Number(m[3]) : undefined;
    if (lo > MAX_REPEAT || (hi !== undefined && (hi > MAX_REPEAT || hi < lo))) fail(`invalid repeat count: \`{${m[0]}\``);
    this.#i += m[0].length;
    return `{${m[0]}`;
  }

  /**
   * An escape after `\`: a code point, a set of ranges (`\d`, `\S`...), or source text for what
   * is neither (`\pL`, `\b`, `\A`, `\z`; only the first inside a class).
   */
  #escape(inClass: boolean): number | Range[] | string {
    const c = this.#cp[this.#i++] ?? fail('trailing backslash at end of expression: ``');
    const bad = () => fail(`invalid escape sequence: \`\\${c}\``);
    if (c >= '0' && c <= '7') {
      // Go: a lone \1-\7 is a backreference (unsupported); \0 or \1\d.. are octal, up to 3 digits.
      if (c !== '0' && !/[0-7]/.test(this.#peek() ?? '')) bad();
      let v = Number(c);
      for (let k = 0; k < 2 && /[0-7]/.test(this.#peek() ?? ''); k++) v = v * 8 + Number(this.#cp[this.#i++]);
      return v;
    }
    if (c === '8' || c === '9') bad();
    if (c === 'x') return this.#hex();
    if (c in CONTROL) return CONTROL[c]!;
    const perl = PERL[c.toLowerCase()];
    if (perl) return c === c.toLowerCase() ? [...perl] : complement(perl);
    if (c === 'p' || c === 'P') return this.#unicodeClass(c === 'P');
    if (!inClass) {
      if (c === 'b' || c === 'B') return `(?:\\${c})`;
      if (c === 'A') return '(?:^)';
      if (c === 'z') return '(?:$)';
    }
    const cp = c.codePointAt(0)!;
    if (cp < 0x80 && !/[A-Za-z0-9]/.test(c)) return cp;
    return bad();
  }

  #hex(): number {
    let digits: string;
    if (this.#peek() === '{') {
      const end = this.#cp.indexOf('}', this.#i);
      digits = end < 0 ? '' : this.#cp.slice(this.#i + 1, end).join('');
      if (!/^[0-9A-Fa-f]{1,8}$/.test(digits) || Number.parseInt(digits, 16) > MAX_CP) fail(`invalid escape sequence: \`\\x${this.#cp.slice(this.#i, end + 1).join('')}\``);
      this.#i = end + 1;
    } else {
      digits = this.#cp.slice(this.#i, this.#i + 2).join('');
      if (!/^[0-9A-Fa-f]{2}$/.test(digits)) fail(`invalid escape sequence: \`\\x${digits}\``);
      this.#i += 2;
    }
    return Number.parseInt(digits, 16);
  }

  /** `\pL`, `\p{Greek}`, `\p{^Greek}`: general categories and scripts, as Go's UnicodeGroups. */
  #unicodeClass(negate: boolean): string {
    let name: string;
    if (this.#peek() === '{') {
      const end = this.#cp.indexOf('}', this.#i);
      if (end < 0) fail(`invalid character class range: \`\\p${this.#cp.slice(this.#i).join('')}\``);
      name = this.#cp.slice(this.#i + 1, end).join('');
      this.#i = end + 1;
    } else {
      name = this.#cp[this.#i++] ?? fail('invalid character class range: `\\p`');
    }
    if (name.startsWith('^')) { negate = !negate; name = name.slice(1); }
    if (name === 'Any') return negate ? '\\P{Any}' : '\\p{Any}';
    const js = `\\${negate ? 'P' : 'p'}{${name.length <= 2 ? name : `Script=${name}`}}`;
    try {
      new RegExp(js, 'u');
    } catch {
      fail(`invalid character class range: \`\\p{${name}}\``);
    }
    return js;
  }

  /** A bracket class, after `[`: a leading `]` is literal, `[:alpha:]` and `[:^alpha:]` are POSIX. */
  #bracket(flags: Flags): string {
    const start = this.#i - 1;
    let negate = false;
    if (this.#peek() === '^') { negate = true; this.#i++; }
    const ranges: Range[] = [];
    const raw: string[] = [];
    let first = true;
    while (this.#peek() !== ']' || first) {
      if (this.#i >= this.#cp.length) fail(`missing closing ]: \`${this.#cp.slice(start).join('')}\``);
      first = false;
      // Go's parseNamedClass: `[:` up to the first `:]` must name a POSIX class.
      const posix = /^\[:(\^?)(.*?):\]/s.exec(this.#cp.slice(this.#i).join(''));
      if (posix) {
        const set = POSIX[posix[2]!] ?? fail(`invalid character class range: \`${posix[0]}\``);
        ranges.push(...(posix[1] === '^' ? complement(set) : set));
        this.#i += posix[0].length;
        continue;
      }
      const from = this.#i;
      const lo = this.#member();
      // Only a character starts a range: after `\d` or `\pL`, a `-` is a literal (Go's PerlX).
      if (typeof lo === 'number' && this.#peek() === '-' && this.#peek(1) !== ']' && this.#peek(1) !== undefined) {
        this.#i++;
        const before = this.#i;
        const hi = this.#member();
        if (typeof hi !== 'number') fail(`invalid escape sequence: \`${this.#cp.slice(before, this.#i).join('')}\``);
        if ((hi as number) < lo) fail(`invalid character class range: \`${this.#cp.slice(from, this.#i).join('')}\``);
        ranges.push([lo, hi as number]);
      } else if (typeof lo === 'number') ranges.push([lo, lo]);
      else if (Array.isArray(lo)) ranges.push(...lo);
      else raw.push(lo);
    }
    this.#i++; // ']'
    return this.#class(flags.i ? fold(ranges) : ranges, raw, negate);
  }

  /** One class member: a code point (which may start a range), a set (`\d`), or a `\p` token. */
  #member(): number | Range[] | string {
    const c = this.#cp[this.#i++]!;
    return c === '\\' ? this.#escape(true) : c.codePointAt(0)!;
  }
}
