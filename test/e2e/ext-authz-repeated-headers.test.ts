// Review of issue 11: Node's req.headers keeps only the first Authorization (User-Agent, Referer...)
// while every copy goes upstream. The ext-authz check must see them all, joined with ',' as Envoy's
// ext_authz sends them, or a server that allows "Bearer good" lets "Bearer evil" ride along.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { authorizationPolicy, serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { rawExchange } from '../helpers/raw-client.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../helpers/recording-upstream.ts';

describe('ext-authz sees every value of a repeated header', () => {
  let up: RecordingUpstream;
  let authz: Server;
  let wp: InProcess;
  let port: number;
  const seen: (string | undefined)[] = [];

  before(async () => {
    authz = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(req.headers.authorization === 'Bearer good' ? 200 : 403).end();
    });
    const authzPort = await new Promise<number>((r) => authz.listen(0, '127.0.0.1', () => r((authz.address() as AddressInfo).port)));
    up = await startRecordingUpstream();
    wp = await startInProcess(WAYPOINT_YAML
      + serviceEntry('guarded', `hosts: [guarded.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`)
      + authorizationPolicy('guard', 'guarded', 'action: CUSTOM\nprovider: {name: checker}\nrules: [{}]\n'), {
      compile: { extensionProviders: [{ name: 'checker', envoyExtAuthzHttp: { service: 'authz.local/127.0.0.1', port: authzPort, timeout: '2s' } }] },
    });
    port = Number(wp.proxyUrl.split(':').pop());
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    authz?.close();
  });

  const get = (auth: string) => `GET /x HTTP/1.1\r\nHost: guarded.test\r\n${auth}Connection: close\r\n\r\n`;

  test('one good token passes', async () => {
    up.reset();
    const r = await rawExchange(port, [get('Authorization: Bearer good\r\n')]);
    assert.equal(r.statuses[0], 200, r.text);
    assert.equal(up.requests.length, 1);
  });

  test('a good token followed by another is checked as "good,evil" and refused; nothing reaches the upstream', async () => {
    up.reset();
    seen.length = 0;
    const r = await rawExchange(port, [get('Authorization: Bearer good\r\nAuthorization: Bearer evil\r\n')]);
    assert.deepEqual(seen, ['Bearer good,Bearer evil']);
    assert.equal(r.statuses[0], 403, r.text);
    assert.equal(up.bytes(), '');
  });
});
