// One record per request or tunnel, filled by the data plane and consumed by metrics and the access
// log. Field names follow Envoy's access-log operators so the mapping stays obvious.

export interface RequestRecord {
  startTime: number; // epoch ms
  /** 'http' for HTTP requests, 'tcp' for CONNECT / upgrade tunnels. */
  protocolKind: 'http' | 'tcp';
  method: string;
  path: string;
  protocol: string; // HTTP/1.1
  authority: string;
  responseCode: number; // 0 = no response
  responseFlags: string; // Envoy short flags, '-' when none
  responseCodeDetails: string;
  connectionTerminationDetails: string;
  upstreamTransportFailureReason: string;
  bytesReceived: number;
  bytesSent: number;
  durationMs: number;
  upstreamServiceTimeMs: number | null;
  xForwardedFor: string;
  userAgent: string;
  requestId: string;
  upstreamHost: string;
  upstreamCluster: string;
  upstreamLocalAddress: string;
  downstreamLocalAddress: string;
  downstreamRemoteAddress: string;
  requestedServerName: string;
  routeName: string;
  /** Snapshot identifiers, bounded: ServiceEntry host (or BlackHoleCluster/PassthroughCluster) and namespace. */
  destinationService: string;
  destinationServiceNamespace: string;
  /** Client identity when verified (SPIFFE URI), else ''. */
  sourcePrincipal: string;
  sourceWorkload: string;
  sourceNamespace: string;
  connectionSecurityPolicy: 'mutual_tls' | 'none' | 'unknown';
  /**
   * Authorization extras, set only when they happen: the shadow result of `istio.io/dry-run` policies
   * ("deny" = would deny), the dry-run policy that decided it (`ns/name`, or `none` for the default
   * deny), the AUDIT policy that matched, and the validated JWT principal (`iss/sub`).
   */
  dryRunResult?: 'allow' | 'deny';
  dryRunPolicy?: string;
  auditPolicy?: string;
  requestPrincipal?: string;
  /**
   * Set only with span export on (--otlp-endpoint), when the request was forwarded: the W3C
   * traceparent sent upstream, whose parent-id is this request's span id, and the client's parent-id
   * ('' when the waypoint started the trace). Absent for local replies and CONNECT tunnels.
   */
  traceparent?: string;
  parentSpanId?: string;
  /** Set only with span export on, from the moment the request arrives (see TraceCapture). */
  trace?: TraceCapture;
  /** The request is gRPC (content-type application/grpc*): request_protocol="grpc". */
  grpc?: boolean;
  /** The upstream's grpc-status, from response headers (trailers-only) or trailers; absent when none. */
  grpcStatus?: string;
}

/**
 * What a span needs that metrics and the access log do not, captured only with span export on. The
 * headers are copied as received and validated when the span is exported, so the request path
 * parses nothing; the clock readings give the span sub-millisecond times.
 */
export interface TraceCapture {
  /** The client's traceparent and tracestate, unvalidated ('' when absent; repeated fields comma-joined). */
  readonly traceparent: string;
  readonly tracestate: string;
  /** performance.now() when the record was created, and when it was finished (NaN until then). */
  readonly startMs: number;
  endMs: number;
}
