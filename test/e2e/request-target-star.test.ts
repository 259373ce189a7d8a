// The asterisk-form request-target (RFC 9112 §3.2.4) is for OPTIONS only. Regression: `GET *` was
// routed and sent to the upstream client, which refused its path: the client got 503 UC
// (upstream_reset_before_response_started) for its own malformed request, after the default route's
// two retries. Envoy's codec refuses it as an invalid URL (400); so does the waypoint now, and
// nothing reaches the upstream. `OPTIONS *` is Envoy's 404 absolute_path (its HCM routes no path
// that does not start with "/"); it was 503 UC, undici cannot send `*`.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { rawExchange } from '../helpers/raw-client.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../helpers/recording-upstream.ts';

describe('asterisk-form request-target', () => {
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

  for (const method of ['GET', 'POST', 'DELETE']) {
    test(`${method} * is 400 http1.invalid_url and nothing reaches the upstream`, async () => {
      const r = await rawExchange(port, [`${method} * HTTP/1.1\r\nHost: api.test\r\nContent-Length: 0\r\n\r\n`]);
      assert.deepEqual(r.statuses, [400], r.text);
      assert.match(r.text, /x-egressway-details: http1\.invalid_url/);
      assert.match(r.text, /is for OPTIONS only/);
      assert.equal(up.connections(), 0, `the upstream was dialled: ${up.bytes()}`);
      const rec = await wp.nextRecord((x) => x.method === method && x.path === '*');
      assert.equal(rec.responseCode, 400);
      assert.equal(rec.responseFlags, 'DPE');
    });
  }

  test('OPTIONS * is 404 absolute_path with no flag, as Envoy\'s HCM answers a path that does not start with "/"; nothing reaches the upstream', async () => {
    const r = await rawExchange(port, ['OPTIONS * HTTP/1.1\r\nHost: api.test\r\n\r\n']);
    assert.deepEqual(r.statuses, [404], r.text);
    assert.match(r.text, /x-egressway-details: absolute_path/);
    assert.equal(up.connections(), 0, `the upstream was dialled: ${up.bytes()}`);
    const rec = await wp.nextRecord((x) => x.method === 'OPTIONS' && x.path === '*');
    assert.equal(rec.responseCode, 404);
    assert.equal(rec.responseFlags, '-');
    assert.equal(rec.responseCodeDetails, 'absolute_path');
  });
});
