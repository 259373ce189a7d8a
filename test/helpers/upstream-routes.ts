// What the test upstream does per path. Each behaviour reproduces one way a real upstream answers or
// fails, so that a proxy test can name the failure it provokes: `/reset` is a TCP RST, `/close` a clean
// FIN before any response, `/close-mid-body` a truncated body, `/delay` a slow first byte, `/drip` a
// slow body. Everything else echoes the request as JSON, so a test can assert what the proxy forwarded.

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';

/** The JSON body of every echo response: the request as the upstream received it. */
export interface EchoBody {
  /** The upstream's `name` option, to tell several upstreams apart behind one proxy. */
  upstream: string;
  method: string;
  url: string;
  httpVersion: string;
  headers: Record<string, string | string[] | undefined>;
  /** Names in wire order and case, to check header casing or duplicates. */
  rawHeaders: string[];
  bodyLength: number;
  bodySha256: string;
  remoteAddress: string;
  remotePort: number;
  tls: TlsInfo | null;
}

export interface TlsInfo {
  servername: string | null;
  alpnProtocol: string | null;
  protocol: string | null;
  authorized: boolean;
  authorizationError: string | null;
  clientCert: { subject: string; subjectAltName: string; fingerprint256: string } | null;
}

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  echo: EchoBody;
  query: URLSearchParams;
}

/** A custom behaviour for one exact path; it owns the response. */
export type RouteHandler = (ctx: RouteContext) => void;

const CHUNK_SIZE = 64 * 1024;

/** The deterministic payload `/bytes/N` sends, so tests can compare lengths and hashes. */
export function bytesPayload(length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = i & 0xff;
  return buf;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function describeRequest(req: IncomingMessage, body: Buffer, upstream: string): EchoBody {
  return {
    upstream,
    method: req.method ?? '',
    url: req.url ?? '',
    httpVersion: req.httpVersion,
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    bodyLength: body.length,
    bodySha256: sha256(body),
    remoteAddress: req.socket.remoteAddress ?? '',
    remotePort: req.socket.remotePort ?? 0,
    tls: req.socket instanceof TLSSocket ? describeTls(req.socket) : null,
  };
}

function describeTls(socket: TLSSocket): TlsInfo {
  const peer = socket.getPeerCertificate();
  // An absent client certificate comes back as an empty object, not null.
  const hasPeer = peer !== null && Object.keys(peer).length > 0;
  const servername = (socket as TLSSocket & { servername?: string | false }).servername;
  return {
    servername: typeof servername === 'string' ? servername : null,
    alpnProtocol: socket.alpnProtocol || null,
    protocol: socket.getProtocol(),
    authorized: socket.authorized,
    authorizationError: socket.authorizationError ? String(socket.authorizationError) : null,
    clientCert: hasPeer
      ? {
          subject: formatSubject(peer.subject),
          subjectAltName: peer.subjectaltname ?? '',
          fingerprint256: peer.fingerprint256,
        }
      : null,
  };
}

function formatSubject(subject: object | undefined): string {
  if (!subject) return '';
  const entries = Object.entries(subject as Record<string, string | string[]>);
  return entries.map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`).join(',');
}

/** Parses origin-form and absolute-form request targets alike (a misbehaving proxy may send either). */
export function parseUrl(target: string | undefined): URL {
  return new URL(target ?? '/', 'http://upstream.invalid');
}

export function pathOf(target: string | undefined): string {
  return parseUrl(target).pathname;
}

/** Picks the behaviour for a request whose body has already been read. */
export function routeRequest(ctx: RouteContext, custom: Readonly<Record<string, RouteHandler>>): void {
  const path = pathOf(ctx.echo.url);
  const handler = custom[path] ?? builtinFor(path);
  handler(ctx);
}

function builtinFor(path: string): RouteHandler {
  const [, first, arg] = path.split('/');
  if (first === 'status' && arg) return (ctx) => sendStatus(ctx, Number(arg));
  if (first === 'delay' && arg) return (ctx) => sendAfterDelay(ctx, Number(arg));
  if (first === 'bytes' && arg) return (ctx) => void sendBytes(ctx, Number(arg));
  if (path === '/reset') return (ctx) => ctx.req.socket.resetAndDestroy();
  if (path === '/close') return (ctx) => ctx.req.socket.destroy();
  if (path === '/close-mid-body') return closeMidBody;
  if (path === '/drip') return drip;
  return (ctx) => sendJson(ctx.res, 200, ctx.echo);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  // RFC 9110: 1xx, 204 and 304 carry no content; Node would otherwise drop or reject it.
  if (status < 200 || status === 204 || status === 304) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendStatus(ctx: RouteContext, status: number): void {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    sendJson(ctx.res, 400, { error: `status must be 200-599, got ${status}` });
    return;
  }
  sendJson(ctx.res, status, ctx.echo);
}

function sendAfterDelay(ctx: RouteContext, ms: number): void {
  const timer = setTimeout(() => sendJson(ctx.res, 200, ctx.echo), ms);
  // A client that gives up (or an upstream being closed) must not leave the timer holding the loop.
  ctx.res.once('close', () => clearTimeout(timer));
}

/** `/bytes/N` sends N bytes with content-length; `?chunked=1` omits it to force chunked encoding. */
async function sendBytes(ctx: RouteContext, length: number): Promise<void> {
  const { res, query } = ctx;
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (query.get('chunked') !== '1') headers['content-length'] = String(length);
  res.writeHead(200, headers);
  const payload = bytesPayload(length);
  for (let offset = 0; offset < length && !res.destroyed; offset += CHUNK_SIZE) {
    if (!res.write(payload.subarray(offset, offset + CHUNK_SIZE))) await drainOrClose(res);
  }
  res.end();
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

/** Promises 1 MiB, sends 1 KiB, then drops the connection: the client sees a truncated body. */
function closeMidBody({ res }: RouteContext): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(1024 * 1024) });
  // The write callback runs once the bytes reach the kernel, so the headers are really on the wire.
  res.write(bytesPayload(1024), () => res.socket?.destroy());
}

/** `/drip?chunks=5&intervalMs=50&size=16` writes one chunk per interval, then ends. */
function drip({ res, query }: RouteContext): void {
  const chunks = Number(query.get('chunks') ?? 5);
  const intervalMs = Number(query.get('intervalMs') ?? 50);
  const chunk = Buffer.alloc(Number(query.get('size') ?? 16), 'x');
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  let sent = 0;
  const timer = setInterval(() => {
    res.write(chunk);
    if (++sent >= chunks) {
      clearInterval(timer);
      res.end();
    }
  }, intervalMs);
  res.once('close', () => clearInterval(timer));
}

/**
 * Answers an Upgrade on `/ws` with a raw 101 and then echoes bytes. The Sec-WebSocket-Accept header is
 * computed so a real WebSocket client also accepts the handshake; frames are echoed unparsed.
 */
export function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  if (pathOf(req.url) !== '/ws') {
    socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    return;
  }
  const upgrade = req.headers.upgrade ?? 'websocket';
  const lines = ['HTTP/1.1 101 Switching Protocols', `upgrade: ${upgrade}`, 'connection: Upgrade'];
  const key = req.headers['sec-websocket-key'];
  if (typeof key === 'string') lines.push(`sec-websocket-accept: ${websocketAccept(key)}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (head.length > 0) socket.write(head);
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
}

function websocketAccept(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}
