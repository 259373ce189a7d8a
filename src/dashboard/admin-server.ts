// Admin (15000, localhost by default), status (15021) and stats (15020) endpoints. They are
// separate from traffic listeners so a flood of proxy traffic never hides the health probe.
import { listen } from '../dataplane/listen.ts';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from '../node-http.ts';
import type { AddressInfo } from 'node:net';
import { snapshotToJson } from '../model/snapshot-json.ts';
import type { SnapshotStore } from '../controlplane/store.ts';
import { formatDiagnostic } from '../model/diagnostic.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { Summary } from '../telemetry/summary.ts';

export interface AdminDeps {
  readonly store: SnapshotStore;
  readonly metrics: Metrics;
  readonly isDraining: () => boolean;
  /** `run --concurrency N`: why the process is not ready besides draining (a worker down), if it is not. */
  readonly notReady?: () => string | undefined;
  /** `run --concurrency N`: every worker's metrics merged; default: `metrics.exposition()`. */
  readonly exposition?: () => Promise<string>;
}

/** What /stats/summary serves: the rolling per-service window plus listener totals. */
export interface SummaryBody extends Summary {
  readonly totals: { readonly activeRequests: number; readonly activeTunnels: number };
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

export function readyHandler(deps: AdminDeps): Handler {
  return (_req, res) => {
    if (deps.isDraining()) return send(res, 503, 'draining\n');
    if (!deps.store.hasSnapshot) return send(res, 503, 'no config loaded yet\n');
    const why = deps.notReady?.();
    if (why) return send(res, 503, `${why}\n`);
    send(res, 200, 'ready\n');
  };
}

export function statsHandler(deps: AdminDeps): Handler {
  return async (_req, res) => send(res, 200, await (deps.exposition?.() ?? deps.metrics.exposition()), deps.metrics.registry.contentType);
}

export function summaryHandler(summary: () => SummaryBody | Promise<SummaryBody>): Handler {
  return async (_req, res) => send(res, 200, `${JSON.stringify(await summary())}\n`, 'application/json');
}

export function configDumpHandler(deps: AdminDeps): Handler {
  return (_req, res) => {
    const last = deps.store.lastReload;
    const body = {
      snapshot: deps.store.hasSnapshot ? snapshotToJson(deps.store.current()) : null,
      snapshotSwappedAt: deps.store.swappedAt ? new Date(deps.store.swappedAt).toISOString() : null,
      lastReload: last ? { ok: last.ok, at: new Date(last.at).toISOString(), version: last.version ?? null, diagnostics: last.diagnostics.map(formatDiagnostic) } : null,
    };
    send(res, 200, `${JSON.stringify(body, null, 2)}\n`, 'application/json');
  };
}

export class HttpEndpoint {
  #server: Server;
  constructor(routes: Readonly<Record<string, Handler>>) {
    this.#server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const h = routes[path];
      if (!h) return send(res, 404, `not found; try: ${Object.keys(routes).join(' ')}\n`);
      Promise.resolve(h(req, res)).catch((err: Error) => send(res, 500, `${err.message}\n`));
    });
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return listen(this.#server, port, host);
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((r) => this.#server.close(() => r()));
  }
}
