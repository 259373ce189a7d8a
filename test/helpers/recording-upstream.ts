// An HTTP upstream behind a byte recorder, for smuggling tests: `bytes()` is exactly what the proxy
// wrote towards the upstream (every connection, in order), and `requests` is what a strict HTTP/1.1
// server (Node's llhttp) parsed out of it, each added once its body ended. A request the proxy
// refused must leave both empty; a request smuggled past the proxy shows up in both.
//
// Routes: `/slow...` answers after 300 ms; an Upgrade to `/ws...` gets `101` and an echo; any other
// Upgrade is answered as an ordinary request (200) and the connection keeps being parsed, as a
// server that does not speak the protocol does. Everything else: 200 with `METHOD url` as the body.
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { closeServer, listenLoopback, trackSockets, type Closable } from './lifecycle.ts';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: string;
}

export interface RecordingUpstream extends Closable {
  readonly port: number;
  /** What reached the upstream, as latin1 text, all connections joined in arrival order. */
  bytes(): string;
  readonly requests: RecordedRequest[];
  /** Connections the recorder accepted. */
  connections(): number;
  /** Resolves once the connection that carried `marker` is closed by the proxy (or rejects after `ms`). */
  closedAfter(marker: string, ms?: number): Promise<void>;
  reset(): void;
}

export async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const requests: RecordedRequest[] = [];
  let chunks: Buffer[] = [];
  let connections = 0;
  const conns: { text: string; closed: boolean; onClose: (() => void)[] }[] = [];
  const http = createHttpServer({ maxHeaderSize: 256 * 1024, shouldUpgradeCallback: (req) => (req.url ?? '').startsWith('/ws') }, (req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body });
      const text = `${req.method} ${req.url}\n`;
      const send = () => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) }).end(text);
      if ((req.url ?? '').startsWith('/slow')) setTimeout(send, 300);
      else send();
    });
  });
  http.on('upgrade', (req, socket, head) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: '' });
    socket.on('error', () => socket.destroy());
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${req.headers.upgrade}\r\nconnection: Upgrade\r\n\r\n`);
    if (head.length) socket.write(head);
    socket.pipe(socket);
  });
  const httpSockets = trackSockets(http);
  const httpPort = await listenLoopback(http);

  const front = createTcpServer((client) => {
    connections++;
    const conn = { text: '', closed: false, onClose: [] as (() => void)[] };
    conns.push(conn);
    client.once('close', () => {
      conn.closed = true;
      for (const f of conn.onClose.splice(0)) f();
    });
    const up = connect(httpPort, '127.0.0.1');
    client.on('data', (c: Buffer) => {
      chunks.push(c);
      conn.text += c.toString('latin1');
      if (!conns.includes(conn)) conns.push(conn); // a pooled connection that outlived a reset()
    });
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
    client.pipe(up);
    up.pipe(client);
  });
  const frontSockets = trackSockets(front);
  const port = await listenLoopback(front);
  return {
    port,
    requests,
    bytes: () => Buffer.concat(chunks).toString('latin1'),
    connections: () => connections,
    closedAfter(marker, ms = 2000) {
      const conn = conns.find((c) => c.text.includes(marker));
      if (!conn) return Promise.reject(new Error(`no upstream connection carried ${marker}`));
      if (conn.closed) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`the upstream connection that carried ${marker} is still open after ${ms} ms`)), ms);
        conn.onClose.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
    reset() {
      requests.length = 0;
      conns.length = 0;
      chunks = [];
      connections = 0;
    },
    async close() {
      await closeServer(front, frontSockets);
      await closeServer(http, httpSockets);
    },
  };
}
