// A CONNECT to an HTTP port is answered 200 and the bytes inside are served as HTTP (HTTP/1.1, or
// HTTP/2 with prior knowledge). Regression: both escaped every downstream limit. The socket left the
// timeout sweep at the CONNECT (a spliced tunnel times itself, this one is never spliced), so a
// client that sent nothing after its CONNECT held the connection forever, and an h2c session inside
// had no idle, headers or stream idle timeout at all (a HEADERS frame never finished held it too).
// Now: until its first byte and as HTTP/1.1 the connection has --idle-timeout and
// --request-headers-timeout; an h2c session is closed (GOAWAY) after --idle-timeout with no stream
// open, and each stream has --stream-idle-timeout (408 SI).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect as h2connect } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { loopbackEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { connectStream, h2Session, makePki, type Pki } from '../hbone/fixture.ts';

const LIMIT_MS = 600;

/** A CONNECT to web.test:80 (an HTTP port), answered 200; resolves with the socket and a close probe. */
async function tunnel(proxyUrl: string): Promise<{ socket: Socket; closed: (ms: number) => Promise<number> }> {
  const u = new URL(proxyUrl);
  const socket = connect({ port: Number(u.port), host: u.hostname });
  socket.on('error', () => {});
  let closedAt = 0;
  const since = Date.now();
  socket.once('close', () => void (closedAt = Date.now()));
  socket.write('CONNECT web.test:80 HTTP/1.1\r\nHost: web.test:80\r\n\r\n');
  const reply = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString('latin1'))));
  assert.match(reply, /^HTTP\/1\.1 200 /);
  return {
    socket,
    closed: async (ms) => {
      const deadline = Date.now() + ms;
      while (!closedAt && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(closedAt, `the tunnel is still open after ${ms} ms`);
      return closedAt - since;
    },
  };
}

