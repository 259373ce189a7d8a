// An upstream may send `100 Continue` that nobody asked for (the waypoint never forwards `Expect`).
// RFC 9110 §15.2: a client must parse and ignore an unexpected 1xx; Envoy drops it and forwards the
// final response. undici 7 instead destroys the connection on any 100 ("bad response" in client-h1
// onHeadersComplete), which turned a good 200 into 503 UC. This hook makes the HTTP/1.1 parser of
// one upstream socket treat 100 exactly as it treats 102 or 103: skip the informational head and
// parse the final one. The parser and its client are found by their symbols' descriptions, as
// expireAfter (upstream.ts) does; if undici ever renames them, the hook does nothing and the old
// behaviour (503 UC) returns, which test/e2e/upstream-continue.test.ts reports.
import type { Socket } from 'node:net';
import { symbolNamed } from './undici-symbol.ts';

interface H1Parser {
  statusCode: number;
  headers: unknown[];
  headersSize: number;
  client: object;
  onHeadersComplete(statusCode: number, upgrade: boolean, shouldKeepAlive: boolean): number;
}

// llhttp: 1 from on_headers_complete means "no body follows" (undici returns it for 1xx heads).
const SKIP_BODY = 1;

/** Installs the 100-skipping parser hook once undici has attached its parser (before any response byte is read). */
export function ignoreUnsolicitedContinue(s: Socket): void {
  const install = () => {
    // Once: undici attaches its parser before it writes a request, so before any response byte.
    s.removeListener('readable', install);
    const key = symbolNamed(s, 'parser');
    const parser = key ? (s as unknown as Record<symbol, H1Parser | null>)[key] : null;
    if (!parser || typeof parser.onHeadersComplete !== 'function') return; // h2: no 100 problem there
    const original = parser.onHeadersComplete;
    parser.onHeadersComplete = function (statusCode, upgrade, shouldKeepAlive) {
      if (statusCode !== 100 || upgrade || !requestRunning(this)) return original.call(this, statusCode, upgrade, shouldKeepAlive);
      // As undici's own 1xx path: the informational head's headers are dropped, and onMessageComplete
      // (statusCode < 200) then resets the parser for the final response without ending the request.
      this.statusCode = statusCode;
      this.headers = [];
      this.headersSize = 0;
      return SKIP_BODY;
    };
  };
  // Prepended, so it runs before undici's own 'readable' handler reads the first bytes.
  s.prependListener('readable', install);
}

function requestRunning(parser: H1Parser): boolean {
  // The client's `running` is a getter on Client's prototype.
  const key = symbolNamed(parser.client, 'running');
  return !!key && Number((parser.client as Record<symbol, unknown>)[key]) > 0;
}
