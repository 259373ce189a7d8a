// A Transfer-Encoding other than `chunked` alone is 501 with details http1.invalid_transfer_encoding,
// as Envoy's codec answers (RFC 9112 §6.1). Regression: Node's parser accepts `gzip, chunked`; the
// waypoint undid the chunking and sent the body upstream with a Content-Length and no coding, so the
// upstream read gzip-coded bytes as the plain body.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { rawExchange } from '../helpers/raw-client.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../helpers/recording-upstream.ts';

describe('transfer codings', () => {
  let up: RecordingUpstream;
  let wp: InProcess;
  let port: number;

  before(async () => {
    up = await startRecordingUpstream();
    wp = await startInProcess(WAYPOINT_YAML + serviceEntry('api', `hosts: [api.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`));
    port = Number(wp.proxyUrl.split(':').pop());
  });
  after(async () => {
    await wp?.close();
    await up?.close();
  });
  beforeEach(() => up.reset());

  const post = (te: string) => `POST /up HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: ${te}\r\n\r\n5\r\nhello\r\n0\r\n\r\n`;

  for (const te of ['gzip, chunked', 'identity, chunked', 'deflate,chunked']) {
    test(`Transfer-Encoding: ${te} is 501 and nothing reaches the upstream`, async () => {
      const r = await rawExchange(port, [post(te)]);
      assert.deepEqual(r.statuses, [501], r.text);
      assert.match(r.text, /x-egressway-details: http1\.invalid_transfer_encoding/);
      assert.equal(up.connections(), 0, up.bytes());
    });
  }

  for (const te of ['chunked', 'Chunked']) {
    test(`Transfer-Encoding: ${te} passes, its body intact`, async () => {
      const r = await rawExchange(port, [post(te)]);
      assert.deepEqual(r.statuses, [200], r.text);
      assert.equal(up.requests[0]?.body, 'hello');
    });
  }
});
