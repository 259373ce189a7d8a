// The PROXY listener on its own, over loopback sockets: what it hands to acceptTunnel (authority,
// identity, addresses, and the client's bytes after the header, in order), and its lifecycle
// (resets, shutdown with connections still in the header phase).
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ProxyProtocolListener, type ProxyRefusal } from '../../src/dataplane/proxy-protocol-listener.ts';
import type { InboundTunnel } from '../../src/dataplane/proxy-listener.ts';

const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

function header(tlvs: [number, string][]): Buffer {
  const t = Buffer.concat(tlvs.map(([k, v]) => Buffer.concat([Buffer.from([k, 0, v.length]), Buffer.from(v)])));
  const body = Buffer.concat([Buffer.from([10, 1, 2, 3, 10, 9, 9, 9, 0x13, 0x88, 0x01, 0xbb]), t]);
  return Buffer.concat([Buffer.from([...SIG, 0x21, 0x11, 0, body.length]), body]);
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('ProxyProtocolListener', () => {
  let l: ProxyProtocolListener;
  let port: number;
  const tunnels: InboundTunnel[] = [];
  let waiting: ((t: InboundTunnel) => void) | undefined;
  const refused: ProxyRefusal[] = [];
  before(async () => {
    l = new ProxyProtocolListener({
      accept: (t) => (waiting ? waiting(t) : tunnels.push(t)),
      onRefused: (r) => refused.push(r),
    });
    port = (await l.listen(0, '127.0.0.1')).port;
  });
  after(() => l.close(0));

  const nextTunnel = () => new Promise<InboundTunnel>((resolve) => {
    waiting = (t) => {
      waiting = undefined;
      resolve(t);
    };
  });

  for (const split of [false, true]) {
    test(`the tunnel carries the header's facts and the bytes after it (${split ? 'separate writes' : 'one write'})`, async () => {
      const got = nextTunnel();
      const s = await open(port);
      const h = header([[0xd0, 'spiffe://cluster.local/ns/shop/sa/cart'], [0xd1, 'api.test']]);
      if (split) {
        s.write(h);
        await new Promise((r) => setTimeout(r, 30));
        s.write('first bytes');
      } else {
        s.write(Buffer.concat([h, Buffer.from('first bytes')]));
      }
      const t = await got;
      assert.equal(t.authority, 'api.test:443');
      assert.equal(t.identity?.principal, 'cluster.local/ns/shop/sa/cart');
      assert.equal(t.remote, '10.1.2.3:5000');
      assert.equal(t.local, '10.9.9.9:443');
      assert.equal(t.protocol, 'PROXY');
      // Nobody has read yet: the stream waits, and the first reader gets the client's first bytes.
      await new Promise((r) => setTimeout(r, 30));
      const first = await new Promise<Buffer>((resolve) => t.stream.once('data', resolve));
      assert.equal(first.toString(), 'first bytes');
      s.destroy();
    });
  }

  test('a reset in the middle of the header is counted as truncated', async () => {
    const before = refused.length;
    const s = await open(port);
    s.write(Buffer.from(SIG.slice(0, 6)));
    await new Promise((r) => setTimeout(r, 30));
    s.resetAndDestroy();
    for (let i = 0; i < 50 && refused.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(refused.slice(before), ['truncated']);
  });
});

test('close() cuts connections still reading their header, counts nothing and leaves no timer behind', async () => {
  const refused: ProxyRefusal[] = [];
  const l = new ProxyProtocolListener({ accept: () => assert.fail('no tunnel expected'), onRefused: (r) => refused.push(r), headerTimeoutMs: 60_000 });
  const { port } = await l.listen(0, '127.0.0.1');
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const baseline = timers();
  const s = await open(port);
  const closed = new Promise((r) => s.once('close', r));
  for (let i = 0; i < 50 && l.activeConnections === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(l.activeConnections, 1);
  const t0 = Date.now();
  await l.close(5_000);
  await closed;
  assert.ok(Date.now() - t0 < 1000, 'the header phase does not wait for the grace period');
  assert.deepEqual(refused, []);
  assert.equal(timers(), baseline, 'the header timeout was cleared');
});
