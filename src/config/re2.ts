// RE2 (Envoy's safe_regex, Go's regexp as istiod validates) translated to a JS RegExp source for
// the `v` flag, once per snapshot. JS and RE2 differ where a plain `new RegExp(re)` would silently
// disagree: `.` (RE2 excludes only \n), `\s` (ASCII only), `\z` / `\A`, inline flags `(?i)` / `(?s)`
// / `(?m)` / `(?U)` that apply to the rest of the group, `(?P<name>`, `\Q...\E`, POSIX classes
// `[[:alpha:]]`, `\pL` / `\p{Greek}`, octal escapes, and a leading `]` in a class. What Go refuses
// (lookaround, backreferences, `\e`, `a**`, `{1001}`...) is refused with Go's wording. Groups keep
// their numbers, so `\1` in a uriRegexRewrite still names the same group.

export type Re2Translation = { readonly ok: true; readonly source: string } | { readonly ok: false; readonly error: string };

interface Flags { i: boolean; m: boolean; s: boolean; U: boolean }
type Range = readonly [number, number];

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

class Re2Error extends Error {}
const fail = (msg: string): never => { throw new Re2Error(`error parsing regexp: ${msg}`); };

/** One code point as a JS source atom, valid inside and outside a `v`-mode class. */
const lit = (cp: number): string => (/[A-Za-z0-9]/.test(String.fromCodePoint(cp)) ? String.fromCodePoint(cp) : `\\u{${cp.toString(16)}}`);
const cls = (ranges: readonly Range[], negate = false): string =>
  `[${negate ? '^' : ''}${ranges.map(([a, b]) => (a === b ? lit(a) : `${lit(a)}-${lit(b)}`)).join('')}]`;

export function translateRe2(re: string): Re2Translation {
  try {
    return { ok: true, source: new Translator(re).run() };
  } catch (e) {
    if (e instanceof Re2Error) return { ok: false, error: e.message };
    throw e;
  }
}

class Translator {
  readonly #cp: string[];
  #i = 0;

  constructor(re: string) {
    this.#cp = Array.from(re);
  }

