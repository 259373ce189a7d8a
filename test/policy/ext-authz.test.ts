// checkExtAuthz() over real loopback sockets: error results carry a code callers branch on (egressway
// check's next step), and deny answers pass the headers Envoy's ext_authz HTTP client passes.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ExtAuthzHttpProvider } from '../../src/model/authn.ts';
import { checkExtAuthz, checkHeaders } from '../../src/policy/ext-authz.ts';

const provider = (port: number, pathPrefix: string): ExtAuthzHttpProvider => ({
  name: 'p', host: '127.0.0.1', port, timeoutMs: 200, pathPrefix, failOpen: false, statusOnError: 403,
  includeRequestHeadersInCheck: [], includeAdditionalHeadersInCheck: {}, headersToUpstreamOnAllow: [],
  headersToDownstreamOnAllow: [], headersToDownstreamOnDeny: [],
});
const CHECK = { method: 'GET', path: '/x', host: 'a.test', headers: {} };

describe('checkExtAuthz error codes', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((req) => { if (req.url!.startsWith('/reset')) req.socket.destroy(); });
    port = await new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
  });
  after(() => { server.closeAllConnections(); server.close(); });

  test('no answer within the timeout is code "timeout", whichever timer fires first', async () => {
    assert.deepEqual(await checkExtAuthz(provider(port, '/slow'), CHECK), { kind: 'error', code: 'timeout', reason: `p (127.0.0.1:${port}): no answer within 200 ms` });
  });

  test('a reset and a closed port keep the socket or undici code', async () => {
    const reset = await checkExtAuthz(provider(port, '/reset'), CHECK);
    assert.equal(reset.kind, 'error');
    assert.equal(reset.kind === 'error' && reset.code, 'UND_ERR_SOCKET');
    const closed = createServer();
    const free = await new Promise<number>((r) => closed.listen(0, '127.0.0.1', () => r((closed.address() as AddressInfo).port)));
    await new Promise((r) => closed.close(r));
    assert.deepEqual(await checkExtAuthz(provider(free, ''), CHECK), { kind: 'error', code: 'ECONNREFUSED', reason: `p (127.0.0.1:${free}): ECONNREFUSED` });
  });
});

// Envoy's ext_authz HTTP client adds www-authenticate and location (and :status, content-length) to
// a non-empty allowed_client_headers list: a 401 keeps its challenge, a 302 its target.
describe('checkExtAuthz deny headers (headersToDownstreamOnDeny)', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url!.startsWith('/redirect') ? 302 : 401, {
        'www-authenticate': 'Bearer realm="shop"', location: 'https://login.test/', 'x-listed': 'yes', 'x-other': 'no', 'content-type': 'text/plain',
      }).end('who are you');
    });
    port = await new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
  });
  after(() => { server.closeAllConnections(); server.close(); });

  const names = (r: Awaited<ReturnType<typeof checkExtAuthz>>) => (r.kind === 'deny' ? r.headers.map(([k]) => k).sort() : []);

  test('a listed set also passes WWW-Authenticate and Location, and nothing else unlisted', async () => {
    const p = { ...provider(port, ''), headersToDownstreamOnDeny: [{ kind: 'exact' as const, value: 'x-listed', ignoreCase: false, raw: 'x-listed' }] };
    const r = await checkExtAuthz(p, CHECK);
    assert.equal(r.kind === 'deny' && r.status, 401);
    assert.deepEqual(names(r), ['location', 'www-authenticate', 'x-listed']);
    assert.deepEqual(r.kind === 'deny' && r.headers.find(([k]) => k === 'www-authenticate'), ['www-authenticate', 'Bearer realm="shop"']);
    const redirect = await checkExtAuthz({ ...p, pathPrefix: '/redirect' }, CHECK);
    assert.equal(redirect.kind === 'deny' && redirect.status, 302);
    assert.deepEqual(redirect.kind === 'deny' && redirect.headers.find(([k]) => k === 'location'), ['location', 'https://login.test/']);
  });

  test('an empty list passes every header but the connection-level ones', async () => {
    assert.deepEqual(names(await checkExtAuthz(provider(port, ''), CHECK)), ['content-type', 'date', 'location', 'www-authenticate', 'x-listed', 'x-other']);
  });
});

test('HTTP/2 pseudo-headers never go into the check request (they are its method, path and Host)', () => {
  const h = checkHeaders(provider(1, ''), { ...CHECK, headers: { ':method': 'POST', ':path': '/pkg.Svc/M', ':authority': 'a.test', ':scheme': 'http', 'x-a': '1' } });
  assert.deepEqual(h, { host: 'a.test', 'content-length': '0', 'x-a': '1' });
});
