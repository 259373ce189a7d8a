// connection.sni cannot be dodged: a DENY on the SNI holds when the ClientHello is padded past the
// reader's cap or trickled in past its timeout. Envoy's tls_inspector closes a connection whose
// ClientHello outgrows max_client_hello_size (client_hello_too_large), and Istio's waypoint gives it
// no timeout at all, so neither case may reach the upstream without the SNI having been checked.
// Real sockets: a CONNECT client writing raw TLS records, and a TCP upstream counting connections.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { authorizationPolicy as policy, serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { openTunnel } from '../helpers/proxy-fetch.ts';

const SNI_TIMEOUT_MS = 300;

/**
 * A TLS 1.2 ClientHello in records of 16 KiB for `sni`, with a padding extension of `pad` bytes
 * before server_name and `ciphers` cipher-suite bytes (together they can pass 64 KiB).
 */
function clientHello(sni: string, pad = 0, ciphers = 2): Buffer {
  const name = Buffer.from(sni);
  const sniExt = Buffer.alloc(9 + name.length);
  sniExt.writeUInt16BE(0, 0); // server_name
  sniExt.writeUInt16BE(5 + name.length, 2);
  sniExt.writeUInt16BE(3 + name.length, 4);
  sniExt[6] = 0; // host_name
  sniExt.writeUInt16BE(name.length, 7);
  name.copy(sniExt, 9);
  const padExt = Buffer.alloc(pad ? 4 + pad : 0);
  if (pad) { padExt.writeUInt16BE(21, 0); padExt.writeUInt16BE(pad, 2); }
  const exts = Buffer.concat([padExt, sniExt]);
  const body = Buffer.concat([
    Buffer.from([3, 3]), Buffer.alloc(32, 7), Buffer.from([0]), // version, random, empty session id
    Buffer.from([ciphers >> 8, ciphers & 0xff]), Buffer.alloc(ciphers, 0x2f), Buffer.from([1, 0]), // ciphers, null compression
    Buffer.from([exts.length >> 8, exts.length & 0xff]), exts,
  ]);
  const hs = Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  const records: Buffer[] = [];
  for (let off = 0; off < hs.length; off += 16_384) {
    const frag = hs.subarray(off, off + 16_384);
    records.push(Buffer.from([0x16, 3, 1, frag.length >> 8, frag.length & 0xff]), frag);
  }
  return Buffer.concat(records);
}

describe('connection.sni DENY: the ClientHello reader fails closed', () => {
  let upstream: Server;
  let reached = 0;
  let wp: InProcess;

  before(async () => {
    upstream = createServer((s: Socket) => { reached++; s.on('error', () => {}); s.resume(); });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    wp = await startInProcess(WAYPOINT_YAML
      + serviceEntry('tls', `hosts: [tls.test]\naddresses: [240.240.240.21]\nports: [{number: 443, name: tls, protocol: TLS, targetPort: ${port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`)
      + policy('no-evil', 'tls', 'action: DENY\nrules: [{when: [{key: connection.sni, values: ["evil.test"]}]}]\n'),
    { sniTimeoutMs: SNI_TIMEOUT_MS });
  });
  after(async () => {
    await wp?.close();
    upstream?.close();
  });

  /** CONNECT, write `parts` with `pauseMs` between them; resolves when the tunnel closes or after 1.5 s. */
  async function send(parts: readonly Buffer[], pauseMs = 0): Promise<'closed' | 'open'> {
    const t = await openTunnel(wp.proxyUrl.replace('http://', ''), 'tls.test:443');
    assert.equal(t.status, 200, t.head);
    // A reset counts as closed (events.once would reject on the socket's 'error').
    const closed = new Promise<'closed'>((r) => t.socket.once('close', () => r('closed')));
    for (const [i, p] of parts.entries()) {
      if (i > 0) await sleep(pauseMs);
      if (!t.socket.destroyed) t.socket.write(p);
    }
    const r = await Promise.race([closed, sleep(1_500).then(() => 'open' as const)]);
    t.close();
    return r;
  }

  test('a ClientHello of normal size: a good SNI reaches the upstream, evil.test does not', async () => {
    const before = reached;
    assert.equal(await send([clientHello('good.test')]), 'open');
    assert.equal(reached, before + 1, 'the allowed tunnel was dialled');
    assert.equal(await send([clientHello('evil.test')]), 'closed');
    assert.equal(reached, before + 1, 'the denied tunnel was not dialled');
  });

  test('a ClientHello padded past 64 KiB is closed (client_hello_too_large), not let through without its SNI', async () => {
    const before = reached;
    const big = clientHello('evil.test', 60_000, 10_000);
    assert.equal(await send([big]), 'closed');
    assert.equal(reached, before, 'the oversized ClientHello never reached the upstream');
    const rec = await wp.nextRecord((r) => r.method === 'CONNECT' && /ClientHello/.test(r.connectionTerminationDetails ?? ''));
    assert.match(rec.connectionTerminationDetails ?? '', /too large/);
    assert.equal(rec.responseFlags, 'DPE');
  });

  test('a ClientHello trickled in past the reader\'s timeout is closed, not authorized without its SNI', async () => {
    const before = reached;
    const hello = clientHello('evil.test');
    assert.equal(await send([hello.subarray(0, 3), hello.subarray(3)], SNI_TIMEOUT_MS + 300), 'closed');
    assert.equal(reached, before, 'the stalled ClientHello never reached the upstream');
  });

  test('a client that sends nothing (a server-first protocol) is still dialled once the reader gives up', async () => {
    const before = reached;
    assert.equal(await send([]), 'open');
    assert.equal(reached, before + 1);
  });
});
