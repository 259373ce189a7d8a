// Istio meshConfig pathNormalization (istio.io/latest/docs/reference/config/security/normalization).
// BASE (Istio's default) is Envoy's normalize_path: decode percent-encoded unreserved characters
// (ALPHA, DIGIT, '-', '.', '_', '~'), turn '\' into '/', remove dot segments (RFC 3986 §5.2.4).
// MERGE_SLASHES adds '//' -> '/'; DECODE_AND_MERGE_SLASHES first decodes %2F and %5C. %00 is a 400.
export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

export type NormalizedPath = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

export function normalizePath(raw: string, mode: PathNormalization = 'BASE'): NormalizedPath {
  if (mode === 'NONE') return { ok: true, path: raw };
  const q = raw.search(/[?#]/);
  let path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q);
  if (/%00/.test(path)) return { ok: false, reason: 'path contains %00' };
  if (mode === 'DECODE_AND_MERGE_SLASHES') path = path.replace(/%2f/gi, '/').replace(/%5c/gi, '\\');
  path = path.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
  });
  path = path.replace(/\\/g, '/');
  // Absolute first, so that `..` can never climb above the root: "a/.." is "/", not "/a/".
  if (!path.startsWith('/')) path = `/${path}`;
  path = removeDotSegments(path);
  if (mode !== 'BASE') path = path.replace(/\/{2,}/g, '/');
  return { ok: true, path: path + query };
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
