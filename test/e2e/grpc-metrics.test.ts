// grpc_response_status and request_protocol="grpc" on istio_requests_total. The upstream is
// HTTP/1.1 (no h2 here: upstream h2 belongs to the DestinationRule work), so it imitates gRPC:
// grpc-status in the response headers (a trailers-only response) or in chunked HTTP/1.1 trailers.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startInProcess, WAYPOINT_YAML, type InProcess, loopbackEntry } from '../helpers/inprocess.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';

/** POST through the proxy listener (absolute-form URI), resolving with the status. */
function post(proxyUrl: string, url: string, contentType: string): Promise<number> {
  const proxy = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: proxy.hostname, port: proxy.port, method: 'POST', path: url, headers: { 'content-type': contentType, host: new URL(url).host } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end(Buffer.from([0, 0, 0, 0, 0]));
  });
}

describe('gRPC request metrics', () => {
  let up: HttpUpstream;
  let wp: InProcess;
  before(async () => {
    up = await startHttpUpstream({
      routes: {
        '/pkg.Svc/Unavailable': ({ req, res }) => {
          req.resume();
          res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'down' }).end();
        },
        '/pkg.Svc/Ok': ({ req, res }) => {
          req.resume();
          res.writeHead(200, { 'content-type': 'application/grpc', 'transfer-encoding': 'chunked', trailer: 'grpc-status' });
          res.write(Buffer.from([0, 0, 0, 0, 0]));
          res.addTrailers({ 'grpc-status': '0' });
          res.end();
        },
      },
    });
    wp = await startInProcess(WAYPOINT_YAML + loopbackEntry('grpc', up.port));
  });
  after(async () => {
    await wp?.close();
    await up?.close();
  });

  test('grpc-status from response headers and from trailers reaches grpc_response_status; content-type makes it grpc', async () => {
    assert.equal(await post(wp.proxyUrl, 'http://grpc.test/pkg.Svc/Unavailable', 'application/grpc'), 200);
    assert.equal(await post(wp.proxyUrl, 'http://grpc.test/pkg.Svc/Ok', 'application/grpc+proto'), 200);
    assert.equal(await post(wp.proxyUrl, 'http://grpc.test/plain', 'application/json'), 200);
    const text = await (await fetch(`${wp.statsUrl}/stats/prometheus`)).text();
    const lines = text.split('\n').filter((l) => l.startsWith('istio_requests_total{') && l.includes('destination_service="grpc.test"'));
    const find = (re: RegExp) => lines.find((l) => re.test(l));
    assert.ok(find(/request_protocol="grpc".*grpc_response_status="14".* 1$/), lines.join('\n'));
    assert.ok(find(/request_protocol="grpc".*grpc_response_status="0".* 1$/), lines.join('\n'));
    assert.ok(find(/request_protocol="http".*grpc_response_status="".* 1$/), lines.join('\n'));
  });
});
