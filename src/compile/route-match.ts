// String, header and query matchers for routes, compiled once per snapshot. Regexes follow Envoy's
// safe_regex: RE2 syntax, matched against the whole value. JS RegExp is a superset of RE2 except
// for lookaround and backreferences, which RE2 refuses, so those are refused here too.
import type { StrMatch } from '../model/route.ts';
import type { StringMatch } from '../config/kinds/virtual-service.ts';
import { linearSource } from './linear-regex.ts';

const NOT_RE2 = /\(\?[=!]|\(\?<[=!]|\\[1-9]|\\k</;

export type CompiledOrError<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export function compileRegex(source: string, flags = ''): CompiledOrError<RegExp> {
  if (NOT_RE2.test(source)) return { ok: false, error: `regex "${source}" uses lookaround or backreferences, which RE2 (Envoy's regex engine) does not support` };
  // Linear time, as RE2 (linear-regex.ts): no request can stall the event loop on a route regex.
  const linear = linearSource(`^(?:${source})$`, flags);
  if (!linear.ok) return { ok: false, error: linear.error.replace(`"^(?:${source})$"`, `"${source}"`) };
  try {
    return { ok: true, value: new RegExp(linear.value, flags) };
  } catch (err) {
    return { ok: false, error: `regex "${source}" is invalid: ${(err as Error).message}` };
  }
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
