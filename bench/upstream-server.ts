// The origin behind every bench target: a loopback HTTP server with a small fixed body (or
// `?size=N` bytes) over keep-alive. It counts the requests it serves, and `GET /__bench/count`
// (not counted) reports that number, so the bench can prove that load reached the upstream through
// the proxy under test rather than being answered somewhere else.
//
// With --tls-cert and --tls-key it also serves the same handler over HTTPS on a second port
// (`listeners.https`), so a bench can compare a plain and a TLS upstream served by one process. The
// count covers both; `tlsRequests` says how many of them came over HTTPS. It stays on the plain port.
//
//   node bench/upstream-server.ts [--port 0] [--tls-cert FILE --tls-key FILE [--tls-port 0]]
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import { parseArgs } from 'node:util';

export const COUNT_PATH = '/__bench/count';
const SMALL_BODY = Buffer.from('hello from the bench upstream\n');
const MAX_SIZE = 64 * 1024 * 1024;

// One buffer per size, so a large body costs the upstream a copy into the socket and nothing more.
const bodies = new Map<number, Buffer>();
let served = 0;
/** Of `served`, those that came over the HTTPS listener. */
let servedTls = 0;

function bodyFor(url: string): Buffer | undefined {
  const m = /[?&]size=(\d+)/.exec(url);
  if (!m) return SMALL_BODY;
  const size = Number(m[1]);
  if (size > MAX_SIZE) return undefined;
  let body = bodies.get(size);
  if (!body) {
    body = Buffer.alloc(size, 'x');
    bodies.set(size, body);
  }
  return body;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === COUNT_PATH) {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ requests: served, tlsRequests: servedTls }));
    return;
  }
  served++;
  if ('encrypted' in req.socket) servedTls++;
  const body = bodyFor(req.url ?? '/');
  if (!body) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(`size is capped at ${MAX_SIZE} bytes\n`);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
}

function listen(server: Server, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' }, 'tls-port': { type: 'string', default: '0' },
      'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' },
    },
  });
  if (!values['tls-cert'] !== !values['tls-key']) throw new Error('--tls-cert and --tls-key go together');
  // Longer than the proxies' pool keep-alive (60 s), so the upstream never closes a pooled socket
  // first and a proxy never races a request onto a closing connection mid-run.
  const keepAliveTimeout = 65_000;
  const listeners: Record<string, string> = { http: await listen(createServer({ keepAliveTimeout }, handle), Number(values.port)) };
  if (values['tls-cert'] && values['tls-key']) {
    const tls = createTlsServer({
      keepAliveTimeout, cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']),
    }, handle);
    listeners.https = await listen(tls, Number(values['tls-port']));
  }
  const urls = Object.entries(listeners).map(([scheme, addr]) => `${scheme}://${addr}`).join(', ');
  process.stdout.write(`${JSON.stringify({ msg: `listening: bench upstream ${urls}`, listeners })}\n`);
}

// The bench imports COUNT_PATH from here; only a direct run starts a server.
if (import.meta.main) await main();
