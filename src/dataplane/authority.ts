// host[:port] parsing for request targets, Host headers and CONNECT authorities. Hand-written
// because WHATWG URL parsing per request costs ~1µs and normalises in ways a proxy must not
// (it would accept "a b" hosts after percent-decoding, for one).

export interface Authority {
  /** Lower-case host; IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
}

// RFC 3986 reg-name / IPv4 characters; anything else in a host is refused.
const HOST_RE = /^[a-z0-9._-]+$/;
const V6_RE = /^[0-9a-f:.]+$/;

export function parseAuthority(raw: string | undefined, defaultPort: number): Authority | undefined {
  if (!raw) return undefined;
  const s = raw.toLowerCase();
  let host: string;
  let portStr: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return undefined;
    host = s.slice(1, end);
    if (!V6_RE.test(host)) return undefined;
    const rest = s.slice(end + 1);
    if (rest && !rest.startsWith(':')) return undefined;
    portStr = rest ? rest.slice(1) : undefined;
  } else {
    const colon = s.lastIndexOf(':');
    host = colon >= 0 ? s.slice(0, colon) : s;
    portStr = colon >= 0 ? s.slice(colon + 1) : undefined;
    if (!HOST_RE.test(host)) return undefined;
  }
  if (host.endsWith('.')) host = host.slice(0, -1); // FQDN dot: httpbin.org. == httpbin.org
  const port = portStr === undefined || portStr === '' ? defaultPort : toPort(portStr);
  return port === undefined || !host ? undefined : { host, port };
}

function toPort(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

export function formatAuthority(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Splits an absolute-form target `http://host[:port]/path?q` without a URL object. */
export function splitAbsolute(target: string): { scheme: string; authority: string; path: string } | undefined {
  const sep = target.indexOf('://');
  if (sep <= 0) return undefined;
  const scheme = target.slice(0, sep).toLowerCase();
  const rest = target.slice(sep + 3);
  let end = rest.length;
  for (const c of ['/', '?', '#']) {
    const i = rest.indexOf(c);
    if (i >= 0 && i < end) end = i;
  }
  const authority = rest.slice(0, end);
  if (authority.includes('@')) return undefined; // userinfo in a proxy target is refused (RFC 9110 §4.2.4)
  let path = rest.slice(end);
  const hash = path.indexOf('#');
  if (hash >= 0) path = path.slice(0, hash);
  if (!path.startsWith('/')) path = path.startsWith('?') ? `/${path}` : '/';
  return { scheme, authority, path };
}
