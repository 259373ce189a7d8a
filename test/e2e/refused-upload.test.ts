// A request answered before its body has arrived (a policy deny, an unknown host) closes the
// connection after the answer, as Envoy does (HCM doEndStream: remote not complete, HTTP/1 ->
// close). Regression: the waypoint kept reading the body nobody wanted for as long as the client
// sent it; a client streaming an endless chunked upload to a denied path held the connection, and
// its bytes reset every timeout. A request without a body keeps its connection.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { authorizationPolicy, loopbackEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';

describe('a refused request whose body is still coming', () => {
  let up: HttpUpstream;
  let wp: InProcess;

  before(async () => {
    up = await startHttpUpstream({ name: 'web' });
    wp = await startInProcess(WAYPOINT_YAML + loopbackEntry('web', up.port)
      + authorizationPolicy('deny-admin', 'web', 'action: DENY\nrules: [{to: [{operation: {paths: ["/admin"]}}]}]\n'));
  });
  after(async () => {
    await wp?.close();
    await up?.close();
  });

  /** Streams a chunked body after `head` for up to 3 s; resolves with what came back and whether the waypoint closed. */
  async function upload(head: string): Promise<{ text: string; closedMs: number | undefined }> {
    const s = connect(Number(wp.proxyUrl.split(':').pop()), '127.0.0.1');
    s.on('error', () => {});
    let text = '';
    let closedMs: number | undefined;
    const t0 = Date.now();
    s.setEncoding('latin1');
    s.on('data', (d: string) => void (text += d));
    s.once('close', () => void (closedMs = Date.now() - t0));
    s.write(head);
    while (closedMs === undefined && Date.now() - t0 < 3_000) {
      s.write(`400\r\n${'a'.repeat(0x400)}\r\n`);
      await sleep(20);
    }
    s.destroy();
    return { text, closedMs };
  }

  for (const [name, head] of [
    ['a policy deny', 'POST /admin HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['an unknown host', 'POST http://nowhere.test/ HTTP/1.1\r\nHost: nowhere.test\r\nTransfer-Encoding: chunked\r\n\r\n'],
  ] as const) {
    test(`${name}: the answer says Connection: close and the connection is closed while the client still uploads`, async () => {
      const r = await upload(head);
      assert.match(r.text, /^HTTP\/1\.1 (403|502) /, r.text);
      assert.match(r.text, /\r\nConnection: close\r\n/i);
      assert.ok(r.closedMs !== undefined && r.closedMs < 2_000, `still open after 3 s of upload (closed: ${r.closedMs})`);
    });
  }

  test('a denied request without a body keeps its connection: the next request is served', async () => {
    const s = connect(Number(wp.proxyUrl.split(':').pop()), '127.0.0.1');
    let text = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => void (text += d));
    s.write('GET /admin HTTP/1.1\r\nHost: web.test\r\n\r\nGET /ok HTTP/1.1\r\nHost: web.test\r\n\r\n');
    for (let i = 0; i < 50 && !/HTTP\/1\.1 200 /.test(text); i++) await sleep(20);
    s.destroy();
    assert.match(text, /^HTTP\/1\.1 403 [\s\S]*HTTP\/1\.1 200 /, text);
    assert.doesNotMatch(text.split('HTTP/1.1 200')[0]!, /Connection: close/i);
  });
});
