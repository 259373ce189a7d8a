// The agent's HTTP proxy (127.0.0.1:15001) for HTTP_PROXY/HTTPS_PROXY clients: CONNECT becomes one
// HBONE tunnel; an absolute-form http:// request is sent as HTTP/1.1 inside its own tunnel, so the
// waypoint applies L7 policy to it. NO_PROXY hosts are dialled direct.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseAuthority, splitAbsolute } from '../dataplane/authority.ts';
import { adaptStream } from '../hbone/stream-adapter.ts';
import { dial, join, type DialDeps } from './dial.ts';
import type { NoProxy } from './no-proxy.ts';

/** How long a finished tunnel may wait for the waypoint's END_STREAM before it is reset. */
const STREAM_LINGER_MS = 5_000;

const HOP_BY_HOP = new Set(['proxy-connection', 'proxy-authorization', 'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export class AgentHttpProxy {
  #server: Server;
  #deps: DialDeps;
  #noProxy: NoProxy;

  constructor(deps: DialDeps, noProxy: NoProxy) {
    this.#deps = deps;
    this.#noProxy = noProxy;
    this.#server = createServer({ requestTimeout: 0 }, (req, res) => void this.#onRequest(req, res));
    this.#server.on('connect', (req, socket: Socket, head) => void this.#onConnect(req, socket, head));
    this.#server.on('clientError', (_e, socket: Duplex) => socket.destroy());
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => resolve(this.#server.address() as AddressInfo));
    });
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((r) => this.#server.close(() => r()));
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

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const abs = splitAbsolute(req.url ?? '');
    const a = abs?.scheme === 'http' ? parseAuthority(abs.authority, 80) : undefined;
    if (!abs || !a) return void res.writeHead(400, { 'content-type': 'text/plain' }).end('egressway agent: send absolute-form http:// requests, or CONNECT for TLS\n');
    const r = await dial(this.#deps, a.host, a.port, client(req.socket), this.#noProxy(a.host, a.port));
    if (!r.ok) {
      req.resume();
      return void res.writeHead(r.status, { 'content-type': 'text/plain', 'x-egressway-agent': 'refused' }).end(`egressway agent: ${r.reason}\n`);
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers.connection = 'close';
    const stream = r.via === 'hbone' ? adaptStream(r.stream, { local: '127.0.0.1:0', remote: '127.0.0.1:0' }) : r.stream;
    const up = request({ createConnection: () => stream as Socket, method: req.method, path: abs.path, headers });
    up.on('response', (ur) => {
      const h: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(ur.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) h[k] = v;
      res.writeHead(ur.statusCode ?? 502, h);
      ur.pipe(res);
    });
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`egressway agent: ${err.message}\n`);
      else res.destroy();
      stream.destroy();
    });
    // A finished exchange closes its tunnel gracefully (END_STREAM both ways). Resetting the h2
    // stream instead makes the waypoint's in-flight frames land on a closed stream, and enough of
    // those make Node drop the whole pooled session ("Too many invalid HTTP/2 frames").
    res.once('close', () => {
      if (!res.writableFinished) return void stream.destroy();
      stream.end();
      setTimeout(() => stream.destroy(), STREAM_LINGER_MS).unref();
    });
    req.pipe(up);
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