  #peek(k = 0): string | undefined {
    return this.#cp[this.#i + k];
  }

  run(): string {
    let out = '';
    let flags: Flags = { i: false, m: false, s: false, U: false };
    // Per open group: the flags to restore at `)`, the `i` the group started with, and how many
    // `(?i:` wrappers a mid-group `(?i)` opened (closed at `|` and `)`, reopened after `|`).
    const stack: { flags: Flags; baseI: boolean; extra: number }[] = [];
    let baseI = false;
    let extra = 0;
    let canRepeat = false;
    let lastRepeat = '';
    const atom = (s: string) => { out += s; canRepeat = true; lastRepeat = ''; };
    while (this.#i < this.#cp.length) {
      const c = this.#cp[this.#i++]!;
      switch (c) {
        case '(': {
          if (this.#peek() !== '?') {
            stack.push({ flags, baseI, extra });
            out += '(';
          } else {
            const g = this.#group();
            if (g.kind === 'flags') {
              const before = flags.i;
              flags = g.flags(flags);
              if (flags.i !== before) { out += flags.i ? '(?i:' : '(?-i:'; extra++; }
              canRepeat = false;
              lastRepeat = '';
              continue;
            }
            stack.push({ flags, baseI, extra });
            if (g.kind === 'named') out += '(';
            else {
              const inner = g.flags(flags);
              out += inner.i === flags.i ? '(?:' : inner.i ? '(?i:' : '(?-i:';
              flags = inner;
            }
          }
          baseI = flags.i;
          extra = 0;
          canRepeat = false;
          lastRepeat = '';
          break;
        }
        case ')': {
          const top = stack.pop() ?? fail('unexpected ): `' + this.#cp.join('') + '`');
          out += ')'.repeat(extra + 1);
          ({ flags, baseI, extra } = top);
          canRepeat = true;
          lastRepeat = '';
          break;
        }
        case '|':
          out += `${')'.repeat(extra)}|`;
          extra = flags.i === baseI ? 0 : 1;
          if (extra) out += flags.i ? '(?i:' : '(?-i:';
          canRepeat = false;
          lastRepeat = '';
          break;
        case '*': case '+': case '?': case '{': {
          const q = c === '{' ? this.#braces() : c;
          if (q === undefined) { atom(lit(0x7b)); break; }
          let op = q;
          if (this.#peek() === '?') { this.#i++; op += '?'; }
          if (!canRepeat) fail(`missing argument to repetition operator: \`${op}\``);
          if (lastRepeat) fail(`invalid nested repetition operator: \`${lastRepeat}${op}\``);
          const lazy = (op.length > q.length) !== flags.U;
          out += q + (lazy ? '?' : '');
          lastRepeat = op;
          break;
        }
        case '^': atom(flags.m ? '(?:^|(?<=\\n))' : '(?:^)'); break;
        case '$': atom(flags.m ? '(?:$|(?=\\n))' : '(?:$)'); break;
        case '.': atom(flags.s ? '[\\s\\S]' : '[^\\n]'); break;
        case '[': atom(this.#class()); break;
        case '\\': atom(this.#escape(false)); break;
        default: atom(lit(c.codePointAt(0)!));
      }
    }
    if (stack.length) fail(`missing closing ): \`${this.#cp.join('')}\``);
    return out + ')'.repeat(extra);
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
    if (!m || (m[2] !== undefined && m[2] === '') || (m[1] === '' && m[2] === undefined && m[3] === ')')) {
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

  /** An escape after `\`: JS source for an atom (outside a class) or a class item (inside). */
  #escape(inClass: boolean): string {
    const c = this.#cp[this.#i++] ?? fail('trailing backslash at end of expression: ``');
    const bad = () => fail(`invalid escape sequence: \`\\${c}\``);
    if (c >= '0' && c <= '7') {
      // Go: a lone \1-\7 is a backreference (unsupported); \0 or \1\d.. are octal, up to 3 digits.
      if (c !== '0' && !/[0-7]/.test(this.#peek() ?? '')) bad();
      let v = Number(c);
      for (let k = 0; k < 2 && /[0-7]/.test(this.#peek() ?? ''); k++) v = v * 8 + Number(this.#cp[this.#i++]);
      return lit(v);
    }
    if (c === '8' || c === '9') bad();
    if (c === 'x') return lit(this.#hex());
    if (c in CONTROL) return lit(CONTROL[c]!);
    const perl = PERL[c.toLowerCase()];
    if (perl) return cls(perl, c !== c.toLowerCase());
    if (c === 'p' || c === 'P') return this.#unicodeClass(c === 'P');
    if (!inClass) {
      if (c === 'b' || c === 'B') return `(?:\\${c})`;
      if (c === 'A') return '(?:^)';
      if (c === 'z') return '(?:$)';
      if (c === 'Q') return this.#quoted();
    }
    const cp = c.codePointAt(0)!;
    if (cp < 0x80 && !/[A-Za-z0-9]/.test(c)) return lit(cp);
    return bad();
  }

  #hex(): number {
    let digits: string;
    if (this.#peek() === '{') {
      const end = this.#cp.indexOf('}', this.#i);
      digits = end < 0 ? '' : this.#cp.slice(this.#i + 1, end).join('');
      if (!/^[0-9A-Fa-f]{1,8}$/.test(digits) || Number.parseInt(digits, 16) > 0x10ffff) fail(`invalid escape sequence: \`\\x${this.#cp.slice(this.#i, end + 1).join('')}\``);
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
    if (name === 'Any') return negate ? '[^\\u{0}-\\u{10ffff}]' : '[\\u{0}-\\u{10ffff}]';
    const js = `\\${negate ? 'P' : 'p'}{${name.length <= 2 ? name : `Script=${name}`}}`;
    try {
      new RegExp(js, 'v');
    } catch {
      fail(`invalid character class range: \`\\p{${name}}\``);
    }
    return js;
  }

  /** `\Q...\E`: literal text (to the end when `\E` is missing). */
  #quoted(): string {
    let out = '';
    while (this.#i < this.#cp.length) {
      if (this.#peek() === '\\' && this.#peek(1) === 'E') { this.#i += 2; break; }
      out += lit(this.#cp[this.#i++]!.codePointAt(0)!);
    }
    return `(?:${out})`;
  }

  /** A bracket class, after `[`: a leading `]` is literal, `[:alpha:]` and `[:^alpha:]` are POSIX. */
  #class(): string {
    const start = this.#i - 1;
    const unclosed = () => fail(`missing closing ]: \`${this.#cp.slice(start).join('')}\``);
    let negate = false;
    if (this.#peek() === '^') { negate = true; this.#i++; }
    const items: string[] = [];
    let first = true;
    while (this.#peek() !== ']' || first) {
      if (this.#i >= this.#cp.length) unclosed();
      first = false;
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(this.#cp.slice(this.#i, this.#i + 12).join(''));
      if (posix) {
        const ranges = POSIX[posix[2]!] ?? fail(`invalid character class range: \`${posix[0]}\``);
        items.push(cls(ranges, posix[1] === '^'));
        this.#i += posix[0].length;
        continue;
      }
      const lo = this.#classChar();
      if (this.#peek() === '-' && this.#peek(1) !== ']' && this.#peek(1) !== undefined) {
        this.#i++;
        const hi = this.#classChar();
        if (typeof lo !== 'number' || typeof hi !== 'number' || hi < lo) fail(`invalid character class range: \`${this.#cp.slice(start, this.#i).join('')}\``);
        items.push(`${lit(lo as number)}-${lit(hi as number)}`);
      } else items.push(typeof lo === 'number' ? lit(lo) : lo);
    }
    this.#i++; // ']'
    return `[${negate ? '^' : ''}${items.join('')}]`;
  }

  /** One class member: a code point (may start a range) or a nested class (`\d`, `\pL`). */
  #classChar(): number | string {
    const c = this.#cp[this.#i++]!;
    if (c !== '\\') return c.codePointAt(0)!;
    const next = this.#peek();
    const s = this.#escape(true);
    // Single characters come back as one literal: turn them into a code point for ranges.
    if (next !== undefined && !'dDsSwWpP'.includes(next)) {
      const m = /^\\u\{([0-9a-f]+)\}$/.exec(s);
      if (m) return Number.parseInt(m[1]!, 16);
      if (s.length === 1) return s.codePointAt(0)!;
    }
    return s;
  }
}
