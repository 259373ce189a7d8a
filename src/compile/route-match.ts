// String, header and query matchers for routes, compiled once per snapshot. Regexes follow Envoy's
// safe_regex: RE2 syntax (translated to a JS source by config/re2.ts, so `.`, `\s`, inline flags
// and the rest mean what RE2 says), matched against the whole value.
import type { StrMatch } from '../model/route.ts';
import type { StringMatch } from '../config/kinds/virtual-service.ts';
import { translateRe2 } from '../config/re2.ts';
import { linearSource } from './linear-regex.ts';

export type CompiledOrError<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** An RE2 pattern as a JS RegExp: anchored (a full match, as Envoy's) unless `search` (regex_rewrite). */
export function compileRegex(source: string, search = false): CompiledOrError<RegExp> {
  const t = translateRe2(source);
  if (!t.ok) return { ok: false, error: `regex ${JSON.stringify(source)} is not valid RE2 (Envoy's regex engine): ${t.error}` };
  // Linear time, as RE2 (linear-regex.ts): no request can stall the event loop on a route regex.
  // V8's linear engine takes no `u` flag, which only `\p` classes need: those keep V8's own engine.
  const anchored = search ? t.source : `^(?:${t.source})$`;
  let js = anchored;
  if (t.flags === '') {
    const linear = linearSource(anchored);
    if (!linear.ok) return { ok: false, error: linear.error.replace(JSON.stringify(anchored), JSON.stringify(source)).replace(`"${anchored}"`, JSON.stringify(source)) };
    js = linear.value;
  }
  return { ok: true, value: new RegExp(js, search ? `g${t.flags}` : t.flags) };
}

/**
 * VirtualService StringMatch; an empty match `{}` means "present". `ignoreCase` is the uri's
 * ignoreUriCase, which Envoy applies to path and prefix but not to safe_regex. Header, query,
 * method, authority and scheme matchers (`keyed`) take regex `*` as "present", as Istio's
 * canBeConvertedToPresentMatch does (istio#20629); a uri regex `*` is simply invalid RE2.
 */
export function compileStringMatch(m: StringMatch | undefined, opts: { ignoreCase?: boolean; keyed?: boolean } = {}): CompiledOrError<StrMatch> | undefined {
  if (!m) return undefined;
  const ignoreCase = opts.ignoreCase ?? false;
  if (m.exact !== undefined) return { ok: true, value: { kind: 'exact', value: ignoreCase ? m.exact.toLowerCase() : m.exact } };
  if (m.prefix !== undefined) return { ok: true, value: { kind: 'prefix', value: ignoreCase ? m.prefix.toLowerCase() : m.prefix } };
  if (m.regex !== undefined) {
    if (opts.keyed && m.regex === '*') return { ok: true, value: { kind: 'present' } };
    const re = compileRegex(m.regex);
    return re.ok ? { ok: true, value: { kind: 'regex', re: re.value, source: m.regex } } : re;
  }
  return { ok: true, value: { kind: 'present' } };
}
