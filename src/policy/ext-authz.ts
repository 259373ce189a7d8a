// CUSTOM action: one call to an envoyExtAuthzHttp provider, with Envoy's ext_authz HTTP semantics.
// The check request carries the original method, pathPrefix + path, Host and the selected client
// headers, no body (content-length 0). 200 allows (copying headersToUpstreamOnAllow onto the request);
// any other status denies with the server's status, body and headersToDownstreamOnDeny; an unreachable
// or slow server is an error, which denies with statusOnError (403) unless failOpen.
import type { ExtAuthzHttpProvider } from '../model/authn.ts';
import type { StringMatcher } from '../model/policy.ts';
import { matchString } from './match.ts';
import { loadUndici } from './undici-lazy.ts';
import type { HeaderEdits } from './request.ts';

export interface ExtAuthzCheck {
  readonly method: string;
  /** The path as it goes upstream (normalised), with its query. */
  readonly path: string;
  readonly host: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export type ExtAuthzResult =
  | { readonly kind: 'allow'; readonly upstream: HeaderEdits }
  | { readonly kind: 'deny'; readonly status: number; readonly body: string; readonly headers: readonly (readonly [string, string])[] }
  /** `code`: 'timeout', or the socket or undici error code (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET, ...). */
  | { readonly kind: 'error'; readonly reason: string; readonly code?: string };

// Never copied into the check request or back to the client: connection-level or recomputed.
const SKIP = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'expect', 'http2-settings']);
const MAX_BODY = 64 * 1024;
// Envoy's ext_authz HTTP client (ClientConfig::toClientMatchers): a non-empty allowed_client_headers
// list (Istio's headersToDownstreamOnDeny) always gets :status, content-length, www-authenticate and
// location added, so a 401's challenge and a redirect's target reach the client. Status and length
// are the deny reply's own here.
const ALWAYS_ON_DENY: ReadonlySet<string> = new Set(['www-authenticate', 'location']);
// undici's headers and body timers are set to the provider's timeout; its connect timeout (10 s) is not.
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

const matchesAny = (ms: readonly StringMatcher[], name: string) => ms.some((m) => matchString(m, name));

export function checkHeaders(p: ExtAuthzHttpProvider, c: ExtAuthzCheck): Record<string, string> {
  const out: Record<string, string> = { host: c.host, 'content-length': '0' };
  for (const [name, v] of Object.entries(c.headers)) {
    // HTTP/2 pseudo-headers (:method, :path...) are the check request's own method, path and Host.
    if (v === undefined || SKIP.has(name) || name.charCodeAt(0) === 58) continue;
    // Envoy sends every client header when the list is empty, else only the listed ones.
    if (p.includeRequestHeadersInCheck.length > 0 && !matchesAny(p.includeRequestHeadersInCheck, name)) continue;
    out[name] = Array.isArray(v) ? v.join(',') : v;
  }
  for (const [k, v] of Object.entries(p.includeAdditionalHeadersInCheck)) out[k.toLowerCase()] = v;
  return out;
}

export async function checkExtAuthz(p: ExtAuthzHttpProvider, c: ExtAuthzCheck): Promise<ExtAuthzResult> {
  const host = p.host.includes(':') ? `[${p.host}]` : p.host;
  const url = `http://${host}:${p.port}${p.pathPrefix}${c.path}`;
  try {
    const { request } = await loadUndici();
    const res = await request(url, {
      method: c.method as 'GET', headers: checkHeaders(p, c),
      signal: AbortSignal.timeout(p.timeoutMs), headersTimeout: p.timeoutMs, bodyTimeout: p.timeoutMs,
    });
    const body = await readCapped(res.body);
    if (res.statusCode === 200) {
      return {
        kind: 'allow',
        upstream: { remove: [], set: pick(res.headers, p.headersToUpstreamOnAllow, false), response: pick(res.headers, p.headersToDownstreamOnAllow, false) },
      };
    }
    // A status outside HTTP's 100-599 cannot go out over HTTP/2 (Node refuses it): Envoy's default 403.
    const status = res.statusCode >= 100 && res.statusCode <= 599 ? res.statusCode : 403;
    return { kind: 'deny', status, body, headers: pick(res.headers, p.headersToDownstreamOnDeny, true, ALWAYS_ON_DENY) };
  } catch (err) {
    const e = err as Error & { code?: string };
    // The abort signal and undici's own timers race: either one is the provider's timeout.
    const timedOut = e.name === 'TimeoutError' || TIMEOUTS.has(e.code ?? '');
    const code = timedOut ? 'timeout' : e.code ?? 'error';
    return { kind: 'error', code, reason: `${p.name} (${host}:${p.port}): ${timedOut ? `no answer within ${p.timeoutMs} ms` : e.code ?? e.message}` };
  }
}

/**
 * Response headers selected by matchers; an empty list selects all when `allByDefault` (deny
 * responses). `always` are selected too whenever the list is not empty.
 */
function pick(h: Record<string, string | string[] | undefined>, ms: readonly StringMatcher[], allByDefault: boolean, always?: ReadonlySet<string>): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, v] of Object.entries(h)) {
    if (v === undefined || SKIP.has(name)) continue;
    if (ms.length === 0 ? !allByDefault : !(always?.has(name) || matchesAny(ms, name))) continue;
    for (const x of Array.isArray(v) ? v : [v]) out.push([name, x]);
  }
  return out;
}

async function readCapped(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    if (n < MAX_BODY) chunks.push(c);
    n += c.length;
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY).toString('utf8');
}
