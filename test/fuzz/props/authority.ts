// host[:port] parsing (src/dataplane/authority.ts) against a regex reference model, plus round trips.
import fc from 'fast-check';
import { formatAuthority, parseAuthority, splitAbsolute } from '../../../src/dataplane/authority.ts';
import { authorityText, hostName, port, rawPath, tokens } from '../../helpers/arbitraries.ts';
import { fuzzProperty } from '../property.ts';

/**
 * The rules, written the slow and obvious way: String#toLowerCase first (so U+212A KELVIN SIGN is a
 * "k"), then a reg-name `[a-z0-9._-]+` or a bracketed `[0-9a-f:.]+`, then ":" and 0-5 digits (none:
 * the default port) in 1..65535; one trailing FQDN dot is dropped and the host must stay non-empty.
 */
export function referenceAuthority(raw: string | undefined, defaultPort: number): { host: string; port: number } | undefined {
  if (!raw) return undefined;
  const s = raw.toLowerCase();
  const m = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9._-]+))(?::([0-9]{0,5}))?$/.exec(s);
  if (!m) return undefined;
  let host = m[1] ?? m[2];
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '') return undefined;
  if (!m[3]) return { host, port: defaultPort };
  const p = Number(m[3]);
  return p >= 1 && p <= 65535 ? { host, port: p } : undefined;
}

const defaultPort = fc.constantFrom(80, 443, 0);

export const properties = [
  fuzzProperty('authority: parseAuthority agrees with the reference model', fc.property(authorityText, defaultPort, (raw, dp) => {
    const got = parseAuthority(raw, dp);
    const want = referenceAuthority(raw, dp);
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`got ${JSON.stringify(got)}, reference ${JSON.stringify(want)}`);
  })),
  fuzzProperty('authority: a parsed host is lower-case ASCII, without brackets, and its port is in range', fc.property(authorityText, defaultPort, (raw, dp) => {
    const a = parseAuthority(raw, dp);
    if (!a) return;
    if (!/^[a-z0-9._:-]+$/.test(a.host)) throw new Error(`host ${JSON.stringify(a.host)}`);
    if (a.port !== dp && !(a.port >= 1 && a.port <= 65535)) throw new Error(`port ${a.port}`);
  })),
  fuzzProperty('authority: formatAuthority then parseAuthority gives the host and port back', fc.property(hostName, port, (host, p) => {
    const a = parseAuthority(host, 80);
    // Only hosts that parse on their own, and not the ".." corner (its FQDN dot leaves ".", which
    // alone is no host): see the report of the fuzz branch.
    fc.pre(a !== undefined && a.host === host && !host.endsWith('.'));
    const back = parseAuthority(formatAuthority(host, p), 80);
    if (back?.host !== host || back.port !== p) throw new Error(`got ${JSON.stringify(back)}`);
  })),
  fuzzProperty('authority: splitAbsolute takes scheme://authority/path?query#fragment apart', fc.property(
    fc.constantFrom('http', 'HTTP', 'https', 'ws', 'x'),
    tokens(['a', 'b', '.', ':', '80', '[', ']', '-'], 6),
    rawPath.map((p) => p.replace(/[#]/g, '')),
    fc.option(tokens(['a', '#', '?', '/', '=', '@'], 5), { nil: undefined }),
    (scheme, authority, path, fragment) => {
      const pathPart = path === '' || path.startsWith('/') || path.startsWith('?') ? path : `/${path}`;
      const target = `${scheme}://${authority}${pathPart}${fragment === undefined ? '' : `#${fragment}`}`;
      const s = splitAbsolute(target);
      if (!s) throw new Error(`refused ${target}`);
      const wantPath = pathPart === '' ? '/' : pathPart.startsWith('?') ? `/${pathPart}` : pathPart;
      if (s.scheme !== scheme.toLowerCase() || s.authority !== authority || s.path !== wantPath) throw new Error(`got ${JSON.stringify(s)} for ${target}`);
    },
  )),
  fuzzProperty('authority: splitAbsolute never returns userinfo, a fragment, or a path without a leading "/"', fc.property(fc.string({ unit: 'binary', maxLength: 40 }).map((s) => `http://${s}`), (target) => {
    const s = splitAbsolute(target);
    if (!s) return;
    if (/[/?#@]/.test(s.authority) || s.path.includes('#') || !s.path.startsWith('/')) throw new Error(`got ${JSON.stringify(s)}`);
  })),
];
