// Node clients that go through the proxy under test: undici's fetch with a ProxyAgent for HTTP(S), and
// a raw CONNECT for cases fetch hides (a refused tunnel, bytes that are not HTTP).

import { connect as h2connect } from 'node:http2';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { fetch, ProxyAgent } from 'undici';
import type { Headers, RequestInit } from 'undici';
import { withTimeout } from './lifecycle.ts';
import type { Closable } from './lifecycle.ts';

export interface ProxyClientOptions {
  /** Trust for an https:// target reached through the tunnel, e.g. `ca.trust`. */
  ca?: string;
  /** Trust for the proxy's own TLS when proxyUrl is https://. */
  proxyCa?: string;
  /**
   * true (undici's default): every request goes through CONNECT. false: plain http:// targets are sent
   * to the proxy in absolute form (GET http://host/path), as a classic forward proxy expects.
   */
  tunnel?: boolean;
  /** Headers on the CONNECT request or sent to the proxy, e.g. Proxy-Authorization. */
  proxyHeaders?: Record<string, string>;
  /**
   * Connections per origin. Set 1 to assert reuse: undici opens a second one when a request is
   * dispatched before the previous response has released its socket.
   */
  connections?: number;
}

/** The response, already read in full, so the agent behind it can be closed at once. */
export interface ProxyResponse {
  status: number;
  headers: Headers;
  body: Buffer;
  text(): string;
  json<T = unknown>(): T;
}

export interface ProxyClient extends Closable {
  fetch(url: string, init?: RequestInit): Promise<ProxyResponse>;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** One agent for several requests, to test connection reuse. Close it when done. */
export function proxyClient(proxyUrl: string, opts: ProxyClientOptions = {}): ProxyClient {
  const agent = new ProxyAgent({
    uri: proxyUrl,
    proxyTunnel: opts.tunnel ?? true,
    headers: opts.proxyHeaders,
    requestTls: opts.ca ? { ca: opts.ca } : undefined,
    proxyTls: opts.proxyCa ? { ca: opts.proxyCa } : undefined,
    connections: opts.connections,
  });
  return {
    fetch: (url, init = {}) => readResponse(url, { ...init, dispatcher: agent }),
    close: () => agent.close(),
  };
}

/** A single request through the proxy with its own agent, closed before returning. */
export async function fetchVia(
  proxyUrl: string,
  url: string,
  init: RequestInit = {},
  opts: ProxyClientOptions = {},
): Promise<ProxyResponse> {
  const client = proxyClient(proxyUrl, opts);
  try {
    return await client.fetch(url, init);
  } finally {
    await client.close();
  }
}

async function readResponse(url: string, init: RequestInit): Promise<ProxyResponse> {
  // AbortSignal.timeout's timer is unreferenced, so a hung proxy fails the test instead of hanging it.
  const response = await fetch(url, { signal: AbortSignal.timeout(DEFAULT_TIMEOUT_MS), ...init });
  const body = Buffer.from(await response.arrayBuffer());
  return {
    status: response.status,
    headers: response.headers,
    body,
    text: () => body.toString('utf8'),
    json: <T>() => JSON.parse(body.toString('utf8')) as T,
  };
}

export interface Tunnel extends Closable {
  /** Status of the proxy's answer to CONNECT. */
  status: number;
  /** The proxy's response head, status line included, for asserting headers and reasons. */
  head: string;
  /** After a 2xx, the tunnel's bytes; any bytes the proxy sent after its head are unshifted back. */
  socket: Socket;
}

/** Sends `CONNECT target` to the proxy at `proxyAuthority` (host:port) and reads the response head. */
export async function openTunnel(
  proxyAuthority: string,
  target: string,
  headers: Record<string, string> = {},
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<Tunnel> {
  const { hostname, port } = new URL(`http://${proxyAuthority}`);
  const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port) });
  // A reset tunnel is a normal test outcome; it shows up as 'close' instead of crashing the process.
  socket.on('error', () => {});
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${extra}\r\n`);
  try {
    const head = await withTimeout(readHead(socket), timeoutMs, () => `no CONNECT response within ${timeoutMs}ms`);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    return { status, head, socket, close: () => destroySocket(socket) };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/**
 * Reads up to the blank line that ends a response head and leaves later bytes in the socket. It reads in
 * paused mode ('readable'), so once done the socket is back in its initial state: a later 'data'
 * listener, pipe() or events.once() starts it flowing and sees every tunnelled byte.
 */
function readHead(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onReadable = (): void => {
      for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null;) {
        buffered = Buffer.concat([buffered, chunk]);
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) continue;
        cleanup();
        if (end + 4 < buffered.length) socket.unshift(buffered.subarray(end + 4));
        resolve(buffered.subarray(0, end).toString('latin1'));
        return;
      }
    };
    const onClose = (): void => {
      cleanup();
      const got = JSON.stringify(buffered.toString('latin1'));
      reject(new Error(`proxy closed the connection before a CONNECT response; received ${got}`));
    };
    const cleanup = (): void => void socket.off('readable', onReadable).off('end', onClose).off('close', onClose);
    socket.on('readable', onReadable).once('end', onClose).once('close', onClose);
  });
}

function destroySocket(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()).destroy());
}

/** One HTTP/2 (prior knowledge) GET inside a CONNECT tunnel through the proxy, as an h2c client in HBONE sends it. */
export async function h2GetInTunnel(proxyAddress: string, authority: string, path: string): Promise<{ tunnelStatus: number; status: number; text: string }> {
  const t = await openTunnel(proxyAddress, authority);
  if (t.status !== 200) {
    await t.close();
    return { tunnelStatus: t.status, status: 0, text: '' };
  }
  const session = h2connect(`http://${authority}`, { createConnection: () => t.socket });
  try {
    return await new Promise((resolve, reject) => {
      const req = session.request({ ':method': 'GET', ':path': path });
      let status = 0;
      let text = '';
      req.on('response', (h) => { status = Number(h[':status']); });
      req.on('data', (c: Buffer) => { text += c.toString(); });
      req.on('end', () => resolve({ tunnelStatus: t.status, status, text }));
      req.on('error', reject);
      req.end();
    });
  } finally {
    session.destroy();
    await t.close();
  }
}
