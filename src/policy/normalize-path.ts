// Istio meshConfig pathNormalization (istio.io/latest/docs/reference/config/security/normalization).
// BASE (Istio's default) is Envoy's normalize_path: decode percent-encoded unreserved characters
// (ALPHA, DIGIT, '-', '.', '_', '~'), turn '\' into '/', remove dot segments (RFC 3986 §5.2.4).
// MERGE_SLASHES adds '//' -> '/'; DECODE_AND_MERGE_SLASHES first decodes %2F and %5C. %00 is a 400.
// The listener and `egressway check` both call needsNormalization() and then normalizePath() on the
// raw request target, so they see the same path.
import type { PathNormalization } from '../model/policy.ts';

export type { PathNormalization } from '../model/policy.ts';

export type NormalizedPath = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * Whether normalizePath() could change `raw` (hot path: most paths hold no '%', '\' or dot segment,
 * and skip it). Only a path with '//' can change under the slash-merging modes.
 */
export function needsNormalization(raw: string, mode: PathNormalization = 'BASE'): boolean {
  if (mode === 'NONE') return false;
  return raw.includes('%') || raw.includes('\\') || raw.includes('/.') || (mode !== 'BASE' && raw.includes('//'));
}

export function normalizePath(raw: string, mode: PathNormalization = 'BASE'): NormalizedPath {
  if (mode === 'NONE') return { ok: true, path: raw };
  const q = raw.search(/[?#]/);
  let path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q);
  // Decode until nothing is left to decode: one pass lets a stray "%" and two escapes make a new one
  // ("%%32%65" -> "%2e", "%%30%30" -> "%00"), which would survive as an encoded dot or NUL and make
  // normalisation not idempotent (found by test/fuzz/normalize-path.test.ts).
  for (let prev = ''; prev !== path;) {
    prev = path;
    path = decodeOnce(path, mode);
  }
  if (/%00/.test(path)) return { ok: false, reason: 'path contains %00' };
  path = path.replace(/\\/g, '/');
  // Dot segments are removed from an absolute path (RFC 3986 §5.2.4): "a/../b" is "/b", not "/a/b".
  path = removeDotSegments(path.startsWith('/') ? path : `/${path}`);
  if (mode !== 'BASE') path = path.replace(/\/{2,}/g, '/');
  return { ok: true, path: (path.startsWith('/') ? path : `/${path}`) + query };
}

function decodeOnce(path: string, mode: PathNormalization): string {
  const p = mode === 'DECODE_AND_MERGE_SLASHES' ? path.replace(/%2f/gi, '/').replace(/%5c/gi, '\\') : path;
  return p.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
  });
}

function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segs = path.split('/');
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    const last = i === segs.length - 1;
    if (s === '.' || s === '..') {
      if (s === '..' && out.length > 1) out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(s);
  }
  return out.join('/');
}
