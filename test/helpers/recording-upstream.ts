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
  reset(): void;
}

export async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const requests: RecordedRequest[] = [];
  let chunks: Buffer[] = [];
  let connections = 0;
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
    const up = connect(httpPort, '127.0.0.1');
    client.on('data', (c: Buffer) => chunks.push(c));
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
    reset() {
      requests.length = 0;
      chunks = [];
      connections = 0;
    },
    async close() {
      await closeServer(front, frontSockets);
      await closeServer(http, httpSockets);
    },
  };
}
