// Typed data-plane failures and the one table that maps them to what the client, the access log
// and the metrics see. Callers branch on `code`, never on message text.

export type FailureCode =
  | 'unknown_host'        // no bound ServiceEntry covers the host
  | 'unknown_port'        // host known, port not declared
  | 'not_bound_here'      // a ServiceEntry covers it but is bound elsewhere / not at all
  | 'protocol_mismatch'   // plain HTTP sent to a TLS/TCP port, or https:// absolute-form
  | 'bad_request'         // unparsable target or Host, duplicate Host
  | 'absolute_path'       // a path that does not start with "/" (OPTIONS *): Envoy's HCM routes none
  | 'misdirected'         // inside a terminated tunnel, the Host names another destination (domain fronting)
  | 'upgrade_failed'      // an Upgrade to a protocol that is not enabled (only websocket is)
  | 'uri_too_long'        // request-target over the limit (414)
  | 'headers_too_large'   // too many header fields (431); too many bytes is Node's parser (clientError)
  | 'unsupported_transfer_encoding' // a Transfer-Encoding other than chunked alone (501, as Envoy's codec)
  | 'no_healthy_upstream' // cluster has no endpoints
  | 'ssrf_refused'        // the dialled address is refused by the SSRF guard
  | 'rbac_denied'         // an AuthorizationPolicy denied it (details come from the decision)
  | 'jwt_denied'          // RequestAuthentication: a token failed verification (401, or 403 for audiences)
  | 'ext_authz_denied'    // a CUSTOM provider answered with a non-200 status
  | 'ext_authz_error'     // a CUSTOM provider could not be asked (no failOpen)
  | 'bad_path'            // the path cannot be normalised (e.g. %00)
  | 'route_not_found'     // a VirtualService/HTTPRoute exists but no rule matched
  | 'no_cluster'          // the route names a destination this waypoint does not serve
  | 'upstream_timeout'    // the route timeout expired
  | 'per_try_timeout'     // the last try's perTryTimeout expired
  | 'dns_failure'
  | 'connect_failure'
  | 'connect_timeout'
  | 'upstream_reset_before_headers'
  | 'upstream_closed_before_headers'
  | 'upstream_reset_after_headers'
  | 'upstream_closed_after_headers'
  | 'upstream_protocol_error'
  | 'downstream_disconnect'
  | 'draining'
  | 'upstream_overflow'   // a DestinationRule connectionPool limit is full (Envoy circuit breaker)
  | 'tls_failure'         // TLS origination failed: handshake or certificate verification
  | 'overload'            // the overload guard refuses new requests (heap above --overload-heap-threshold)
  | 'downstream_overflow' // the connection arrived past --max-connections
  | 'stream_idle_timeout'; // no byte either way for --stream-idle-timeout while the request was in flight

export interface FailureInfo {
  readonly status: number;
  readonly flag: string;
  readonly details: string;
  /** Envoy's local-reply body, where Envoy has one. */
  readonly body: string;
}

const RESET = 'upstream connect error or disconnect/reset before headers. reset reason:';

