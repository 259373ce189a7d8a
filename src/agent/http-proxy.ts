// The agent's HTTP proxy (127.0.0.1:15001) for HTTP_PROXY/HTTPS_PROXY clients: CONNECT becomes one
// HBONE tunnel; an absolute-form http:// request is sent as HTTP/1.1 over a kept-alive HBONE stream
// to its destination (http-pool.ts), so the waypoint applies L7 policy to each request. NO_PROXY
// hosts are dialled direct.
import { listen } from '../dataplane/listen.ts';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer, request } from '../node-http.ts';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseAuthority, splitAbsolute } from '../dataplane/authority.ts';
import type { Dispatcher } from 'undici';
import { destination, dial, join, type DialDeps } from './dial.ts';
import { forwardResponseHead, type ResponseHead } from '../dataplane/headers.ts';
import { HboneHttpPools, RefusedError, type HttpPoolOptions, type PooledHandler } from './http-pool.ts';
import type { NoProxy } from './no-proxy.ts';

/** How long a finished tunnel may wait for the waypoint's END_STREAM before it is reset. */
const STREAM_LINGER_MS = 5_000;

// Hop-by-hop fields (RFC 9110 §7.6.1), the proxy-only ones, and `expect` (node:http answers
// 100-continue to the client itself; the body then streams on).
const HOP_BY_HOP = new Set(['proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);

export class AgentHttpProxy {
  #server: Server;
  #deps: DialDeps;
  #noProxy: NoProxy;
  #pools: HboneHttpPools;

  constructor(deps: DialDeps, noProxy: NoProxy, pool: HttpPoolOptions = {}) {
    this.#deps = deps;
    this.#noProxy = noProxy;
    this.#pools = new HboneHttpPools(deps, pool);
    // Same keep-alive as the waypoint's proxy listener (65 s). With Node's 5 s default, a client that
    // reuses an idle connection just as the agent closes it sees a reset; 65 s makes that rare.
    this.#server = createServer({ requestTimeout: 0, keepAliveTimeout: 65_000 }, (req, res) => void this.#onRequest(req, res));
    this.#server.on('connect', (req, socket: Socket, head) => void this.#onConnect(req, socket, head));
    this.#server.on('clientError', (_e, socket: Duplex) => socket.destroy());
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return listen(this.#server, port, host);
  }

  /** Pooled HBONE streams: opened so far, and the pools holding them (tests check reuse). */
  get pools(): HboneHttpPools {
    return this.#pools;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await Promise.all([new Promise<void>((r) => this.#server.close(() => r())), this.#pools.close()]);
  }

  async #onConnect(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    const a = parseAuthority(req.url, 0);
    if (!a || a.port === 0) return void socket.end(reply(400, `CONNECT target "${req.url}" must be host:port`));
    const r = await dial(this.#deps, a.host, a.port, client(socket), this.#noProxy(a.host, a.port));
    if (!r.ok) return void socket.end(reply(r.status, r.reason));
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) r.stream.write(head);
    join(socket, r.stream);
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const abs = splitAbsolute(req.url ?? '');
    const a = abs?.scheme === 'http' ? parseAuthority(abs.authority, 80) : undefined;
    if (!abs || !a) return void res.writeHead(400, { 'content-type': 'text/plain' }).end('egressway agent: send absolute-form http:// requests, or CONNECT for TLS\n');
    const dest = destination(this.#deps, a.host, a.port, this.#noProxy(a.host, a.port));
    if (dest.kind === 'refuse') return refused(req, res, dest.status, dest.reason);
    if (dest.kind === 'direct') return void this.#direct(req, res, a.host, a.port, abs.path);
    // Kept-alive HBONE streams: no `Connection: close`, the stream goes back to the pool.
    this.#pools.dispatch(dest, client(req.socket), {
      method: req.method as Dispatcher.HttpMethod, path: abs.path,
      headers: requestHeaders(req.rawHeaders, abs.authority), body: hasBody(req) ? req : null,
    }, new Relay(req, res));
  }

  /** NO_PROXY and --passthrough: one direct connection per request, closed after it. */
  async #direct(req: IncomingMessage, res: ServerResponse, host: string, port: number, path: string): Promise<void> {
    const r = await dial(this.#deps, host, port, client(req.socket), true);
    if (!r.ok) return refused(req, res, r.status, r.reason);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers.connection = 'close';
    const stream = r.stream;
    const up = request({ createConnection: () => stream as Socket, method: req.method, path, headers });
    up.on('response', (ur) => {
      res.writeHead(ur.statusCode ?? 502, responseHeaders(ur.headers));
      ur.pipe(res);
    });
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`egressway agent: ${err.message}\n`);
      else res.destroy();
      stream.destroy();
    });
    res.once('close', () => {
      if (!res.writableFinished) return void stream.destroy();
      stream.end();
      // The timer must not outlive the stream: it would hold the stream and its request for its
      // whole delay.
      const t = setTimeout(() => stream.destroy(), STREAM_LINGER_MS).unref();
      stream.once('close', () => clearTimeout(t));
    });
    req.pipe(up);
  }
}

