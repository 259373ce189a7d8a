// Scalars for the YAML fast path (yaml-fast.ts): plain scalars resolved by the YAML 1.2 core schema
// and double-quoted escapes, exactly as the `yaml` package reads them (test/config/yaml-fast.test.ts).

// YAML 1.2 core schema, as yaml's schema/core/*.js and schema/common/null.js test and resolve
// plain scalars, in the same order.
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/** A plain scalar's value: null, boolean, number or the string itself, by the first tag that matches. */
export function resolvePlain(v: string): unknown {
  const c = v.charCodeAt(0) | 0x20; // lower case for letters
  // Most values start with a letter that no tag's pattern starts with.
  if (c >= 0x61 && c <= 0x7a && c !== 0x6e && c !== 0x74 && c !== 0x66) return v; // not n, t, f
  if (NULL.test(v)) return null;
  if (BOOL.test(v)) return v[0] === 't' || v[0] === 'T';
  if (INT_OCT.test(v)) return parseInt(v.substring(2), 8);
  if (INT.test(v)) return parseInt(v, 10);
  if (INT_HEX.test(v)) return parseInt(v.substring(2), 16);
  if (FLOAT_NAN.test(v)) return v.slice(-3).toLowerCase() === 'nan' ? NaN : v[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (FLOAT_EXP.test(v)) return parseFloat(v);
  if (FLOAT.test(v)) return parseFloat(v);
  return v;
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
