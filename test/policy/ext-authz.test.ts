// checkExtAuthz() error results carry a code callers branch on (egressway check's next step), over
// real loopback sockets: a server that never answers, one that resets, and a closed port.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ExtAuthzHttpProvider } from '../../src/model/authn.ts';
import { checkExtAuthz } from '../../src/policy/ext-authz.ts';

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
