// The zero-feature baseline: an absolute-form HTTP forward proxy built from the same parts as
// Egressway's data plane (a node:http server, one undici Pool per origin driven through
// dispatch(), streaming both ways with back-pressure, keep-alive on both sides) and nothing else:
// no policy, metrics, logs or request IDs. Egressway's overhead is measured against it.
//
//   node bench/baseline-forwarder.ts [--port 0] [--upstream-address 127.0.0.1]
//
// bench/lib/forwarder-pool.ts runs several of these in one port (cluster or worker threads) through
// startForwarder(), to compare the two ways of using every core.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';

// Hop-by-hop fields (RFC 9110 §7.6.1) and the proxy-only ones are not forwarded; `host` is rebuilt
// from the absolute-form target.
const DROP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
]);

interface Target {
  readonly authority: string;
  readonly port: number;
  readonly path: string;
}

/** `http://authority/path` only: the baseline is an HTTP_PROXY, nothing else. */
function parseTarget(url: string): Target | undefined {
  if (!url.startsWith('http://')) return undefined;
  const slash = url.indexOf('/', 7);
  const authority = slash < 0 ? url.slice(7) : url.slice(7, slash);
  const colon = authority.lastIndexOf(':');
  const port = colon > authority.lastIndexOf(']') ? Number(authority.slice(colon + 1)) : 80;
  if (!authority || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { authority, port, path: slash < 0 ? '/' : url.slice(slash) };
}

function requestHeaders(raw: readonly string[], authority: string): string[] {
  const out = ['host', authority];
  for (let i = 0; i < raw.length; i += 2) {
    if (!DROP.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

function responseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !DROP.has(name)) out[name] = value;
  }
  return out;
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

function responseHandler(res: ServerResponse): Dispatcher.DispatchHandler {
  let controller: Dispatcher.DispatchController | undefined;
  // A client that goes away must not leave its upstream request running.
  res.once('close', () => { if (!res.writableFinished) controller?.abort(new Error('client closed the connection')); });
  return {
    onRequestStart(c) { controller = c; },
    onResponseStart(_c, statusCode, headers, statusMessage) {
      if (statusCode < 200) return; // Node answered 100-continue itself; other 1xx are not relayed
      res.writeHead(statusCode, statusMessage || undefined, responseHeaders(headers));
    },
    onResponseData(c, chunk) {
      if (!res.write(chunk)) {
        c.pause();
        res.once('drain', () => c.resume());
      }
    },
    onResponseEnd() { res.end(); },
    onResponseError(_c, err) {
      if (res.headersSent) res.destroy(err);
      else res.writeHead(502, { 'content-type': 'text/plain' }).end(`upstream error: ${err.message}\n`);
    },
  };
}

function createForwarder(upstreamAddress: string): (req: IncomingMessage, res: ServerResponse) => void {
  // Every origin dials the same loopback address at its own port: the bench's stand-in for the
  // STATIC ServiceEntry endpoint Egressway is given, so neither side resolves DNS.
  const pools = new Map<number, Pool>();
  const poolFor = (port: number): Pool => {
    let pool = pools.get(port);
    if (!pool) {
      // Same keep-alive as Egressway's pools, so idle-socket churn is equal on both sides.
      pool = new Pool(`http://${upstreamAddress}:${port}`, { keepAliveTimeout: 60_000 });
      pools.set(port, pool);
    }
    return pool;
  };
  return (req, res) => {
    const target = parseTarget(req.url ?? '');
    if (!target) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('absolute-form http:// requests only\n');
      return;
    }
    const opts: Dispatcher.DispatchOptions = {
      method: req.method as Dispatcher.HttpMethod,
      path: target.path,
      headers: requestHeaders(req.rawHeaders, target.authority),
      body: hasBody(req) ? req : null,
    };
    poolFor(target.port).dispatch(opts, responseHandler(res));
  };
}

/** Listens on 127.0.0.1:`port` (reusePort: share it with other threads, SO_REUSEPORT). */
export function startForwarder(port: number, upstreamAddress: string, reusePort = false): Promise<AddressInfo> {
  // Same server timeouts as Egressway's proxy listener.
  const server = createServer({ requestTimeout: 0, keepAliveTimeout: 65_000 }, createForwarder(upstreamAddress));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', reusePort }, () => resolve(server.address() as AddressInfo));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '0' }, 'upstream-address': { type: 'string', default: '127.0.0.1' } },
  });
  const { port } = await startForwarder(Number(values.port), values['upstream-address']);
  const listeners = { proxy: `127.0.0.1:${port}` };
  process.stdout.write(`${JSON.stringify({ msg: `listening: baseline forwarder http://${listeners.proxy}`, listeners })}\n`);
}

if (import.meta.main) void main();
