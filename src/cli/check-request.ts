// One request for `egressway check`, as flags or as a JSON line of `check --requests`, checked and
// turned into what the waypoint would see. The URL is split by hand (splitAbsolute, as the listener
// splits an absolute-form target) and never by WHATWG URL, which would resolve `/./`, turn `\` into
// `/` and so hide what the waypoint's own pathNormalization does with the raw path.
import { isIP } from 'node:net';
import { parseAuthority, splitAbsolute } from '../dataplane/authority.ts';
import { parseAnySpiffe } from '../model/identity.ts';

/** The request as given: every field of a JSON line (flags map onto the same names). */
export interface RequestSpec {
  readonly url?: unknown;
  readonly method?: unknown;
  /** {"name": "value"} or ["name: value", ...] (the -H form). */
  readonly headers?: unknown;
  readonly from?: unknown;
  readonly principal?: unknown;
  readonly sourceNamespace?: unknown;
  readonly sourceIp?: unknown;
  readonly destinationIp?: unknown;
  readonly sni?: unknown;
  readonly claims?: unknown;
  readonly requestPrincipal?: unknown;
  /** Batch only: what the line expects, for the exit code. */
  readonly expect?: unknown;
}

export const SPEC_FIELDS: readonly (keyof RequestSpec)[] = ['url', 'method', 'headers', 'from', 'principal', 'sourceNamespace', 'sourceIp', 'destinationIp', 'sni', 'claims', 'requestPrincipal', 'expect'];

/** What the waypoint sees. `kind`: http:// is an HTTP request; https:// a CONNECT tunnel carrying TLS; tcp:// an opaque CONNECT tunnel. */
export interface CheckRequest {
  /** The URL as given. */
  readonly url: string;
  readonly kind: 'http' | 'tls' | 'tcp';
  /** The address the client dialled (routing): lower-case host, and port. */
  readonly host: string;
  readonly port: number;
  /** :authority / Host for HTTP (-H host: wins over the URL's); the CONNECT authority host:port for tunnels. */
  readonly authority: string;
  /** Request target as sent, with its query; '' for tunnels. */
  readonly rawPath: string;
  readonly method: string;
  /** Lower-case names, as Node gives them to the listener (host included for HTTP). */
  readonly headers: Readonly<Record<string, string>>;
  /** source.principal as policies write it (no spiffe://); undefined without a client identity. */
  readonly principal?: string;
  readonly sourceIp: string;
  /** --destination-ip, else the URL's host when it is an IP; else unset, and authzRequest() decides. */
  readonly destinationIp?: string;
  /** --sni, else the host of an https:// URL (what a TLS client sends). */
  readonly sni?: string;
  /** Claims of a token assumed verified (--claims, --request-principal). */
  readonly claims?: Readonly<Record<string, unknown>>;
  readonly expect?: 'allow' | 'deny';
}

export const DEFAULT_SOURCE_IP = '10.0.0.1';

/** How an error names a field: the flag in single mode, the JSON field in batch mode. */
export type FieldName = (field: keyof RequestSpec) => string;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PORTS = { http: 80, https: 443, tcp: 0 } as const;

export function parseRequest(s: RequestSpec, name: FieldName): CheckRequest | { readonly error: string } {
  const bad = (field: keyof RequestSpec, why: string) => ({ error: `${name(field)}: ${why}` });
  if (typeof s.url !== 'string' || s.url === '') return bad('url', 'missing; give http://host[:port]/path, https://host[:port] or tcp://host:port');
  const target = parseUrl(s.url);
  if ('error' in target) return bad('url', target.error);
  const str = (f: keyof RequestSpec): string | undefined | { error: string } =>
    s[f] === undefined ? undefined : typeof s[f] === 'string' ? s[f] as string : bad(f, `must be a string, not ${JSON.stringify(s[f])}`);
  const fields: Partial<Record<keyof RequestSpec, string>> = {};
  for (const f of ['method', 'from', 'principal', 'sourceNamespace', 'sourceIp', 'destinationIp', 'sni', 'requestPrincipal', 'expect'] as const) {
    const v = str(f);
    if (typeof v === 'object') return v;
    if (v !== undefined) fields[f] = v;
  }
  const method = (fields.method ?? 'GET').toUpperCase();
  if (!TOKEN.test(method)) return bad('method', `"${fields.method}" is not an HTTP method`);
  const headers = parseHeaders(s.headers);
  if ('error' in headers) return bad('headers', headers.error);
  const tunnel = target.kind !== 'http';
  if (tunnel && headers.host !== undefined) return bad('headers', 'a CONNECT tunnel has no Host header: the waypoint sees the CONNECT authority (the URL) and, for TLS, the SNI (--sni)');
  if (!tunnel && fields.sni !== undefined) return bad('sni', 'only a tunnel has an SNI: use https://host[:port] (a TLS tunnel) or tcp://host:port');
  const principal = principalOf(fields, name);
  if (typeof principal === 'object') return principal;
  for (const f of ['sourceIp', 'destinationIp'] as const) {
    if (fields[f] !== undefined && isIP(fields[f]) === 0) return bad(f, `"${fields[f]}" is not an IPv4 or IPv6 address`);
  }
  if (fields.sni !== undefined && !/^[A-Za-z0-9._-]+$/.test(fields.sni)) return bad('sni', `"${fields.sni}" is not a DNS name`);
  const claims = claimsOf(s.claims, fields.requestPrincipal, name);
  if (claims && 'error' in claims) return claims as { error: string };
  if (fields.expect !== undefined && fields.expect !== 'allow' && fields.expect !== 'deny') return bad('expect', `"${fields.expect}" must be allow or deny`);
  const authority = tunnel ? `${target.authority}` : headers.host ?? target.authority;
  return {
    url: s.url, kind: target.kind, host: target.host, port: target.port, authority,
    rawPath: tunnel ? '' : target.path, method: tunnel ? 'CONNECT' : method,
    headers: tunnel ? headers : { ...headers, host: authority },
    ...(principal !== undefined ? { principal } : {}),
    sourceIp: fields.sourceIp ?? DEFAULT_SOURCE_IP,
    // destination.ip is the address the client dialled: the URL's when it is an IP (a service VIP).
    ...(fields.destinationIp !== undefined ? { destinationIp: fields.destinationIp } : isIP(target.host) !== 0 ? { destinationIp: target.host } : {}),
    ...(fields.sni !== undefined ? { sni: fields.sni } : target.kind === 'tls' && isIP(target.host) === 0 ? { sni: target.host } : {}),
    ...(claims ? { claims: claims as Record<string, unknown> } : {}),
    ...(fields.expect !== undefined ? { expect: fields.expect as 'allow' | 'deny' } : {}),
  };
}

