// A request record as span name, attributes and status: OpenTelemetry HTTP server semantic
// conventions (stable), plus the tags Envoy puts on Istio's proxy spans. PURE.
import {
  ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_REQUEST_METHOD_ORIGINAL, ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_NETWORK_PEER_ADDRESS, ATTR_NETWORK_PEER_PORT, ATTR_NETWORK_PROTOCOL_NAME, ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_NETWORK_TRANSPORT, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT, ATTR_URL_PATH, ATTR_URL_QUERY, ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { RequestRecord } from './record.ts';

export type SpanAttributes = Record<string, string | number>;

// Semconv: a method outside this set is reported as _OTHER, with the original alongside.
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);
// Istio's waypoint cluster names: `inbound-vip|80|http|httpbin.org`, `inbound-vip|80|http/v1|...` for a subset.
const CLUSTER = /^inbound-vip\|(\d+)\|[^|]*\|(.+)$/;

/** Istio's operation name for a proxy span: the destination service and port, `/*` for any path. */
export function spanName(r: RequestRecord): string {
  const m = CLUSTER.exec(r.upstreamCluster);
  return m ? `${m[2]}:${m[1]}/*` : `${r.destinationService}/*`;
}

/** Server spans fail on 5xx or no response at all; a 4xx is the client's error (semconv). */
export function spanFailed(r: RequestRecord): boolean {
  return r.responseCode === 0 || r.responseCode >= 500;
}

export function spanAttributes(r: RequestRecord): SpanAttributes {
  const a: SpanAttributes = {};
  const method = KNOWN_METHODS.has(r.method) ? r.method : '_OTHER';
  a[ATTR_HTTP_REQUEST_METHOD] = method;
  if (method === '_OTHER') a[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = r.method;
  if (r.protocolKind === 'http') {
    const q = r.path.indexOf('?');
    a[ATTR_URL_SCHEME] = 'http';
    a[ATTR_URL_PATH] = q < 0 ? r.path : r.path.slice(0, q);
    if (q >= 0) a[ATTR_URL_QUERY] = r.path.slice(q + 1);
  }
  const server = hostPort(r.authority, r.protocolKind === 'http' ? 80 : 0);
  if (server.host) a[ATTR_SERVER_ADDRESS] = server.host;
  if (server.port) a[ATTR_SERVER_PORT] = server.port;
  if (r.responseCode) a[ATTR_HTTP_RESPONSE_STATUS_CODE] = r.responseCode;
  a[ATTR_NETWORK_PROTOCOL_NAME] = 'http';
  const version = r.protocol.startsWith('HTTP/') ? r.protocol.slice(5) : '';
  if (version) a[ATTR_NETWORK_PROTOCOL_VERSION] = version;
  a[ATTR_NETWORK_TRANSPORT] = 'tcp';
  const peer = hostPort(r.downstreamRemoteAddress, 0);
  if (peer.host) a[ATTR_NETWORK_PEER_ADDRESS] = peer.host;
  if (peer.port) a[ATTR_NETWORK_PEER_PORT] = peer.port;
  if (r.userAgent) a[ATTR_USER_AGENT_ORIGINAL] = r.userAgent;
  if (spanFailed(r)) a[ATTR_ERROR_TYPE] = r.responseFlags !== '-' ? r.responseFlags : r.responseCode ? String(r.responseCode) : '_OTHER';
  // Envoy's tags on Istio proxy spans, and the destination as Istio's metrics label it.
  a['component'] = 'proxy';
  a['upstream_cluster'] = r.upstreamCluster || '-';
  a['response_flags'] = r.responseFlags;
  if (r.responseCodeDetails) a['response_code_details'] = r.responseCodeDetails;
  if (r.upstreamHost) a['upstream_address'] = r.upstreamHost;
  if (r.requestId) a['guid:x-request-id'] = r.requestId;
  a['request_size'] = r.bytesReceived;
  a['response_size'] = r.bytesSent;
  a['istio.destination_service'] = r.destinationService;
  if (r.sourcePrincipal) a['istio.source_principal'] = r.sourcePrincipal;
  return a;
}

function hostPort(s: string, defaultPort: number): { host: string; port: number } {
  if (!s) return { host: '', port: 0 };
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  if (!m) return { host: s, port: defaultPort };
  return { host: m[1]!, port: m[2] ? Number(m[2]) : defaultPort };
}
