// The ClientHello reader behind connection.sni: real ClientHellos from node:tls, fed whole, byte by
// byte and without SNI; bytes that are not TLS are answered at once.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { test } from 'node:test';
import { HelloReader, parseClientHello } from '../../src/dataplane/client-hello.ts';

/** The first flight a TLS client sends, captured by a plain TCP server on loopback. */
async function captureHello(servername?: string): Promise<Buffer> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (b: Buffer) => { resolve(b); s.destroy(); })));
  const c = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ...(servername ? { servername } : {}), rejectUnauthorized: false });
  c.on('error', () => {});
  const hello = await got;
  c.destroy();
  server.close();
  return hello;
}

test('the server_name of a real ClientHello, whole or arriving a byte at a time', async () => {
  const hello = await captureHello('api.Example.test');
  assert.deepEqual(parseClientHello(hello), { kind: 'hello', sni: 'api.Example.test' });
  for (let n = 0; n < hello.length; n++) assert.equal(parseClientHello(hello.subarray(0, n)).kind, 'more', `prefix of ${n} bytes`);
  // The reader behind the stream peek, fed one byte at a time.
  const reader = new HelloReader();
  for (let n = 0; n < hello.length - 1; n++) assert.equal(reader.push(hello.subarray(n, n + 1)).kind, 'more', `byte ${n}`);
  assert.deepEqual(reader.push(hello.subarray(-1)), { kind: 'hello', sni: 'api.Example.test' });
});

test('a ClientHello split into one-byte records is still read (as Envoy\'s tls_inspector reads it)', async () => {
  const hello = await captureHello('frag.example.test');
  const body = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const records = [...body].map((b) => Buffer.from([0x16, 0x03, 0x01, 0x00, 0x01, b]));
  assert.deepEqual(parseClientHello(Buffer.concat(records)), { kind: 'hello', sni: 'frag.example.test' });
  const reader = new HelloReader();
  let last;
  for (const r of records) last = reader.push(r);
  assert.deepEqual(last, { kind: 'hello', sni: 'frag.example.test' });
});

test('a ClientHello without SNI, and bytes that are not TLS', async () => {
  // node:tls sends no server_name for an IP address.
  assert.deepEqual(parseClientHello(await captureHello()), { kind: 'hello' });
  assert.deepEqual(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')), { kind: 'not-tls' });
  assert.deepEqual(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0, 0, 1, 0])), { kind: 'not-tls' }, 'a handshake that is not a ClientHello');
});

test('a peer that sends empty handshake records is refused (fail closed), not buffered without end', () => {
  const header = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x40, 0x03, 0x03, 0, 0]); // ClientHello of 64 bytes, 4 sent
  const empty = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]);
  assert.equal(parseClientHello(Buffer.concat([header, empty])).kind, 'more');
  assert.equal(parseClientHello(Buffer.concat([header, ...Array(30_000).fill(empty)])).kind, 'refuse');
  assert.equal(parseClientHello(Buffer.concat([header, ...Array(33).fill(empty)])).kind, 'refuse', 'past BoringSSL\'s 32 empty records');
  assert.equal(parseClientHello(Buffer.concat([header, ...Array(32).fill(empty)])).kind, 'more');
});
