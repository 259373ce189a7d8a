// Flow control end to end: a client that stops reading an HBONE tunnel makes the upstream's writes
// stall, so the waypoint never buffers without bound; when the client reads again, every byte
// arrives. The upstream writes as fast as its socket accepts and counts what the kernel took.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { serviceEntry } from '../helpers/inprocess.ts';
import { connectStream, h2Session, startMesh, type Mesh } from './fixture.ts';

const TOTAL = 200 * 1024 * 1024;
const CHUNK = Buffer.alloc(256 * 1024, 7);
let m: Mesh;
let firehose: Server;
let accepted = 0;

before(async () => {
  // Writes TOTAL bytes, always waiting for 'drain': `accepted` is what the socket took.
  firehose = createServer((s) => {
    s.on('error', () => {});
    const pump = () => {
      while (accepted < TOTAL) {
        accepted += CHUNK.length;
        if (!s.write(CHUNK)) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  await new Promise<void>((r) => firehose.listen(0, '127.0.0.1', r));
  const port = (firehose.address() as { port: number }).port;
  m = await startMesh(serviceEntry('firehose', `hosts: [firehose.test]\nports: [{number: 7000, name: tcp, protocol: TCP, targetPort: ${port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`));
});
after(async () => {
  await m?.close();
  firehose?.close();
});

test('a paused HBONE reader stalls the upstream instead of filling the waypoint, then gets every byte', async () => {
  const pem = { cert: await readFile(m.pki.files.cart!.cert, 'utf8'), key: await readFile(m.pki.files.cart!.key, 'utf8'), ca: m.pki.ca.cert };
  const s = await h2Session(m.hbonePort, pem);
  try {
    const { status, stream } = await connectStream(s, 'firehose.test:7000');
    assert.equal(status, 200);
    stream.pause();
    await sleep(1500);
    const rssWhilePaused = process.memoryUsage().rss;
    // Windows (1 MiB h2 stream window) plus kernel socket buffers: a few MiB, never the 200 MiB.
    assert.ok(accepted < 48 * 1024 * 1024, `the upstream pushed ${(accepted / 2 ** 20).toFixed(1)} MiB while nobody read`);
    let received = 0;
    stream.on('data', (c: Buffer) => { received += c.length; });
    stream.resume();
    await new Promise<void>((resolve, reject) => {
      stream.once('end', resolve);
      stream.once('error', reject);
    });
    assert.equal(received, TOTAL);
    assert.ok(process.memoryUsage().rss - rssWhilePaused < 150 * 1024 * 1024, 'memory stayed bounded while streaming');
  } finally {
    s.close();
  }
});
