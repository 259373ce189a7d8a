// Request mirroring: a fire-and-forget copy to another cluster, its answer discarded. Like Envoy,
// the Host gets a `-shadow` suffix so the mirror target can tell copies apart. Only bodies that
// are absent or buffered are mirrored: a streamed body can be read once.
import type { Mirror } from '../model/route.ts';
import type { Body } from './http-forward.ts';
import type { ServeContext } from './serve-http.ts';

export function fireMirror(c: ServeContext, m: Mirror, method: string, path: string, headers: readonly string[], body: Body): void {
  if (body.kind === 'stream') return;
  const cluster = m.cluster ? c.snap.clusters.get(m.cluster) : undefined;
  if (!cluster) return;
  const shadow: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const k = headers[i]!;
    shadow.push(k, k.toLowerCase() === 'host' ? `${headers[i + 1]!.replace(/:\d+$/, '')}-shadow` : headers[i + 1]!);
  }
  Promise.resolve()
    .then(() => c.upstreams.pick(cluster, m.host, m.port))
    .then((ep) => c.upstreams.pool(cluster.name, ep, c.req.httpVersionMajor === 2).request({ method: method as 'GET', path, headers: shadow, body: body.kind === 'buffer' ? body.data : null }))
    .then((r) => r.body.dump(), () => {});
}
