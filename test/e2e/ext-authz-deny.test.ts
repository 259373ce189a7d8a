// An ext-authz deny at the listener keeps what Envoy's ext_authz HTTP client keeps: with a
// headersToDownstreamOnDeny list, also WWW-Authenticate and Location, so a 401 keeps its challenge.
// A gRPC client denied the same way gets UNAUTHENTICATED, as Envoy's local reply maps 401.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { grpcCalls, grpcioMissing } from '../helpers/grpc-peer.ts';
import { authorizationPolicy, serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';

describe('ext-authz deny headers at the listener', () => {
  let up: HttpUpstream;
  let authz: Server;
  let wp: InProcess;

  before(async () => {
    authz = createServer((req, res) => {
      if (req.url?.startsWith('/odd-status')) return void res.writeHead(799).end('odd');
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="shop", error="invalid_token"', 'x-listed': 'yes', 'x-unlisted': 'no', 'content-type': 'text/plain' })
        .end('token required');
    });
    const authzPort = await new Promise<number>((r) => authz.listen(0, '127.0.0.1', () => r((authz.address() as AddressInfo).port)));
    up = await startHttpUpstream();
    const se = (name: string, protocol: string) => serviceEntry(name, `hosts: [${name}.test]\nports: [{number: 80, name: p, protocol: ${protocol}, targetPort: ${up.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);
    wp = await startInProcess(WAYPOINT_YAML + se('guarded', 'HTTP') + se('guarded-grpc', 'GRPC')
      + authorizationPolicy('guard', 'guarded', 'action: CUSTOM\nprovider: {name: checker}\nrules: [{}]\n')
      + authorizationPolicy('guard-grpc', 'guarded-grpc', 'action: CUSTOM\nprovider: {name: checker}\nrules: [{}]\n'), {
      compile: {
        extensionProviders: [{ name: 'checker', envoyExtAuthzHttp: { service: 'authz.local/127.0.0.1', port: authzPort, timeout: '2s', headersToDownstreamOnDeny: ['x-listed'] } }],
      },
    });
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    authz?.close();
  });

  test('a 401 keeps its WWW-Authenticate challenge next to the listed headers; unlisted ones stay behind', async () => {
    const r = await curl(['--proxy', wp.proxyUrl, '-D', '-', 'http://guarded.test/x']);
    assert.equal(r.status, 401);
    const head = r.stdout.split('\r\n\r\n')[0]!;
    assert.match(head, /^www-authenticate: Bearer realm="shop", error="invalid_token"$/im);
    assert.match(head, /^x-listed: yes$/im);
    assert.doesNotMatch(head, /x-unlisted/i);
    assert.match(r.stdout, /token required$/);
  });

  test('a provider status no HTTP/2 response can carry (799) is a 403, not a request left hanging', async () => {
    // HTTP/2 inside a CONNECT tunnel: Node refuses a :status above 599.
    const r = await curl(['-p', '--proxy', wp.proxyUrl, '--http2-prior-knowledge', '--max-time', '5', 'http://guarded.test/odd-status']);
    assert.equal(r.status, 403);
    const rec = await wp.nextRecord((x) => x.path === '/odd-status');
    assert.deepEqual([rec.responseCode, rec.responseCodeDetails], [403, 'ext_authz_denied']);
  });

  test('a gRPC client denied with 401 gets UNAUTHENTICATED with the server\'s body', { skip: grpcioMissing }, async () => {
    const [denied] = await grpcCalls({ target: 'guarded-grpc.test:80', proxy: wp.proxyUrl }, [['Unary', 'x']]);
    assert.deepEqual([denied!.code, denied!.details], ['UNAUTHENTICATED', 'token required']);
  });
});
