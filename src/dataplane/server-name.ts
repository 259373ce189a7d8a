// The `server` field of every response the waypoint sends: Istio's waypoint HCM has server_name
// `istio-envoy` with OVERWRITE (GetProxyHeaders for ListenerClassSidecarInbound). Its own module so
// local replies (grpc-reply.ts, which `egressway check` loads) can name it without loading headers.ts
// and, through it, undici.
export const SERVER_NAME = 'istio-envoy';
