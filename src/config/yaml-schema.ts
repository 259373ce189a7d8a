// How kubectl (and istiod) resolve plain YAML scalars: sigs.k8s.io/yaml, a fork of go-yaml v2, whose
// resolve.go reads YAML 1.1 values: yes/no/on/off/y/n are booleans, 0777 is octal, 0b101 binary,
// underscores vanish from numbers, 08 is the float 8. It has no sexagesimal numbers (1:30 stays a
// string) and gives timestamps back as the strings they were. Egressway reads a file as the API server
// will, so a port written 0443 is 291 here too. Used for every `yaml` library parse and stringify;
// the fast path (yaml-scalars.ts resolvePlain) implements the same rules separately, and
// test/config/yaml-kubectl.test.ts checks both against the real kubectl.
//
// Tags are yaml's own yaml-1.1 ones (null and bool are go-yaml's sets exactly, as is .inf/.nan)
// with the int and float tests replaced by go-yaml's forms, and the sexagesimal and timestamp tags
// dropped. No value import of 'yaml' here: the library is loaded lazily (yaml-lib.ts).
import type { ParseOptions, DocumentOptions, SchemaOptions, ToStringOptions, ScalarTag, Tags } from 'yaml';

const U = '_*';
const BIN = `(?:[01]${U})+`;
// go-yaml strips every `_` from a value starting with a digit or sign, then asks Go's
// strconv.ParseInt(s, 0, 64): an optional sign, then 0x/0o/0b (either case), a leading 0 (octal) or
// decimal. A value starting `0b` that fails is read again as base 2 after the prefix, which accepts
// a sign there (0b-101 is -5).
const INT = new RegExp(
  `^(?:(?:[-+]${U})?(?:0${U}[xX]${U}(?:[0-9a-fA-F]${U})+|0${U}[oO]${U}(?:[0-7]${U})+|0${U}[bB]${U}${BIN}|0${U}(?:[0-7]${U})*|[1-9]${U}(?:[0-9]${U})*)` +
    `|0${U}b${U}[-+]${U}${BIN})$`,
);
// Otherwise go-yaml's own float pattern, again without underscores, sign or digit first.
const MANTISSA = `(?:[0-9]${U})+(?:\\.${U}(?:[0-9]${U})*)?`;
const FLOAT = new RegExp(`^(?:[-+]${U}(?:\\.${U}(?:[0-9]${U})+|${MANTISSA})|${MANTISSA})(?:[eE]${U}(?:[-+]${U})?(?:[0-9]${U})+)?$`);
// A value starting with `.` goes to strconv.ParseFloat as it is: underscores only between digits.
const DOT_FLOAT = /^\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?$/;
// What strconv.ParseFloat is asked after the int forms failed.
const GO_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** An INT match: the number, or the string itself where kubectl keeps one (a non-decimal beyond 64 bits). */
function resolveInt(src: string): number | string {
  const plain = src.replaceAll('_', '');
  if (plain.startsWith('0b') && (plain[2] === '-' || plain[2] === '+')) {
    const n = BigInt(`0b${plain.slice(3)}`) * (plain[2] === '-' ? -1n : 1n);
    if (n >= INT64_MIN && n <= INT64_MAX) return Number(n);
    return src; // ParseUint takes no sign
  }
  const signed = plain[0] === '-' || plain[0] === '+';
  let digits = signed ? plain.slice(1) : plain;
  // A leading 0 is octal in Go; BigInt reads it as decimal.
  if (/^0[0-7]/.test(digits)) digits = `0o${digits.slice(1)}`;
  const n = BigInt(digits) * (plain[0] === '-' ? -1n : 1n);
  if ((n >= INT64_MIN && n <= INT64_MAX) || (!signed && n <= UINT64_MAX)) return Number(n);
  // Beyond 64 bits: decimal digits are read as a float; other forms stay strings in kubectl.
  return GO_FLOAT.test(plain) ? resolveFloat(src) : src;
}

/** A FLOAT or DOT_FLOAT match: the number, or the string itself where Go overflows. */
function resolveFloat(src: string): number | string {
  const f = parseFloat(src.replaceAll('_', ''));
  return Number.isFinite(f) ? f : src;
}

/** go-yaml v2's tags, from yaml's yaml-1.1 schema (passed in as `customTags`). */
export function kubectlTags(base: Tags): Tags {
  const scalar = (t: Tags[number]): ScalarTag | undefined => (typeof t === 'object' && 'test' in t ? (t as ScalarTag) : undefined);
  const nan = base.find((t) => scalar(t)?.test?.test('.nan'));
  const int = base.find((t) => scalar(t)?.tag === 'tag:yaml.org,2002:int' && !scalar(t)!.format);
  const float = base.find((t) => scalar(t)?.tag === 'tag:yaml.org,2002:float' && !scalar(t)!.format && t !== nan);
  if (!nan || !int || !float) throw new Error("yaml's yaml-1.1 schema lacks its int or float tags");
  const kept = base.filter((t) => typeof t === 'string' || !/:(?:int|float|timestamp)$/.test(t.tag));
  return [
    ...kept,
    { ...(int as ScalarTag), test: INT, resolve: resolveInt },
    { ...(float as ScalarTag), test: FLOAT, resolve: resolveFloat },
    { ...(float as ScalarTag), test: DOT_FLOAT, resolve: resolveFloat },
    nan,
  ];
}

/** The options every parse and stringify of a Kubernetes or mesh config file uses. */
export const KUBECTL_YAML: ParseOptions & DocumentOptions & SchemaOptions & ToStringOptions = {
  schema: 'yaml-1.1',
  customTags: kubectlTags,
  // `<<: *anchor` as kubectl reads it.
  merge: true,
};
