// Test upstreams: real HTTP/1.1 and HTTPS servers on loopback port 0 that echo each request as JSON
// and count what they saw, so a proxy test can assert both what the client got and what the upstream
// received (headers forwarded, connections reused, retries made). Behaviours by path live in
// upstream-routes.ts; raw TCP and TLS echo servers in tcp-echo.ts.

import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { closeServer, hostPort, listenLoopback, trackSockets } from './lifecycle.ts';
import type { Closable, LoopbackHost } from './lifecycle.ts';
import { describeRequest, handleUpgrade, parseUrl, pathOf, routeRequest } from './upstream-routes.ts';
import type { EchoBody, RouteHandler } from './upstream-routes.ts';

export { bytesPayload, sha256 } from './upstream-routes.ts';
export type { EchoBody, RouteContext, RouteHandler, TlsInfo } from './upstream-routes.ts';
export { startTcpEcho, startTlsEcho } from './tcp-echo.ts';
export type { EchoServer, TlsEchoOptions } from './tcp-echo.ts';

export interface UpstreamOptions {
  host?: LoopbackHost;
  /** Reported as `upstream` in every echo, to tell upstreams apart. Defaults to 'upstream'. */
  name?: string;
  /** Exact-path handlers that take precedence over the built-in behaviours. */
  routes?: Readonly<Record<string, RouteHandler>>;
}

export interface HttpsUpstreamOptions extends UpstreamOptions {
  cert: string;
  key: string;
  /** CA(s) used to verify client certificates when `requestCert` is set. */
  ca?: string;
  requestCert?: boolean;
  /** Node's default: with `requestCert`, refuse the handshake if the client cert does not verify. */
  rejectUnauthorized?: boolean;
}

export interface UpstreamStats {
  /** Requests received, upgrades included. */
  requests: number;
  /** TCP connections accepted: compare with `requests` to see whether a proxy reuses connections. */
  connections: number;
  upgrades: number;
  /** Requests per path, query string excluded. */
  paths: Map<string, number>;
}

export interface HttpUpstream extends Closable {
  readonly host: LoopbackHost;
  readonly port: number;
  /** `host:port`, bracketed for IPv6: the authority a proxy is asked to reach. */
  readonly authority: string;
  /** Origin without a trailing slash, e.g. 'http://127.0.0.1:41234'. */
  readonly url: string;
  readonly stats: UpstreamStats;
  /** Every non-upgrade request in arrival order, as it was echoed. */
  readonly received: EchoBody[];
  resetStats(): void;
}

export function startHttpUpstream(opts: UpstreamOptions = {}): Promise<HttpUpstream> {
  return startUpstream(createHttpServer(), 'http', opts);
}

export function startHttpsUpstream(opts: HttpsUpstreamOptions): Promise<HttpUpstream> {
  const server = createHttpsServer({
    cert: opts.cert,
    key: opts.key,
    ca: opts.ca,
    requestCert: opts.requestCert ?? false,
    rejectUnauthorized: opts.rejectUnauthorized ?? true,
    // Advertising only HTTP/1.1 makes an h2-capable client fall back instead of failing the handshake.
    ALPNProtocols: ['http/1.1'],
  });
  return startUpstream(server, 'https', opts);
}

async function startUpstream(server: HttpServer, scheme: string, opts: UpstreamOptions): Promise<HttpUpstream> {
  const host = opts.host ?? '127.0.0.1';
  const stats = emptyStats();
  const received: EchoBody[] = [];
  const sockets = trackSockets(server, () => stats.connections++);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    countRequest(stats, req);
    void answer(req, res, opts, received);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    countRequest(stats, req);
    stats.upgrades++;
    handleUpgrade(req, socket, head);
  });
  const port = await listenLoopback(server, host);
  const authority = hostPort(host, port);
  return {
    host,
    port,
    authority,
    url: `${scheme}://${authority}`,
    stats,
    received,
    resetStats: () => resetStats(stats, received),
    close: () => closeServer(server, sockets),
  };
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  opts: UpstreamOptions,
  log: EchoBody[],
): Promise<void> {
  const body = await readBody(req);
  if (body === null) return;
  const echo = describeRequest(req, body, opts.name ?? 'upstream');
  log.push(echo);
  routeRequest({ req, res, echo, query: parseUrl(req.url).searchParams }, opts.routes ?? {});
}

/** Reads the whole request body; null if the client went away first. */
async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of req) chunks.push(chunk as Buffer);
  } catch {
    return null;
  }
  return Buffer.concat(chunks);
}

function countRequest(stats: UpstreamStats, req: IncomingMessage): void {
  stats.requests++;
  const path = pathOf(req.url);
  stats.paths.set(path, (stats.paths.get(path) ?? 0) + 1);
}

// Mutates in place: a test may hold on to `stats` or `stats.paths` across the reset.
function resetStats(stats: UpstreamStats, received: EchoBody[]): void {
  stats.requests = 0;
  stats.connections = 0;
  stats.upgrades = 0;
  stats.paths.clear();
  received.length = 0;
}

function emptyStats(): UpstreamStats {
  return { requests: 0, connections: 0, upgrades: 0, paths: new Map() };
}
