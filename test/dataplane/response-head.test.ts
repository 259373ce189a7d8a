// Response heads as undici hands them over (raw [name, value] buffers) turned into what the proxy
// writes downstream, and the facts it acts on (grpc-status, x-envoy-ratelimited).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardResponseHead, forwardTrailers, type ResponseHead } from '../../src/dataplane/headers.ts';

const raw = (...pairs: string[]) => pairs.map((p) => Buffer.from(p, 'latin1'));
const head = (): ResponseHead => ({ grpcStatus: undefined, rateLimited: false });

test('names are lower-cased, hop-by-hop fields and the ones Connection lists are dropped', () => {
  const h = head();
  const out = forwardResponseHead(raw(
    'Content-Type', 'text/plain', 'Connection', 'keep-alive, X-Hop', 'Keep-Alive', 'timeout=5',
    'X-Hop', 'secret', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2',
  ), h);
  assert.deepEqual(out, ['content-type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2']);
});

test('values keep every byte (latin1 in, latin1 out)', () => {
  const value = Buffer.from([0x63, 0xe9, 0xff]); // "cé\xff" as a server may send it
  const out = forwardResponseHead([Buffer.from('x-odd'), value], head());
  assert.deepEqual(Buffer.from(out[1]!, 'latin1'), value);
});

test('grpc-status and x-envoy-ratelimited are noted; a non-numeric grpc-status is not', () => {
  const h = head();
  forwardResponseHead(raw('grpc-status', '14', 'x-envoy-ratelimited', 'true'), h);
  assert.deepEqual(h, { grpcStatus: '14', rateLimited: true });
  const bad = head();
  forwardResponseHead(raw('grpc-status', 'oops'), bad);
  assert.equal(bad.grpcStatus, undefined);
});

test('HTTP/2 pseudo-headers never reach writeHead', () => {
  assert.deepEqual(forwardResponseHead(raw(':status', '200', 'content-length', '2'), head()), ['content-length', '2']);
});

test('trailers: raw pairs (HTTP/1.1) and objects (HTTP/2) both carry grpc-status; hop-by-hop dropped', () => {
  const a = head();
  assert.deepEqual({ ...forwardTrailers(raw('Grpc-Status', '0', 'grpc-message', 'ok'), a) }, { 'grpc-status': '0', 'grpc-message': 'ok' });
  assert.equal(a.grpcStatus, '0');
  const b = head();
  assert.deepEqual({ ...forwardTrailers({ 'grpc-status': '5', connection: 'close' }, b) }, { 'grpc-status': '5' });
  assert.equal(b.grpcStatus, '5');
  assert.equal(forwardTrailers(raw('te', 'trailers'), head()), undefined);
});
