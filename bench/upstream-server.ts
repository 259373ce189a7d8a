// The origin behind every bench target: a loopback HTTP server with a small fixed body (or
// `?size=N` bytes) over keep-alive. It counts the requests it serves, and `GET /__bench/count`
// (not counted) reports that number, so the bench can prove that load reached the upstream through
// the proxy under test rather than being answered somewhere else.
//
//   node bench/upstream-server.ts [--port 0]
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

export const COUNT_PATH = '/__bench/count';
const SMALL_BODY = Buffer.from('hello from the bench upstream\n');
const MAX_SIZE = 64 * 1024 * 1024;

// One buffer per size, so a large body costs the upstream a copy into the socket and nothing more.
const bodies = new Map<number, Buffer>();
let served = 0;

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
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ requests: served }));
    return;
  }
  served++;
  const body = bodyFor(req.url ?? '/');
  if (!body) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(`size is capped at ${MAX_SIZE} bytes\n`);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
}

function main(): void {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
  // Longer than the proxies' pool keep-alive (60 s), so the upstream never closes a pooled socket
  // first and a proxy never races a request onto a closing connection mid-run.
  const server = createServer({ keepAliveTimeout: 65_000 }, handle);
  server.listen(Number(values.port), '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    const listeners = { http: `127.0.0.1:${port}` };
    process.stdout.write(`${JSON.stringify({ msg: `listening: bench upstream http://${listeners.http}`, listeners })}\n`);
  });
}

// The bench imports COUNT_PATH from here; only a direct run starts a server.
if (import.meta.main) main();
