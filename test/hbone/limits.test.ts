// HBONE listener limits (issue 11): a connection cap, a stream cap per connection, and an idle
// timeout for connections that carry no stream (keepalive PINGs alone do not keep one open).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectStream, h2Session, startMesh, type Mesh } from './fixture.ts';

describe('HBONE listener limits', () => {
  let m: Mesh;
  const pem = async (who: string) => ({ cert: await readFile(m.pki.files[who]!.cert, 'utf8'), key: await readFile(m.pki.files[who]!.key, 'utf8'), ca: m.pki.ca.cert });

  before(async () => {
    m = await startMesh('', { maxConnections: 1, maxConcurrentStreams: 3, idleTimeoutMs: 700, keepaliveIntervalMs: 100 });
  });
  after(async () => m?.close());

  test('the connection past the cap is closed at accept; the first keeps working', async () => {
    const first = await h2Session(m.hbonePort, await pem('cart'));
    try {
      await assert.rejects(h2Session(m.hbonePort, await pem('cart')), 'a second connection is refused');
      const { status, stream } = await connectStream(first, 'raw.test:9000');
      assert.equal(status, 200);
      stream.close();
      assert.equal(first.remoteSettings.maxConcurrentStreams, 3, '--hbone-max-concurrent-streams reaches SETTINGS');
    } finally {
      first.destroy();
    }
    const stats = await (await fetch(`${m.wp.statsUrl}/stats/prometheus`)).text();
    assert.match(stats, /egressway_downstream_limit_total\{limit="hbone_max_connections"\} [1-9]/);
  });

  test('a connection with no stream is closed by the idle timeout despite keepalive PINGs; one with a stream is not', async () => {
    await sleep(200); // the previous test's connection is gone
    const idle = await h2Session(m.hbonePort, await pem('cart'));
    const closedIn = new Promise<number>((r) => { const t0 = Date.now(); idle.once('close', () => r(Date.now() - t0)); });
    const ms = await Promise.race([closedIn, sleep(3_000).then(() => -1)]);
    assert.ok(ms >= 500 && ms < 2_500, `closed after ${ms} ms`);
    const busy = await h2Session(m.hbonePort, await pem('cart'));
    try {
      const { status, stream } = await connectStream(busy, 'raw.test:9000');
      assert.equal(status, 200);
      await sleep(1_200);
      assert.equal(busy.closed || busy.destroyed, false, 'a connection with an open stream stays');
      stream.close();
    } finally {
      busy.destroy();
    }
  });
});
