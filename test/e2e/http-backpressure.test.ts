// Flow control on the L7 path (forwardHttp), both directions: a client that stops reading a large
// response stalls the upstream's writes instead of filling the waypoint, and an upstream that stops
// reading a large upload stalls the client. Both then complete byte for byte.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WAYPOINT_YAML, loopbackEntry, startInProcess, type InProcess } from '../helpers/inprocess.ts';

const TOTAL = 128 * 1024 * 1024;
const CHUNK = Buffer.alloc(256 * 1024, 7);
const BOUND = 40 * 1024 * 1024; // kernel socket buffers on three hops plus undici's and Node's queues

let upstream: Server;
let wp: InProcess;
let accepted = 0; // response bytes the upstream's socket took
let uploaded = 0; // upload bytes the upstream has read
let holdUpload: (() => void) | undefined;

before(async () => {
  upstream = createServer((req, res) => {
    if (req.url === '/download') {
      res.writeHead(200, { 'content-length': String(TOTAL) });
      const pump = () => {
        while (accepted < TOTAL) {
          accepted += CHUNK.length;
          if (!res.write(CHUNK)) return void res.once('drain', pump);
        }
        res.end();
      };
      return pump();
    }
    // /upload: read nothing until released, then count every byte.
    req.pause();
    holdUpload = () => {
      req.on('data', (c: Buffer) => { uploaded += c.length; });
      req.on('end', () => res.end(String(uploaded)));
      req.resume();
    };
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  wp = await startInProcess(WAYPOINT_YAML + loopbackEntry('bulk', (upstream.address() as { port: number }).port));
});

after(async () => {
  await wp?.close();
  upstream?.close();
});

function proxySocket(): Promise<Socket> {
  const [host, port] = wp.proxyUrl.slice(7).split(':');
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), host!, () => resolve(s));
    s.once('error', reject);
  });
}

test('a client that stops reading a large response stalls the upstream, then receives every byte', async () => {
  const s = await proxySocket();
  try {
    s.write('GET http://bulk.test/download HTTP/1.1\r\nhost: bulk.test\r\n\r\n');
    s.pause();
    await sleep(1500);
    assert.ok(accepted < BOUND, `the upstream pushed ${(accepted / 2 ** 20).toFixed(1)} MiB while nobody read`);
    let received = 0;
    let headerDone = false;
    let pending = Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      s.on('data', (c: Buffer) => {
        if (!headerDone) {
          pending = Buffer.concat([pending, c]);
          const end = pending.indexOf('\r\n\r\n');
          if (end < 0) return;
          assert.match(pending.subarray(0, end).toString('latin1'), /^HTTP\/1\.1 200/);
          headerDone = true;
          received += pending.length - end - 4;
        } else received += c.length;
        if (received >= TOTAL) resolve();
      });
      s.once('error', reject);
      s.resume();
    });
    assert.equal(received, TOTAL);
  } finally {
    s.destroy();
  }
  const r = await wp.nextRecord((x) => x.path === 'http://bulk.test/download' || x.path === '/download');
  assert.equal(r.bytesSent, TOTAL);
});

test('an upstream that stops reading a large upload stalls the client, then gets every byte', async () => {
  const s = await proxySocket();
  try {
    s.write(`POST http://bulk.test/upload HTTP/1.1\r\nhost: bulk.test\r\ncontent-length: ${TOTAL}\r\n\r\n`);
    let sent = 0;
    let stalled = false;
    // Write until the socket pushes back for a while: nobody upstream is reading.
    for (;;) {
      if (sent >= TOTAL) break;
      sent += CHUNK.length;
      if (!s.write(CHUNK)) {
        const drained = await Promise.race([new Promise<boolean>((r) => s.once('drain', () => r(true))), sleep(1500).then(() => false)]);
        if (!drained) { stalled = true; break; }
      }
    }
    assert.ok(stalled, 'the client was never pushed back');
    assert.ok(sent < BOUND, `the client got ${(sent / 2 ** 20).toFixed(1)} MiB out while the upstream read nothing`);
    assert.ok(holdUpload, 'the request reached the upstream');
    holdUpload!();
    while (sent < TOTAL) {
      sent += CHUNK.length;
      if (!s.write(CHUNK)) await new Promise((r) => s.once('drain', r));
    }
    const body = await new Promise<string>((resolve, reject) => {
      let buf = '';
      s.on('data', (c: Buffer) => {
        buf += c.toString('latin1');
        const m = /\r\n\r\n(\d+)$/.exec(buf);
        if (m && Number(m[1]) === TOTAL) resolve(m[1]!);
      });
      s.once('error', reject);
      setTimeout(() => reject(new Error(`no full answer; got ${JSON.stringify(buf.slice(0, 300))}`)), 20_000).unref();
    });
    assert.equal(Number(body), TOTAL);
    assert.equal(uploaded, TOTAL);
  } finally {
    s.destroy();
  }
});