describe('limits inside a CONNECT to an HTTP port', () => {
  let up: HttpUpstream;
  let wp: InProcess;
  /** egressway_downstream_limit_total{limit} */
  const tripped = async (limit: string) => {
    const text = await (await fetch(`${wp.statsUrl}/stats/prometheus`)).text();
    return Number(new RegExp(`^egressway_downstream_limit_total\\{limit="${limit}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };

  before(async () => {
    up = await startHttpUpstream({ name: 'web' });
    wp = await startInProcess(WAYPOINT_YAML + loopbackEntry('web', up.port), {
      limits: { requestHeadersTimeoutMs: LIMIT_MS, idleTimeoutMs: LIMIT_MS, streamIdleTimeoutMs: LIMIT_MS, tunnelIdleTimeoutMs: 60_000 },
    });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
  });

  test('a client that sends nothing after its CONNECT is closed by the idle timeout', { timeout: 10_000 }, async () => {
    const t = await tunnel(wp.proxyUrl);
    const ms = await t.closed(5_000);
    assert.ok(ms < 3_000, `closed after ${ms} ms`);
    assert.ok(await tripped('idle_timeout') >= 1);
  });

  test('an HTTP/1.1 head begun inside the tunnel and never finished is cut by the headers timeout (408)', { timeout: 10_000 }, async () => {
    const t = await tunnel(wp.proxyUrl);
    let got = '';
    t.socket.on('data', (d: Buffer) => void (got += d.toString('latin1')));
    t.socket.write('GET /ok HTTP/1.1\r\nHost: web.test\r\nX-Slow: a');
    await t.closed(5_000);
    assert.match(got, /^HTTP\/1\.1 408 /);
  });

  test('an idle h2c session inside the tunnel gets GOAWAY after the idle timeout; a request before it is served', { timeout: 10_000 }, async () => {
    const t = await tunnel(wp.proxyUrl);
    const session = h2connect('http://web.test', { createConnection: () => t.socket });
    session.on('error', () => {});
    const goaway = new Promise<void>((r) => session.once('goaway', () => r()));
    const status = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': '/ok', ':authority': 'web.test' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
    });
    assert.equal(status, 200);
    await goaway;
    const ms = await t.closed(5_000);
    assert.ok(ms < 3_000, `closed after ${ms} ms`);
  });

  test('an h2c HEADERS frame that never ends (no END_HEADERS, no CONTINUATION) does not hold the tunnel', { timeout: 10_000 }, async () => {
    const t = await tunnel(wp.proxyUrl);
    const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
      const h = Buffer.alloc(9);
      h.writeUIntBE(payload.length, 0, 3);
      h[3] = type;
      h[4] = flags;
      h.writeUInt32BE(stream, 5);
      return Buffer.concat([h, payload]);
    };
    t.socket.write(Buffer.concat([
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      frame(0x4, 0, 0, Buffer.alloc(0)), // SETTINGS
      frame(0x1, 0, 1, Buffer.from([0x82, 0x86])), // HEADERS (:method GET, :scheme http), END_HEADERS not set
    ]));
    const ms = await t.closed(5_000);
    assert.ok(ms < 3_500, `closed after ${ms} ms`);
  });

  test('an h2c request whose body stalls gets 408 SI; the session serves the next request', { timeout: 10_000 }, async () => {
    const t = await tunnel(wp.proxyUrl);
    const session = h2connect('http://web.test', { createConnection: () => t.socket });
    session.on('error', () => {});
    const stalled = session.request({ ':method': 'POST', ':path': '/echo', ':authority': 'web.test', 'content-length': '10' }, { endStream: false });
    stalled.on('error', () => {});
    stalled.write('abc');
    const first = await new Promise<{ status: number; headers: Record<string, unknown> }>((resolve) =>
      stalled.on('response', (h) => resolve({ status: Number(h[':status']), headers: h })));
    assert.equal(first.status, 408);
    assert.equal(first.headers['x-egressway-flags'], 'SI');
    const next = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': '/ok', ':authority': 'web.test' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
    });
    assert.equal(next, 200);
    session.destroy();
    const r = await wp.nextRecord((x) => x.responseFlags === 'SI');
    assert.equal(r.responseCode, 408);
    assert.ok(await tripped('stream_idle_timeout') >= 1);
  });
});

describe('HTTP/2 CONNECT inside a terminated tunnel', () => {
  let up: HttpUpstream;
  let wp: InProcess;
  before(async () => {
    up = await startHttpUpstream({ name: 'web' });
    wp = await startInProcess(WAYPOINT_YAML + loopbackEntry('web', up.port));
  });
  after(async () => {
    await wp?.close();
    await up?.close();
  });

  // Regression: node's HTTP/2 compat answered it 405 by itself, and no access-log line said so.
  test('is 403 upgrade_failed, as over HTTP/1.1, with its record', { timeout: 10_000 }, async () => {
    const t = await tunnel(wp.proxyUrl);
    const session = h2connect('http://web.test', { createConnection: () => t.socket });
    session.on('error', () => {});
    try {
      const res = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const req = session.request({ ':method': 'CONNECT', ':authority': 'other.test:80' });
        req.on('response', resolve);
        req.on('error', reject);
        req.resume();
      });
      assert.equal(res[':status'], 403);
      assert.equal(res['x-egressway-details'], 'upgrade_failed');
      const r = await wp.nextRecord((x) => x.method === 'CONNECT' && x.responseCode === 403);
      assert.equal(r.responseCodeDetails, 'upgrade_failed');
    } finally {
      session.destroy();
    }
  });
});

describe('limits inside an HBONE stream to an HTTP port', () => {
  let up: HttpUpstream;
  let pki: Pki;
  let wp: InProcess;

  before(async () => {
    up = await startHttpUpstream({ name: 'web' });
    pki = await makePki();
    wp = await startInProcess(WAYPOINT_YAML + loopbackEntry('web', up.port), {
      limits: { requestHeadersTimeoutMs: LIMIT_MS, idleTimeoutMs: LIMIT_MS, streamIdleTimeoutMs: LIMIT_MS, tunnelIdleTimeoutMs: 60_000, maxConnections: 1 },
      hbone: { port: 0, cert: pki.files.waypoint!.cert, key: pki.files.waypoint!.key, trustBundle: pki.bundle },
    });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    await pki?.dir.close();
  });

  const session = async () => {
    const port = Number(wp.wp.listeners.hbone!.split(':').pop());
    return h2Session(port, { cert: await readFile(pki.files.cart!.cert, 'utf8'), key: await readFile(pki.files.cart!.key, 'utf8'), ca: pki.ca.cert });
  };

  // Regression: the guard timed only sockets, so an HTTP/1.1 head or body stalled inside an HBONE
  // stream (the ambient path, from any workload through its ztunnel) was held for the session's life.
  for (const [name, bytes, details] of [
    ['a request head never finished', 'GET /ok HTTP/1.1\r\nHost: web.test\r\nX-Slow: a', 'request_header_timeout'],
    ['a request body that stalls', 'POST /echo HTTP/1.1\r\nHost: web.test\r\nContent-Length: 10\r\n\r\nabc', 'stream_idle_timeout'],
  ] as const) {
    test(`${name} inside a stream is answered 408 (${details}) and the stream closed`, { timeout: 10_000 }, async () => {
      const s = await session();
      try {
        const { status, stream } = await connectStream(s, 'web.test:80');
        assert.equal(status, 200);
        let got = '';
        stream.on('data', (d: Buffer) => void (got += d.toString('latin1')));
        const t0 = Date.now();
        stream.write(bytes);
        const ms = await new Promise<number>((resolve) => stream.once('close', () => resolve(Date.now() - t0)));
        assert.ok(ms < 3_000, `closed after ${ms} ms`);
        assert.match(got, /^HTTP\/1\.1 408 /);
        assert.match(got, new RegExp(`x-egressway-details: ${details}`));
      } finally {
        s.destroy();
      }
    });
  }

  test('streams are not connections of the proxy listener: --max-connections 1 still serves three, and a plain client', { timeout: 10_000 }, async () => {
    const s = await session();
    try {
      const streams = await Promise.all([0, 1, 2].map(() => connectStream(s, 'web.test:80')));
      const answers = await Promise.all(streams.map(({ stream }, i) => new Promise<string>((resolve) => {
        let got = '';
        stream.on('data', (d: Buffer) => {
          got += d.toString('latin1');
          if (/\r\n\r\n/.test(got)) resolve(got);
        });
        stream.write(`GET /s${i} HTTP/1.1\r\nHost: web.test\r\n\r\n`);
      })));
      for (const a of answers) assert.match(a, /^HTTP\/1\.1 200 /);
      const t = await tunnel(wp.proxyUrl);
      t.socket.write('GET /plain HTTP/1.1\r\nHost: web.test\r\n\r\n');
      const reply = await new Promise<string>((resolve) => t.socket.once('data', (d: Buffer) => resolve(d.toString('latin1'))));
      assert.match(reply, /^HTTP\/1\.1 200 /, 'the one proxy connection is not refused for the HBONE streams');
      t.socket.destroy();
    } finally {
      s.destroy();
    }
  });

  test('a stream that sends nothing after its 200 is reset by the idle timeout; the session lives on', { timeout: 10_000 }, async () => {
    const session = await h2Session(Number(wp.wp.listeners.hbone!.split(':').pop()), { cert: await readFile(pki.files.cart!.cert, 'utf8'), key: await readFile(pki.files.cart!.key, 'utf8'), ca: pki.ca.cert });
    try {
      const { status, stream } = await connectStream(session, 'web.test:80');
      assert.equal(status, 200);
      const t0 = Date.now();
      const ms = await new Promise<number>((resolve) => stream.once('close', () => resolve(Date.now() - t0)));
      assert.ok(ms < 3_000, `reset after ${ms} ms`);
      const again = await connectStream(session, 'web.test:80');
      assert.equal(again.status, 200, 'the HBONE connection still serves');
      again.stream.close();
    } finally {
      session.destroy();
    }
  });
});
