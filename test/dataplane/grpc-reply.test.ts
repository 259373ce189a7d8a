// The gRPC local-reply table (Envoy's Grpc::Utility::httpToGrpcStatus), grpc-message encoding, which
// requests count as gRPC, and the one TE value Envoy forwards. End to end: test/e2e/grpc-real.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpToGrpcStatus, isGrpcRequest, percentEncode } from '../../src/dataplane/grpc-reply.ts';
import { forwardRequestHeaders } from '../../src/dataplane/headers.ts';

test('HTTP statuses map to gRPC codes as Envoy maps them', () => {
  const table: [number, number][] = [[400, 13], [401, 16], [403, 7], [404, 12], [429, 14], [502, 14], [503, 14], [504, 14], [500, 2], [418, 2], [200, 2]];
  assert.deepEqual(table.map(([h]) => [h, httpToGrpcStatus(h)]), table);
});

test('grpc-message is percent-encoded outside printable ASCII, and % itself', () => {
  assert.equal(percentEncode('RBAC: access denied'), 'RBAC: access denied');
  assert.equal(percentEncode('100% é\n'), '100%25 %C3%A9%0A');
});

test('gRPC requests are application/grpc and application/grpc+*, nothing else', () => {
  const is = (ct: string) => isGrpcRequest({ headers: { 'content-type': ct } });
  assert.deepEqual(['application/grpc', 'application/grpc+proto', 'application/grpc-web', 'application/grpcx', 'text/plain'].map(is), [true, true, false, false, false]);
});

test('TE: only "trailers" goes upstream, and only when the client offers it', () => {
  const te = (v: string) => {
    const h = forwardRequestHeaders(['TE', v, 'x-a', '1'], 'a.test').headers;
    return h.flatMap((x, i) => (i % 2 === 0 && x.toLowerCase() === 'te' ? [h[i + 1]] : []));
  };
  assert.deepEqual(te('trailers'), ['trailers']);
  assert.deepEqual(te('gzip, Trailers;q=0.5'), ['trailers']);
  assert.deepEqual(te('gzip'), []);
});
