// HTTP header names and values in VirtualService header operations and matches: Istio's
// ValidateHTTPHeader*OperationName, ValidateHTTPHeaderNameOrJwtClaimRoute and ValidateHTTPHeaderValue
// (which ports Envoy's header_parser.cc), so a value Envoy would NACK is refused here.
import type { Reporter } from '../diag.ts';
import type { Path } from '../schema.ts';
import type { Headers } from './virtual-service.ts';

// RFC 7230 token characters.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;
const PSEUDO_HEADERS = new Set([':method', ':scheme', ':authority', ':path', ':status']);
// Control characters other than horizontal tab are never valid in a header value.
const HEADER_VALUE = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
const CLAIM_PREFIX = '@request.auth.claims';

export const isAuthority = (k: string) => k.toLowerCase() === ':authority' || k.toLowerCase() === 'host';
const isInternal = (k: string) => k.startsWith(':') || k.toLowerCase() === 'host';

/** `@request.auth.claims.sub` / `@request.auth.claims[nested][key]`: routing on a JWT claim. */
export function isJwtClaimRoute(name: string): boolean {
  const rest = name.startsWith(CLAIM_PREFIX) ? name.slice(CLAIM_PREFIX.length) : undefined;
  if (rest === undefined) return false;
  return /^\.[^.[\]]+(\.[^.[\]]+)*$/.test(rest) || /^(\[[^[\]]+\])+$/.test(rest);
}

/** Names in headers/withoutHeaders matches. */
export function checkMatchHeaderName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (isJwtClaimRoute(name) || PSEUDO_HEADERS.has(name)) return undefined;
  return HEADER_NAME.test(name) ? undefined : `header name ${name} is not a valid header name`;
}

/** Names added or set on the request: the authority may be rewritten here (checked once elsewhere). */
function checkRequestSetName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (isInternal(name) && !isAuthority(name)) return `invalid header "${name}": header cannot have ":" prefix`;
  return isInternal(name) ? undefined : checkToken(name);
}

/** Names removed from the request, or changed on the response. */
function checkOperationName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (name.toLowerCase() === 'host') return `invalid header "${name}": cannot set Host header`;
  if (isInternal(name)) return `invalid header "${name}": header cannot have ":" prefix`;
  return checkToken(name);
}

/**
 * Beyond Istio: a name that is not an HTTP token ("x b") cannot be sent at all; accepted, it failed
 * every request on the route as if the upstream had (503 UC, 502 UPE).
 */
function checkToken(name: string): string | undefined {
  return HEADER_NAME.test(name) ? undefined : `header name ${JSON.stringify(name)} is not a valid HTTP header name (RFC 9110 token characters only), so no request could carry it`;
}

/** Istio's ValidateHTTPHeaderValue: no control characters, and `%` only as `%%` or around `%VAR%`. */
export function checkHeaderValue(value: string): string | undefined {
  if (!HEADER_VALUE.test(value)) return `header value configuration ${value} is invalid`;
  const problem = checkEnvoyFormat(value);
  return problem ? `header value configuration: ${problem}` : undefined;
}

type State = 'literal' | 'name' | 'array' | 'string-start' | 'string' | 'delim' | 'args-end' | 'var-end';

// Envoy's header_parser.cc state machine, transcribed: "100%%" and "%HOSTNAME%" are fine, "abc%123"
// and "%START_TIME%%" are not.
function checkEnvoyFormat(v: string): string | undefined {
  let state: State = 'literal';
  for (let pos = 0; pos < v.length; pos++) {
    const ch = v[pos];
    const more = pos + 1 < v.length;
    switch (state) {
      case 'literal':
        if (ch !== '%') break;
        if (!more) return 'invalid header configuration. Un-escaped %';
        if (v[pos + 1] === '%') pos++;
        else state = 'name';
        break;
      case 'name':
        if (ch === '%') state = 'literal';
        else if (ch === '(') state = 'array';
        break;
      case 'array':
        if (ch === '[') state = 'string-start';
        else if (ch !== ' ') state = 'string';
        break;
      case 'delim':
        if (ch === ',') state = 'string-start';
        else if (ch === ']') state = 'args-end';
        else if (ch !== ' ') return "invalid header configuration. Expecting ',', ']', or whitespace";
        break;
      case 'string-start':
        if (ch === '"') state = 'string';
        else if (ch !== ' ') return `invalid header configuration. Expecting '"'`;
        break;
      case 'string':
        if (ch === '\\') {
          if (!more) return 'invalid header configuration. Un-terminated backslash in JSON string';
          pos++;
        } else if (ch === ')') state = 'var-end';
        else if (ch === '"') state = 'delim';
        break;
      case 'args-end':
        if (ch === ')') state = 'var-end';
        else if (ch !== ' ') return "invalid header configuration. Expecting ')' or whitespace";
        break;
      case 'var-end':
        if (ch === '%') state = 'literal';
        else if (ch !== ' ') return "invalid header configuration. Expecting '%' or whitespace after";
        break;
    }
  }
  return state === 'literal' ? undefined : `invalid header configuration. Un-terminated variable expression '${v}'`;
}

const HINT_NAME = 'name the header, without a ":" prefix (the authority is set with rewrite.authority)';
const HINT_VALUE = 'escape a literal % as %%, and close %VARIABLE% expressions';

/** Header operations of a route or of a weighted destination. */
export function checkHeaderOperations(headers: Headers | undefined, path: Path, report: Reporter): void {
  if (!headers) return;
  const sides = [['request', headers.request], ['response', headers.response]] as const;
  for (const [side, ops] of sides) {
    if (!ops) continue;
    for (const op of ['add', 'set'] as const) {
      for (const [name, value] of Object.entries(ops[op] ?? {})) {
        const p = [...path, side, op, name];
        const bad = side === 'request' ? checkRequestSetName(name) : checkOperationName(name);
        if (bad) report.error(p, bad, HINT_NAME);
        const badValue = checkHeaderValue(value);
        if (badValue) report.error(p, badValue, HINT_VALUE);
      }
    }
    (ops.remove ?? []).forEach((name, i) => {
      const bad = checkOperationName(name);
      if (bad) report.error([...path, side, 'remove', i], bad, HINT_NAME);
    });
  }
}
