// Regression (issue 11): an unsolicited `100 Continue` from an upstream turned a good 200 into
// 503 UC (undici destroyed the connection on it). As Envoy does, the waypoint now drops the 1xx and
// forwards the final response. The upstream is a raw TCP server, so the bytes are exactly these.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const final = (body: string) => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nx-up: yes\r\n\r\n${body}`;

// Answers each request head it sees with what `script` returns for its path, in pieces with a pause
// between them (a 1xx and the final head in separate TCP segments, too).
function rawUpstream(script: (path: string) => string[]): Promise<{ server: Server; port: number; connections: () => number; requests: string[] }> {
  let connections = 0;
  const requests: string[] = [];
  const server = createServer((s: Socket) => {
    connections++;
    let buf = '';
    s.on('data', async (d) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        buf = buf.slice(end + 4 + length);
        requests.push(head);
        for (const piece of script(head.split(' ')[1] ?? '/')) {
          s.write(piece);
          await sleep(20);
        }
      }
    });
    s.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ server, port: (server.address() as { port: number }).port, connections: () => connections, requests });
  }));
}

describe('an unsolicited 100 Continue from the upstream', () => {
  let up: Awaited<ReturnType<typeof rawUpstream>>;
  let wp: InProcess;
  before(async () => {
    up = await rawUpstream((path) => {
      if (path === '/two') return [CONTINUE, CONTINUE, final('two')];
      if (path === '/split') return ['HTTP/1.1 100 Cont', 'inue\r\n\r\nHTTP/1.1 200 OK\r\n', 'content-length: 5\r\n\r\nsplit'];
      if (path === '/103') return ['HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n', final('hints')];
      return [CONTINUE + final('ok')];
    });
    wp = await startInProcess(WAYPOINT_YAML + serviceEntry('api', `hosts: [api.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`));
  });
  after(async () => {
    await wp?.close();
    up?.server.close();
  });

  test('is dropped and the 200 is forwarded (same segment)', async () => {
    const r = await curl(['-x', wp.proxyUrl, '-D', '-', 'http://api.test/']);
    assert.equal(r.status, 200, r.stdout);
    assert.doesNotMatch(r.stdout, /100 Continue/, 'the 1xx is not forwarded');
    assert.match(r.stdout, /x-up: yes/i);
    assert.match(r.stdout, /\r\n\r\nok$/);
    const rec = await wp.nextRecord((x) => x.path === '/');
    assert.equal(rec.responseCode, 200);
    assert.equal(rec.responseFlags, '-');
  });

  test('two of them, and one split across segments, are dropped too', async () => {
    const two = await curl(['-x', wp.proxyUrl, 'http://api.test/two']);
    assert.equal(two.status, 200);
    assert.equal(two.stdout, 'two');
    const split = await curl(['-x', wp.proxyUrl, 'http://api.test/split']);
    assert.equal(split.status, 200);
    assert.equal(split.stdout, 'split');
  });

  test('a POST whose upstream answers 100 then 200 keeps its body and its connection', async () => {
    const before = up.connections();
    for (let i = 0; i < 3; i++) {
      const r = await curl(['-x', wp.proxyUrl, '--data-binary', `body-${i}`, 'http://api.test/post']);
      assert.equal(r.status, 200);
      assert.equal(r.stdout, 'ok');
    }
    assert.match(up.requests.at(-1)!, /^POST \/post HTTP\/1\.1/);
    assert.ok(up.connections() - before <= 1, `the upstream connection is reused (${up.connections() - before} new)`);
  });

  test('103 Early Hints still works (it always did): dropped, final response forwarded', async () => {
    const r = await curl(['-x', wp.proxyUrl, 'http://api.test/103']);
    assert.equal(r.status, 200);
    assert.equal(r.stdout, 'hints');
  });
});