export const FAILURES: Readonly<Record<FailureCode, FailureInfo>> = {
  unknown_host: { status: 502, flag: 'NR', details: 'route_not_found{host_not_in_registry}', body: '' },
  unknown_port: { status: 502, flag: 'NR', details: 'route_not_found{port_not_declared}', body: '' },
  not_bound_here: { status: 502, flag: 'NR', details: 'route_not_found{serviceentry_not_bound}', body: '' },
  protocol_mismatch: { status: 400, flag: 'NR', details: 'route_not_found{protocol_mismatch}', body: '' },
  bad_request: { status: 400, flag: 'DPE', details: 'http1.invalid_authority', body: 'Bad Request' },
  // Envoy's HCM: "Currently we only support relative paths at the application layer": 404, no flag.
  absolute_path: { status: 404, flag: '-', details: 'absolute_path', body: '' },
  misdirected: { status: 421, flag: 'NR', details: 'route_not_found{host_not_tunnel_destination}', body: '' },
  // Envoy's HCM: 403, empty body, details upgrade_failed, and the connection is closed.
  upgrade_failed: { status: 403, flag: '-', details: 'upgrade_failed', body: '' },
  uri_too_long: { status: 414, flag: 'DPE', details: 'http1.uri_too_long', body: '' },
  headers_too_large: { status: 431, flag: 'DPE', details: 'http1.headers_too_large', body: '' },
  unsupported_transfer_encoding: { status: 501, flag: 'DPE', details: 'http1.invalid_transfer_encoding', body: '' },
  no_healthy_upstream: { status: 503, flag: 'UH', details: 'no_healthy_upstream', body: 'no healthy upstream' },
  // Like an RBAC denial: 403 and no response flag; the details name the guard.
  ssrf_refused: { status: 403, flag: '-', details: 'egress_denied{ssrf_guard}', body: '' },
  rbac_denied: { status: 403, flag: '-', details: 'rbac_access_denied_matched_policy[none]', body: 'RBAC: access denied' },
  // Status and body of these three come from the verdict (jwt_verify_lib status string, the provider's answer).
  jwt_denied: { status: 401, flag: '-', details: 'jwt_authn_access_denied', body: 'Jwt verification fails' },
  ext_authz_denied: { status: 403, flag: 'UAEX', details: 'ext_authz_denied', body: '' },
  ext_authz_error: { status: 403, flag: 'UAEX', details: 'ext_authz_error', body: '' },
  bad_path: { status: 400, flag: '-', details: 'path_normalization_failed', body: 'Bad Request' },
  route_not_found: { status: 404, flag: 'NR', details: 'route_not_found', body: '' },
  no_cluster: { status: 503, flag: 'NC', details: 'cluster_not_found', body: '' },
  upstream_timeout: { status: 504, flag: 'UT', details: 'upstream_response_timeout', body: 'upstream request timeout' },
  per_try_timeout: { status: 504, flag: 'UT', details: 'upstream_per_try_timeout', body: 'upstream request timeout' },
  dns_failure: { status: 503, flag: 'DF', details: 'dns_resolution_failure', body: 'DNS resolution failure' },
  connect_failure: { status: 503, flag: 'UF', details: 'upstream_reset_before_response_started{connection_failure}', body: `${RESET} connection failure` },
  connect_timeout: { status: 503, flag: 'UF', details: 'upstream_reset_before_response_started{connection_timeout}', body: `${RESET} connection timeout` },
  upstream_reset_before_headers: { status: 503, flag: 'UR', details: 'upstream_reset_before_response_started{remote_reset}', body: `${RESET} remote reset` },
  upstream_closed_before_headers: { status: 503, flag: 'UC', details: 'upstream_reset_before_response_started{connection_termination}', body: `${RESET} connection termination` },
  upstream_reset_after_headers: { status: 0, flag: 'UR', details: 'upstream_reset_after_response_started{remote_reset}', body: '' },
  upstream_closed_after_headers: { status: 0, flag: 'UC', details: 'upstream_reset_after_response_started{connection_termination}', body: '' },
  upstream_protocol_error: { status: 502, flag: 'UPE', details: 'upstream_reset_before_response_started{protocol_error}', body: `${RESET} protocol error` },
  downstream_disconnect: { status: 0, flag: 'DC', details: 'downstream_remote_disconnect', body: '' },
  draining: { status: 503, flag: 'LR', details: 'drain_in_progress', body: 'the waypoint is shutting down' },
  upstream_overflow: { status: 503, flag: 'UO', details: 'upstream_reset_before_response_started{overflow}', body: `${RESET} overflow` },
  tls_failure: { status: 503, flag: 'UF', details: 'upstream_reset_before_response_started{connection_failure,TLS_error}', body: `${RESET} connection failure, transport failure reason: TLS error` },
  // Envoy's overload manager (stop_accepting_requests): 503 "envoy overloaded", details overload, flag OM.
  overload: { status: 503, flag: 'OM', details: 'overload', body: '' },
  downstream_overflow: { status: 503, flag: 'OM', details: 'overload{downstream_max_connections}', body: '' },
  // Envoy's stream_idle_timeout before the response began: 408 "stream timeout", flag SI.
  stream_idle_timeout: { status: 408, flag: 'SI', details: 'stream_idle_timeout', body: 'stream timeout' },
};

export class DataplaneError extends Error {
  readonly code: FailureCode;
  /** Operator-facing reason, e.g. "connect ECONNREFUSED 127.0.0.1:9". */
  readonly reason: string;
  constructor(code: FailureCode, reason: string) {
    super(`${code}: ${reason}`);
    this.code = code;
    this.reason = reason;
  }
}

/** Maps a socket / undici error to a failure code, split on whether response headers were sent. */
export function classifyUpstreamError(err: unknown, afterHeaders: boolean): FailureCode {
  const code = (err as { code?: string }).code ?? '';
  if (err instanceof DataplaneError) return err.code;
  if (code.startsWith('ERR_SSL_') && !afterHeaders) return 'tls_failure';
  if (afterHeaders) return code === 'ECONNRESET' ? 'upstream_reset_after_headers' : 'upstream_closed_after_headers';
  switch (code) {
    case 'ECONNREFUSED': case 'EHOSTUNREACH': case 'ENETUNREACH': case 'EADDRNOTAVAIL': return 'connect_failure';
    case 'UND_ERR_CONNECT_TIMEOUT': case 'ETIMEDOUT': return 'connect_timeout';
    case 'ECONNRESET': return 'upstream_reset_before_headers';
    case 'HPE_INVALID_CONSTANT': case 'HPE_INVALID_STATUS': case 'HPE_INVALID_HEADER_TOKEN': case 'UND_ERR_INFO': return 'upstream_protocol_error';
    default: return 'upstream_closed_before_headers';
  }
}