function refused(req: IncomingMessage, res: ServerResponse, status: number, reason: string): void {
  req.resume();
  res.writeHead(status, { 'content-type': 'text/plain', 'x-egressway-agent': 'refused' }).end(`egressway agent: ${reason}\n`);
}

/** The client's request fields minus hop-by-hop ones (and those its Connection names); Host stays. */
/**
 * Headers for the request inside the HBONE stream. Host is the absolute-form target's authority
 * (RFC 9112 §3.2.2: a proxy replaces it), so it names the destination the stream goes to, as the
 * waypoint requires (it refuses a Host naming another destination with 421).
 */
function requestHeaders(raw: readonly string[], host: string): string[] {
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') {
      for (const t of raw[i + 1]!.split(',')) (named ??= new Set()).add(t.trim().toLowerCase());
    }
  }
  const out: string[] = ['host', host];
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (k !== 'host' && !HOP_BY_HOP.has(k) && !named?.has(k)) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

function responseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in headers) {
    const v = headers[k];
    if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  }
  return out;
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Relays the waypoint's answer with back-pressure; a client that goes away aborts its request.
 * undici's legacy handler shape, which it calls without an adapter: the raw response head goes to
 * writeHead as flat pairs in one pass, by the waypoint's own function (latin1, so every byte goes
 * out as it came; hop-by-hop and Connection-listed fields dropped), with no per-response header
 * object or controller (the newer shape's adapter makes both, and the pool wrapped it once more:
 * together about 2% of the agent's CPU at 1000 rps). One object and one 'close' listener per
 * request, callbacks on the prototype.
 */
class Relay implements PooledHandler, ResponseHead {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  #abort: ((err: Error) => void) | undefined = undefined;
  #resume: (() => void) | undefined = undefined;
  done: (() => void) | undefined = undefined;
  // ResponseHead: facts forwardResponseHead reports, unused here.
  grpcStatus: string | undefined = undefined;
  rateLimited = false;

  constructor(req: IncomingMessage, res: ServerResponse) {
    this.#req = req;
    this.#res = res;
    res.once('close', () => {
      if (!res.writableFinished) this.#abort?.(new Error('the client closed the connection'));
    });
  }

  onConnect(abort: (err: Error) => void): void {
    this.#abort = abort;
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true; // 100-continue was answered by node:http already; other 1xx are not relayed
    this.#resume = resume;
    this.#res.writeHead(statusCode, statusText || undefined, forwardResponseHead(raw, this));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#res.write(chunk)) return true;
    if (this.#resume) this.#res.once('drain', this.#resume);
    return false;
  }

  onComplete(): void {
    this.done?.();
    this.#res.end();
  }

  onError(err: Error): void {
    this.done?.();
    const req = this.#req, res = this.#res;
    if (err instanceof RefusedError) return refused(req, res, err.status, err.message);
    if (res.headersSent) return void res.destroy(err);
    req.resume();
    res.writeHead(502, { 'content-type': 'text/plain' }).end(`egressway agent: ${err.message}\n`);
  }
}

function client(s: Duplex): string {
  const sock = s as Socket;
  return sock.remoteAddress?.includes(':') ? `[${sock.remoteAddress}]:${sock.remotePort}` : `${sock.remoteAddress}:${sock.remotePort}`;
}

function reply(status: number, reason: string): string {
  const body = `egressway agent: ${reason}\n`;
  return `HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : status === 400 ? 'Bad Request' : 'Error'}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