interface Url { readonly kind: CheckRequest['kind']; readonly host: string; readonly port: number; readonly authority: string; readonly path: string }

function parseUrl(url: string): Url | { error: string } {
  const parts = splitAbsolute(url);
  const scheme = parts?.scheme.toLowerCase();
  if (!parts || (scheme !== 'http' && scheme !== 'https' && scheme !== 'tcp')) {
    return { error: `"${url}" is not http://host[:port]/path, https://host[:port] (a TLS tunnel) or tcp://host:port (an opaque TCP tunnel)` };
  }
  const a = parseAuthority(parts.authority, PORTS[scheme]);
  if (!a || a.port === 0) return { error: `"${parts.authority}" in ${url} is not host:port${scheme === 'tcp' ? ' (tcp:// needs the port)' : ''}` };
  const kind = scheme === 'http' ? 'http' : scheme === 'https' ? 'tls' : 'tcp';
  // A tunnel's authority is what the client puts in CONNECT: always host:port.
  const authority = kind === 'http' ? parts.authority : a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
  return { kind, host: a.host, port: a.port, authority, path: parts.path };
}

function parseHeaders(h: unknown): Record<string, string> | { error: string } {
  const out: Record<string, string> = {};
  if (h === undefined) return out;
  const add = (name: string, value: string): string | undefined => {
    const n = name.trim().toLowerCase();
    if (!TOKEN.test(n)) return `"${name}" is not a header name`;
    // Repeated headers reach policies joined with ',', as Node joins them.
    out[n] = out[n] === undefined ? value.trim() : `${out[n]},${value.trim()}`;
    return undefined;
  };
  if (Array.isArray(h)) {
    for (const line of h) {
      const at = typeof line === 'string' ? line.indexOf(':') : -1;
      if (at <= 0) return { error: `${JSON.stringify(line)} is not "name: value"` };
      const e = add((line as string).slice(0, at), (line as string).slice(at + 1));
      if (e) return { error: e };
    }
    return out;
  }
  if (typeof h !== 'object' || h === null) return { error: 'must be {"name": "value"} or ["name: value"]' };
  for (const [k, v] of Object.entries(h)) {
    if (typeof v !== 'string') return { error: `the value of ${k} must be a string` };
    const e = add(k, v);
    if (e) return { error: e };
  }
  return out;
}

/** --from (any SPIFFE ID), --principal (any string) or --source-namespace: one of them at most. */
function principalOf(f: Partial<Record<keyof RequestSpec, string>>, name: FieldName): string | undefined | { error: string } {
  const given = (['from', 'principal', 'sourceNamespace'] as const).filter((k) => f[k] !== undefined);
  if (given.length > 1) {
    return { error: `${given.map(name).join(' and ')}: give one; at the waypoint the source namespace is part of the peer's principal (<trust-domain>/ns/<namespace>/sa/<service-account>)` };
  }
  if (f.from !== undefined) {
    const id = parseAnySpiffe(f.from);
    return id ? id.principal : { error: `${name('from')}: "${f.from}" is not a SPIFFE ID (spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>); for any other principal use ${name('principal')}` };
  }
  if (f.principal !== undefined) {
    return f.principal !== '' ? f.principal.replace(/^spiffe:\/\//, '') : { error: `${name('principal')}: empty; give the principal as policies list it, e.g. example.org/batch/nightly` };
  }
  if (f.sourceNamespace !== undefined) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(f.sourceNamespace)) return { error: `${name('sourceNamespace')}: "${f.sourceNamespace}" is not a namespace name` };
    return `cluster.local/ns/${f.sourceNamespace}/sa/default`;
  }
  return undefined;
}

/** --claims (a JSON object) or --request-principal iss/sub (the same as {"iss": ..., "sub": ...}). */
function claimsOf(claims: unknown, requestPrincipal: string | undefined, name: FieldName): Record<string, unknown> | { error: string } | undefined {
  if (claims !== undefined && requestPrincipal !== undefined) return { error: `${name('claims')} and ${name('requestPrincipal')}: give one (a request principal is the claims iss/sub)` };
  if (requestPrincipal !== undefined) {
    const at = requestPrincipal.lastIndexOf('/');
    if (at <= 0) return { error: `${name('requestPrincipal')}: "${requestPrincipal}" is not <issuer>/<subject>` };
    return { iss: requestPrincipal.slice(0, at), sub: requestPrincipal.slice(at + 1) };
  }
  if (claims === undefined) return undefined;
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return { error: `${name('claims')}: must be a JSON object of claims, e.g. {"iss":"https://issuer.example","sub":"alice","scope":"read write"}` };
  return claims as Record<string, unknown>;
}
