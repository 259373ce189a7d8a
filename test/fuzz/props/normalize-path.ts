// Path normalisation (src/policy/normalize-path.ts): what must hold after it, whatever the input,
// and agreement with a reference model written straight from Envoy's and RFC 3986's rules.
import fc from 'fast-check';
import { normalizePath } from '../../../src/policy/normalize-path.ts';
import type { PathNormalization } from '../../../src/policy/normalize-path.ts';
import { cleanPath, disguisedPath, rawPath } from '../../helpers/arbitraries.ts';
import { fuzzProperty } from '../property.ts';

const MODES: readonly PathNormalization[] = ['BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];
const mode = fc.constantFrom(...MODES);

const isHex = (c: string | undefined) => c !== undefined && /^[0-9A-Fa-f]$/.test(c);
const isUnreserved = (c: string) => /^[A-Za-z0-9._~-]$/.test(c);

/** One left-to-right pass over the escapes: which ones decode depends on the mode. */
function decodeOnce(path: string, slashes: boolean): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c === '%' && isHex(path[i + 1]) && isHex(path[i + 2])) {
      const ch = String.fromCharCode(parseInt(path.slice(i + 1, i + 3), 16));
      out += isUnreserved(ch) || (slashes && (ch === '/' || ch === '\\')) ? ch : `%${path.slice(i + 1, i + 3).toUpperCase()}`;
      i += 2;
    } else out += c;
  }
  return out;
}

/** RFC 3986 §5.2.4 remove_dot_segments, the input-buffer loop exactly as the RFC writes it. */
function removeDotSegments(input: string): string {
  let inp = input;
  let out = '';
  while (inp.length > 0) {
    if (inp.startsWith('../')) inp = inp.slice(3);
    else if (inp.startsWith('./')) inp = inp.slice(2);
    else if (inp.startsWith('/./')) inp = inp.slice(2);
    else if (inp === '/.') inp = '/';
    else if (inp.startsWith('/../') || inp === '/..') {
      inp = `/${inp.slice(inp === '/..' ? 3 : 4)}`;
      out = out.slice(0, Math.max(0, out.lastIndexOf('/')));
    } else if (inp === '.' || inp === '..') inp = '';
    else {
      const next = inp.indexOf('/', inp.startsWith('/') ? 1 : 0);
      const seg = next < 0 ? inp : inp.slice(0, next);
      out += seg;
      inp = next < 0 ? '' : inp.slice(next);
    }
  }
  return out;
}

/**
 * Envoy's normalize_path (+ merge_slashes, + the %2F/%5C decoding of DECODE_AND_MERGE_SLASHES), in
 * the obvious order: the path is everything before the first "?" or "#", escapes decode until none
 * is left to decode (a stray "%" must not let "%%32%65" turn into a "%2e" that survives), "\" is
 * "/", a leading "/" is added, dot segments go, then repeated slashes merge. An escaped NUL is refused
 * (a raw one never gets here: Node's HTTP/1 and HTTP/2 parsers refuse it).
 */
export function referenceNormalize(raw: string, m: PathNormalization): { ok: true; path: string } | { ok: false } {
  const q = raw.search(/[?#]/);
  let path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q);
  for (let prev = ''; prev !== path;) {
    prev = path;
    path = decodeOnce(path, m === 'DECODE_AND_MERGE_SLASHES');
  }
  if (/%00/.test(path)) return { ok: false };
  path = path.replace(/\\/g, '/');
  if (!path.startsWith('/')) path = `/${path}`;
  path = removeDotSegments(path);
  if (m !== 'BASE') path = path.replace(/\/{2,}/g, '/');
  return { ok: true, path: (path === '' ? '/' : path) + query };
}

const pathPart = (p: string) => {
  const q = p.search(/[?#]/);
  return q < 0 ? p : p.slice(0, q);
};

export const properties = [
  fuzzProperty('normalize-path: a disguised path (escapes, backslashes, dot detours) normalises to the clean one', fc.property(
    cleanPath.chain((clean) => fc.tuple(fc.constant(clean), disguisedPath(clean))), fc.constantFrom<PathNormalization>('BASE', 'MERGE_SLASHES'),
    ([clean, disguised], m) => {
      const got = normalizePath(disguised, m);
      if (!got.ok || got.path !== clean) throw new Error(`${JSON.stringify(disguised)} normalised to ${JSON.stringify(got)}, not ${clean}`);
    },
  )),
  fuzzProperty('normalize-path: agrees with the reference model of Envoy\'s rules', fc.property(rawPath, mode, (raw, m) => {
    const got = normalizePath(raw, m);
    const want = referenceNormalize(raw, m);
    if (got.ok !== want.ok || (got.ok && want.ok && got.path !== want.path)) throw new Error(`got ${JSON.stringify(got)}, reference ${JSON.stringify(want)}`);
  })),
  fuzzProperty('normalize-path: idempotent', fc.property(rawPath, mode, (raw, m) => {
    const once = normalizePath(raw, m);
    if (!once.ok) return;
    const twice = normalizePath(once.path, m);
    if (!twice.ok || twice.path !== once.path) throw new Error(`${JSON.stringify(once.path)} normalises again to ${JSON.stringify(twice)}`);
  })),
  fuzzProperty('normalize-path: starts with "/", and no dot segment, backslash, %00 or decodable escape survives', fc.property(rawPath, mode, (raw, m) => {
    const r = normalizePath(raw, m);
    if (!r.ok) return;
    const p = pathPart(r.path);
    const bad = (why: string) => new Error(`${why}: ${JSON.stringify(r.path)}`);
    if (!p.startsWith('/')) throw bad('no leading /');
    if (p.split('/').some((s) => s === '.' || s === '..')) throw bad('a dot segment');
    if (p.includes('\\')) throw bad('a backslash');
    for (const [, hex] of p.matchAll(/%([0-9A-Fa-f]{2})/g)) {
      const ch = String.fromCharCode(parseInt(hex, 16));
      if (isUnreserved(ch) || ch === '\0') throw bad(`an escape of ${JSON.stringify(ch)}`);
      if (m === 'DECODE_AND_MERGE_SLASHES' && (ch === '/' || ch === '\\')) throw bad('an encoded slash');
      if (hex !== hex.toUpperCase()) throw bad('a lower-case escape');
    }
    if (m !== 'BASE' && p.includes('//')) throw bad('a repeated slash');
  })),
  fuzzProperty('normalize-path: the query is kept verbatim; NONE changes nothing', fc.property(rawPath, mode, (raw, m) => {
    const r = normalizePath(raw, m);
    const q = raw.search(/[?#]/);
    if (r.ok && q >= 0 && !r.path.endsWith(raw.slice(q))) throw new Error(`query lost: ${JSON.stringify(r.path)}`);
    const none = normalizePath(raw, 'NONE');
    if (!none.ok || none.path !== raw) throw new Error('NONE changed the path');
  })),
];
