// Corners of forwarding where the proxy must behave as Envoy does: a spent retry budget forwards
// the upstream's own answer, a reason phrase Node cannot write does not cost the client its
// connection, and a client that leaves during a fault delay never reaches the upstream.
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { curl } from '../helpers/curl.ts';
import { WAYPOINT_YAML, loopbackEntry, startInProcess, type InProcess } from '../helpers/inprocess.ts';

let http: Server;
let raw: TcpServer;
let wp: InProcess;
let hits = 0; // requests the HTTP upstream saw

const config = (httpPort: number, rawPort: number) => `${WAYPOINT_YAML}${loopbackEntry('api', httpPort)}${loopbackEntry('odd', rawPort)}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: istio-egress}
spec:
  hosts: [api.test]
  http:
  - match: [{uri: {prefix: /busy}}]
    retries: {attempts: 3, retryOn: 5xx}
    route: [{destination: {host: api.test}}]
  - match: [{uri: {prefix: /upload}}]
    timeout: 300ms
    route: [{destination: {host: api.test}}]
  - match: [{uri: {prefix: /slow}}]
    fault: {delay: {fixedDelay: 400ms, percentage: {value: 100}}}
    route: [{destination: {host: api.test}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: istio-egress}
spec:
  host: api.test
  trafficPolicy: {connectionPool: {http: {maxRetries: 0}}}
`;

before(async () => {
  http = createHttpServer((req, res) => {
    hits++;
    if (req.url?.startsWith('/upload')) return void req.pause(); // reads nothing, answers nothing
    if (req.url?.startsWith('/busy')) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('busy upstream\n');
    res.end('ok\n');
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  // An HTTP/1.1 server whose reason phrase is Latin-1 (0xE8): undici reads it as UTF-8, which gives
  // U+FFFD, a character Node refuses to write in a status line.
  raw = createTcpServer((s) => {
    s.once('data', () => {
      s.end(Buffer.concat([Buffer.from('HTTP/1.1 200 Tr'), Buffer.from([0xe8]), Buffer.from('s bien\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n')]));
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
  wp = await startInProcess(config((http.address() as { port: number }).port, (raw.address() as { port: number }).port));
});

after(async () => {
  await wp?.close();
  http?.close();
  raw?.close();
});

test('with the DestinationRule retry budget spent, the upstream response is forwarded, not replaced', async () => {
  const r = await curl(['-s', '-i', '-x', wp.proxyUrl, 'http://api.test/busy']);
  assert.match(r.stdout, /^HTTP\/1\.1 503/);
  assert.match(r.stdout, /busy upstream/, 'the body is the upstream\'s, not a local reply');
  const rec = await wp.nextRecord((x) => x.path.endsWith('/busy'));
  assert.equal(rec.responseCodeDetails, 'via_upstream');
  assert.equal(rec.responseFlags, '-');
});

test('an upstream reason phrase Node cannot write gets the standard one; the client keeps its response', async () => {
  const r = await curl(['-s', '-i', '-x', wp.proxyUrl, 'http://odd.test/']);
  assert.match(r.stdout, /^HTTP\/1\.1 200 OK\r?\n/);
  assert.match(r.stdout, /\r?\n\r?\nok\n$/);
});

test('a client that leaves during a fault delay never reaches the upstream', async () => {
  const before = hits;
  const [host, port] = wp.proxyUrl.slice(7).split(':');
  const s = connect(Number(port), host!);
  await new Promise<void>((r) => s.once('connect', r));
  s.write('GET http://api.test/slow HTTP/1.1\r\nhost: api.test\r\n\r\n');
  await sleep(100);
  // A reset, not a FIN: the listener allows half-close, so a client that only shuts its write side
  // still gets its response.
  s.resetAndDestroy();
  const rec = await wp.nextRecord((x) => x.path.endsWith('/slow'));
  assert.equal(rec.responseFlags, 'DC');
  await sleep(600); // past the 400 ms delay
  assert.equal(hits, before, 'no request was sent for a client that had gone');
});

test('a route timeout during a streamed (chunked) upload answers 504 UT; the client is not reset', async () => {
  const [host, port] = wp.proxyUrl.slice(7).split(':');
  const s = connect(Number(port), host!);
  await new Promise<void>((r) => s.once('connect', r));
  let got = '';
  s.on('data', (c: Buffer) => { got += c.toString('latin1'); });
  const closed = new Promise<string>((resolve) => {
    s.once('close', () => resolve('close'));
    s.once('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
  });
  // Chunked: the body streams through a view that undici may destroy; the client's request must not go with it.
  s.write('POST http://api.test/upload HTTP/1.1\r\nhost: api.test\r\ntransfer-encoding: chunked\r\n\r\n');
  // Envoy's route timeout starts once the request is in (Router::onRequestComplete): a 16 KiB body
  // fits the socket buffers although the upstream reads none of it, and the timer then fires while
  // undici still holds the body's view.
  s.write(`4000\r\n${'x'.repeat(0x4000)}\r\n0\r\n\r\n`);
  await Promise.race([
    (async () => { while (!/\r\n\r\n/.test(got)) await sleep(20); })(),
    sleep(3000),
  ]);
  assert.match(got, /^HTTP\/1\.1 504 /, `expected a 504, got ${JSON.stringify(got.slice(0, 80))} (${await Promise.race([closed, sleep(10).then(() => 'open')])})`);
  const rec = await wp.nextRecord((x) => x.path.endsWith('/upload'));
  assert.equal(rec.responseFlags, 'UT');
  s.destroy();
});
