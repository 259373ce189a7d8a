// Responses on sockets that Node's HTTP server handed over: the 'upgrade' event, and client errors.
// (Also the raw HTTP/1.1 responder for CONNECT and Upgrade; kept out of local-reply.ts, which `egressway
// check` loads: node:http there would load Node's bundled undici, about 0.1 s of CPU per check.)
import type { IncomingMessage, ServerResponse as Response } from 'node:http';
import { ServerResponse, STATUS_CODES } from '../node-http.ts';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TunnelResponder } from './local-reply.ts';

/** How long a closing connection keeps reading (and discarding) what the client still sends. */
const LINGER_MS = 1000;

/**
 * A ServerResponse written on a socket Node handed over with 'upgrade', so that local replies and
 * ordinary upstream answers take the same code as every other request. The connection closes after
 * it (`Connection: close`): a request whose upgrade did not happen ends its connection, as in Envoy,
 * so no byte the client sent after it is ever parsed or forwarded. Until then the socket is not read.
 */
export function upgradeResponse(req: IncomingMessage, socket: Duplex): Response {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  res.once('finish', () => {
    if (res.socket) res.detachSocket(socket as Socket);
    lingeringClose(socket);
    process.nextTick(() => res.emit('close'));
  });
  return res;
}

/**
 * Ends a connection without resetting it: unread bytes from the client at close() make the kernel
 * send a RST, which can destroy the response before the client read it. So read and discard until
 * the client closes too, for at most LINGER_MS.
 */
export function lingeringClose(socket: Duplex, text?: string): void {
  socket.on('data', discard);
  socket.once('end', () => socket.destroy());
  socket.resume();
  if (text === undefined) socket.end();
  else socket.end(text);
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

function discard(): void {}

/**
 * The answer to a request Node's parser refused (clientError), by its llhttp code, as Node's own
 * default handler picks it: 431 for a head over the limit, 413 for chunk extensions, 408 for a
 * request timeout, else 400.
 */
export function clientErrorReply(code: string | undefined, message: string): string {
  const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW' ? 413 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = status === 431
    ? 'egressway: request head larger than the limit (60 KiB of request line and headers)\n'
    : `egressway: malformed HTTP request (${code ?? message})\n`;
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/** Answers on a raw HTTP/1.1 socket, as a CONNECT or Upgrade request arrives. */
export function http1Responder(socket: Duplex): TunnelResponder {
  return {
    accept() {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    },
    refuse(status, headers, body) {
      if (socket.destroyed || !socket.writable) return;
      let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
      for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
      socket.end(`${head}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    },
  };
}
