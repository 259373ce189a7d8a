// HTTP/2 keepalive as Istio sets it on the waypoint's HBONE listener and ztunnel's pool: a PING
// every `intervalMs`, and a connection with no PING ack for `timeoutMs` is dead and destroyed
// (its streams with it), so a vanished peer does not hold tunnels open.
import type { Http2Session } from 'node:http2';

export function startKeepalive(session: Http2Session, intervalMs: number, timeoutMs: number): () => void {
  let lastAck = Date.now();
  const timer = setInterval(() => {
    if (session.destroyed || session.closed) return;
    if (Date.now() - lastAck > timeoutMs) {
      session.destroy(new Error(`no HTTP/2 PING ack for ${timeoutMs} ms`));
      return;
    }
    try {
      session.ping((err) => {
        if (!err) lastAck = Date.now();
      });
    } catch {
      // too many unacknowledged pings: the timeout above decides
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
