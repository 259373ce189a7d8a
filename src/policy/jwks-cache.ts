// JWKS for RequestAuthentication: inline sets parsed once per compiled rule; jwksUri sets fetched with
// undici, cached, and refreshed in the background once stale (the request that notices uses the keys
// it has). A fetch is bounded by the rule's timeout, and a failing refresh keeps the last good keys,
// as istiod does for PILOT_JWT_PUB_KEY_REFRESH_INTERVAL (20 minutes).
import type { JSONWebKeySet, createLocalJWKSet } from 'jose';
import { loadJose } from './jose-lazy.ts';
import type { CompiledJwtRule } from '../model/authn.ts';
import { loadUndici } from './undici-lazy.ts';

export type KeyLookup = ReturnType<typeof createLocalJWKSet>;
export type Keys = { readonly lookup: KeyLookup } | { readonly error: string };

const MAX_JWKS_BYTES = 1 << 20;

interface Entry {
  lookup?: KeyLookup;
  fetchedAt: number;
  inflight?: Promise<void>;
  lastError?: string;
}

export interface JwksCacheOptions {
  readonly refreshMs?: number;
  readonly now?: () => number;
}

export class JwksCache {
  #inline = new WeakMap<CompiledJwtRule, Keys | Promise<Keys>>();
  #remote = new Map<string, Entry>();
  #refreshMs: number;
  #now: () => number;

  constructor(o: JwksCacheOptions = {}) {
    this.#refreshMs = o.refreshMs ?? 20 * 60_000;
    this.#now = o.now ?? Date.now;
  }

  /** Keys for a rule: immediate when cached, else after one bounded fetch. */
  keysFor(rule: CompiledJwtRule): Keys | Promise<Keys> {
    if (rule.jwks !== undefined) {
      let k = this.#inline.get(rule);
      if (!k) {
        const parsed = parseJwks(rule.jwks).then((keys) => { this.#inline.set(rule, keys); return keys; });
        this.#inline.set(rule, (k = parsed));
      }
      return k;
    }
    if (!rule.jwksUri) return { error: 'the rule has neither jwks nor jwksUri' };
    const e = this.#remote.get(rule.jwksUri) ?? this.#remote.set(rule.jwksUri, { fetchedAt: 0 }).get(rule.jwksUri)!;
    if (e.lookup) {
      if (this.#now() - e.fetchedAt > this.#refreshMs) void this.#refresh(rule.jwksUri, e, rule.timeoutMs);
      return { lookup: e.lookup };
    }
    return this.#refresh(rule.jwksUri, e, rule.timeoutMs).then(() => (e.lookup ? { lookup: e.lookup } : { error: e.lastError ?? 'fetch failed' }));
  }

  /** What the cache holds, for the admin page and tests. */
  status(): Record<string, { fetchedAt: number; ok: boolean; lastError?: string }> {
    const out: Record<string, { fetchedAt: number; ok: boolean; lastError?: string }> = {};
    for (const [uri, e] of this.#remote) out[uri] = { fetchedAt: e.fetchedAt, ok: !!e.lookup, ...(e.lastError ? { lastError: e.lastError } : {}) };
    return out;
  }

  #refresh(uri: string, e: Entry, timeoutMs: number): Promise<void> {
    e.inflight ??= fetchJwks(uri, timeoutMs).then((keys) => {
      if ('lookup' in keys) {
        e.lookup = keys.lookup;
        e.fetchedAt = this.#now();
        delete e.lastError;
      } else {
        e.lastError = keys.error;
      }
    }).finally(() => { delete e.inflight; });
    return e.inflight;
  }
}

async function parseJwks(text: string): Promise<Keys> {
  const { createLocalJWKSet } = await loadJose();
  try {
    return { lookup: createLocalJWKSet(JSON.parse(text) as JSONWebKeySet) };
  } catch (err) {
    return { error: `invalid JWKS: ${(err as Error).message}` };
  }
}

async function fetchJwks(uri: string, timeoutMs: number): Promise<Keys> {
  try {
    const { request } = await loadUndici();
    const res = await request(uri, { signal: AbortSignal.timeout(timeoutMs), headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const text = await res.body.text();
    if (res.statusCode !== 200) return { error: `GET ${uri}: HTTP ${res.statusCode}` };
    if (text.length > MAX_JWKS_BYTES) return { error: `GET ${uri}: JWKS larger than 1 MiB` };
    return await parseJwks(text);
  } catch (err) {
    const e = err as Error & { code?: string };
    return { error: `GET ${uri}: ${e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : e.code ?? e.message}` };
  }
}
