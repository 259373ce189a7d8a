// Istio's port protocols (pkg/config/protocol): names are case-insensitive on the wire.

/** Istio's protocol.Parse: case-insensitive; '' is UNSET (sniffed); anything else unsupported. */
export type ParsedProtocol =
  | 'HTTP' | 'HTTPS' | 'GRPC' | 'GRPC-WEB' | 'HTTP2' | 'HTTP_PROXY'
  | 'TCP' | 'TLS' | 'UDP' | 'MONGO' | 'REDIS' | 'MYSQL' | 'UNSET' | 'UNSUPPORTED';

const KNOWN_PROTOCOLS = new Set(['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'HTTP_PROXY', 'TCP', 'TLS', 'UDP', 'MONGO', 'REDIS', 'MYSQL']);

export function parseProtocol(protocol: string | undefined): ParsedProtocol {
  if (protocol === undefined || protocol === null || protocol === '') return 'UNSET';
  const upper = protocol.toUpperCase();
  return KNOWN_PROTOCOLS.has(upper) ? (upper as ParsedProtocol) : 'UNSUPPORTED';
}

/** Protocols whose requests carry a Host/:authority (Istio's IsHTTP). */
export function isHttpProtocol(p: ParsedProtocol): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-WEB' || p === 'HTTP_PROXY';
}

/** Protocols that use HTTP/2 as transport (Istio's IsHTTP2): Envoy's cluster for such a port speaks h2. */
export function isHttp2Protocol(p: ParsedProtocol): boolean {
  return p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-WEB';
}

/** Protocols that carry SNI (Istio's IsTLS). */
export function isTlsProtocol(p: ParsedProtocol): boolean {
  return p === 'HTTPS' || p === 'TLS';
}

/** Istio's IsTCP: everything proxied as a byte stream, TLS included. */
export function isTcpProtocol(p: ParsedProtocol): boolean {
  return p === 'TCP' || p === 'HTTPS' || p === 'TLS' || p === 'MONGO' || p === 'REDIS' || p === 'MYSQL';
}
