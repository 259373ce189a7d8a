// HTTP/1.1 pipelining is served one request at a time per connection, as Envoy's codec dispatches
// it. Regression: Node parses every request of a read at once, and the listener sent each upstream
// at once: one write of 2,000 pipelined requests to a slow upstream opened 2,000 upstream
// connections, which stayed open after the client left (one client, one connection, thousands of
// file descriptors, for --stream-idle-timeout).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { loopbackEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';

describe('pipelined requests are served one at a time', () => {
  let upstream: Server;
  let wp: InProcess;
  let active = 0;
  let peak = 0;
  /** Requests the upstream received. */
  let seen = 0;

  before(async () => {
    // `/hold` is never answered; anything else after 5 ms, counting those in flight at once.
    upstream = createServer((req, res) => {
      seen++;
      if (req.url === '/hold') return;
      peak = Math.max(peak, ++active);
      res.once('close', () => active--);
      setTimeout(() => res.end(`${req.url}\n`), 5);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    wp = await startInProcess(WAYPOINT_YAML + loopbackEntry('web', (upstream.address() as { port: number }).port));
  });
  after(async () => {
    await wp?.close();
    upstream?.closeAllConnections();
    upstream?.close();
  });

  const port = () => Number(wp.proxyUrl.split(':').pop());

  test('a flood of pipelined requests to a silent upstream reaches it as one request at a time', async () => {
    seen = 0;
    const s = connect(port(), '127.0.0.1');
    s.on('error', () => {});
    s.write('GET /hold HTTP/1.1\r\nHost: web.test\r\n\r\n'.repeat(2_000));
    await sleep(800);
    assert.equal(seen, 1, `${seen} of the 2,000 pipelined requests reached the upstream at once`);
    s.destroy();
  });

  test('every pipelined request is answered, in order, with at most one upstream request at a time', async () => {
    peak = 0;
    const n = 50;
    const s = connect(port(), '127.0.0.1');
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => void (got += d));
    s.write(Array.from({ length: n }, (_, i) => `GET /r${i} HTTP/1.1\r\nHost: web.test\r\n\r\n`).join(''));
    for (let t = 0; t < 100 && (got.match(/HTTP\/1\.1 200 /g)?.length ?? 0) < n; t++) await sleep(50);
    s.destroy();
    assert.equal(got.match(/HTTP\/1\.1 200 /g)?.length, n, got.slice(-300));
    assert.deepEqual([...got.matchAll(/\/r(\d+)\n/g)].map((m) => Number(m[1])), Array.from({ length: n }, (_, i) => i));
    assert.equal(peak, 1, `the upstream saw ${peak} requests at once`);
  });
});
