// Scalars for the YAML fast path (yaml-fast.ts): plain scalars resolved as kubectl resolves them
// (go-yaml v2's resolve.go, see yaml-schema.ts), and double-quoted escapes, exactly as the `yaml`
// package reads them with KUBECTL_YAML (test/config/yaml-fast.test.ts, yaml-kubectl.test.ts).
// Written the way go-yaml works (first character, table, then Go's number parsers), not from
// yaml-schema.ts's patterns, so the property tests compare two readings.

/** go-yaml's resolveMap: the only values that a letter, `~` or `.` can start besides strings and floats. */
const TABLE = new Map<string, unknown>();
for (const [value, words] of [
  [true, 'y Y yes Yes YES true True TRUE on On ON'],
  [false, 'n N no No NO false False FALSE off Off OFF'],
  [null, '~ null Null NULL'],
  [NaN, '.nan .NaN .NAN'],
  [Number.POSITIVE_INFINITY, '.inf .Inf .INF +.inf +.Inf +.INF'],
  [Number.NEGATIVE_INFINITY, '-.inf -.Inf -.INF'],
] as const) {
  for (const w of words.split(' ')) TABLE.set(w, value);
}
/** First characters of TABLE's words that are letters (go-yaml's 'M' class). */
const TABLE_LETTERS = 'yYnNtTfFoO';

/** A plain scalar's value: null, boolean, number or the string itself. */
export function resolvePlain(v: string): unknown {
  if (v === '') return null;
  const c = v.charCodeAt(0);
  const digitOrSign = (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d;
  if (!digitOrSign && c !== 0x2e && c !== 0x7e && !TABLE_LETTERS.includes(v[0]!)) return v;
  if (TABLE.has(v)) return TABLE.get(v);
  if (c === 0x2e) return goParseFloat(v) ?? v;
  return digitOrSign ? goNumber(v) : v;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const DECIMAL_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;

/** resolve.go's case 'D', 'S': underscores dropped, then ParseInt/ParseUint base 0, float, 0b. */
function goNumber(v: string): unknown {
  const plain = v.includes('_') ? v.replaceAll('_', '') : v;
  const int = goParseInt(plain);
  if (int !== undefined) {
    const unsigned = plain[0] !== '-' && plain[0] !== '+';
    if ((int >= INT64_MIN && int <= INT64_MAX) || (unsigned && int <= UINT64_MAX)) return Number(int);
  }
  if (DECIMAL_FLOAT.test(plain)) {
    const f = goParseFloat(plain);
    if (f !== undefined) return f;
  }
  if (plain.startsWith('0b')) {
    // strconv.ParseInt(plain[2:], 2, 64), which takes a sign of its own.
    const rest = plain.slice(2);
    const sign = rest[0] === '-' || rest[0] === '+' ? rest[0] : '';
    const bits = rest.slice(sign.length);
    if (bits !== '' && !/[^01]/.test(bits)) {
      const n = BigInt(`0b${bits}`) * (sign === '-' ? -1n : 1n);
      if (n >= INT64_MIN && n <= INT64_MAX) return Number(n);
    }
  }
  // Past 64 bits go-yaml makes a big.Int of a hex, octal or binary form, which kubectl gives back
  // as the string (measured: 0xFFFFFFFFFFFFFFFFFF).
  return v;
}

/** strconv.ParseInt(s, 0, ...) syntax, without its range: the value, or undefined. */
function goParseInt(s: string): bigint | undefined {
  let i = 0;
  const neg = s[0] === '-';
  if (neg || s[0] === '+') i = 1;
  let base = 10;
  if (s[i] === '0') {
    const p = s[i + 1];
    if (p === 'x' || p === 'X') base = 16;
    else if (p === 'o' || p === 'O') base = 8;
    else if (p === 'b' || p === 'B') base = 2;
    if (base !== 10) i += 2;
    else if (p !== undefined) {
      base = 8; // a leading 0
      i += 1;
    }
  }
  const digits = s.slice(i);
  if (digits === '') return undefined;
  for (const ch of digits) {
    const d = parseInt(ch, 16);
    if (Number.isNaN(d) || d >= base || (base !== 16 && !(ch >= '0' && ch <= '9'))) return undefined;
  }
  const prefix = base === 16 ? '0x' : base === 8 ? '0o' : base === 2 ? '0b' : '';
  const n = BigInt(prefix + digits);
  return neg ? -n : n;
}

/** strconv.ParseFloat for decimal text (underscores only between digits): finite value or undefined. */
function goParseFloat(s: string): number | undefined {
  if (s.includes('_') && /(?:^|[^0-9])_|_(?:[^0-9]|$)/.test(s)) return undefined;
  const plain = s.replaceAll('_', '');
  if (!DECIMAL_FLOAT.test(plain)) return undefined;
  const f = parseFloat(plain);
  return Number.isFinite(f) ? f : undefined;
}

// yaml's table (compose/resolve-flow-scalar.js), without the line-folding and tab ones.
const ESCAPES: Record<string, string> = {
  '0': '\0', a: '\x07', b: '\b', e: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
  N: '\u0085', _: '\u00a0', L: '\u2028', P: '\u2029', ' ': ' ', '"': '"', '/': '/', '\\': '\\',
};
const HEX_LENGTH: Record<string, number> = { x: 2, u: 4, U: 8 };

/** The double-quoted escape at `i` (its backslash) as yaml reads it, or undefined where yaml would complain. */
export function escapeAt(s: string, i: number): { text: string; length: number } | undefined {
  const e = s[i + 1]!;
  if (Object.hasOwn(ESCAPES, e)) return { text: ESCAPES[e]!, length: 2 };
  const length = Object.hasOwn(HEX_LENGTH, e) ? HEX_LENGTH[e]! : 0;
  const hex = s.slice(i + 2, i + 2 + length);
  if (length === 0 || hex.length !== length || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  const code = parseInt(hex, 16);
  if (code > 0x10ffff) return undefined;
  return { text: String.fromCodePoint(code), length: 2 + length };
}
