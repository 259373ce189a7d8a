// The agent reloads its mesh config when the files change, over real loopback sockets: a host added
// to the config is routed without a restart, a host removed is refused to new connections while an
// open tunnel to it carries on, and bad YAML keeps the last good config with one line naming
// file:line and the fix.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.ts';
import { parseAddressOverrides } from '../../src/agent/routes.ts';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir, writeConfig, type TmpDir } from '../helpers/tmp.ts';
import { startMesh, type Mesh } from '../hbone/fixture.ts';

// The agent needs only which hosts bind to the waypoint; the waypoint's own config (startMesh) knows
// api.test, raw.test and payments.test and where they go.
const entry = (name: string, port: number, proto: string) =>
  serviceEntry(name, `hosts: [${name}.test]\nports: [{number: ${port}, name: p, protocol: ${proto}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);
const API = entry('api', 80, 'HTTP');
const RAW = entry('raw', 9000, 'TCP');
const PAYMENTS = entry('payments', 80, 'HTTP');

interface LogLine { level: string; msg: string }

function logSink() {
  const lines: LogLine[] = [];
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  return {
    lines,
    onLog(level: string, msg: string) {
      const l = { level, msg };
      lines.push(l);
      for (const w of waiters.splice(0)) (w.pred(l) ? w.resolve(l) : waiters.push(w));
    },
    /** The next matching line logged from now on; fails with every line seen if none comes. */
    next(pred: (l: LogLine) => boolean, ms = 5_000): Promise<LogLine> {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching log line in ${ms} ms; got:\n${lines.map((l) => `${l.level} ${l.msg}`).join('\n')}`)), ms);
        waiters.push({ pred, resolve: (l) => { clearTimeout(t); resolve(l); } });
      });
    },
  };
}

/** A CONNECT tunnel through the agent's HTTP proxy; resolves with the socket and the status line. */
async function tunnel(proxy: string, authority: string): Promise<{ sock: Socket; head: string }> {
  const [host, port] = proxy.split(':');
  const sock = connect({ host, port: Number(port) });
  sock.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  const head = await new Promise<string>((resolve, reject) => {
    sock.once('data', (d: Buffer) => resolve(d.toString()));
    sock.once('error', reject);
  });
  return { sock, head };
}

function echo(sock: Socket, text: string): Promise<string> {
  sock.write(text);
  return new Promise((resolve, reject) => {
    sock.once('data', (d: Buffer) => resolve(d.toString()));
    sock.once('close', () => reject(new Error('the tunnel closed')));
  });
}

describe('egressway agent: live config reload', () => {
  let m: Mesh;
  let dir: TmpDir;
  let agent: RunningAgent;
  const log = logSink();
  const via = (url: string) => curl(['-x', `http://${agent.http}`, url]);

  before(async () => {
    m = await startMesh();
    dir = await tmpDir();
    await writeConfig(dir.path, WAYPOINT_YAML + API + RAW);
    agent = await startAgent({
      configPaths: [dir.path], cert: m.pki.files.cart!.cert, key: m.pki.files.cart!.key, trustBundle: m.pki.bundle,
      waypointAddresses: parseAddressOverrides([`127.0.0.1:${m.hbonePort}`]), listenAddress: '127.0.0.1',
      httpPort: 0, socksPort: -1, passthrough: false, workload: 'cart', noProxy: '', onLog: log.onLog,
    });
  });
  after(async () => {
    await agent?.close();
    await m?.close();
    await dir?.close();
  });

  test('a host added to the config is routed through the waypoint without a restart', async () => {
    const before = await via('http://payments.test/v1/before');
    assert.equal(before.status, 403, before.stdout);
    assert.match(before.stdout, /payments\.test:80 is not bound to any waypoint/);
    const reloaded = log.next((l) => l.msg.startsWith('config reloaded'));
    await writeConfig(dir.path, WAYPOINT_YAML + API + RAW + PAYMENTS);
    assert.match((await reloaded).msg, /waypoints istio-egress\/waypoint at 127\.0\.0\.1:\d+/);
    const r = await via('http://payments.test/v1/after');
    assert.equal(r.status, 200, r.stdout + r.stderr);
    const rec = await m.wp.nextRecord((x) => x.path === '/v1/after');
    assert.equal(rec.sourcePrincipal, 'spiffe://cluster.local/ns/shop/sa/cart');
  });

  test('a host removed from the config: new connections are refused, an open tunnel keeps going', async () => {
    const open = await tunnel(agent.http!, 'raw.test:9000');
    assert.match(open.head, /^HTTP\/1\.1 200/);
    assert.equal(await echo(open.sock, 'before the reload'), 'before the reload');
    const reloaded = log.next((l) => l.msg.startsWith('config reloaded'));
    await writeConfig(dir.path, WAYPOINT_YAML + API + PAYMENTS);
    await reloaded;
    const refused = await tunnel(agent.http!, 'raw.test:9000');
    assert.match(refused.head, /^HTTP\/1\.1 403/);
    assert.match(refused.head, /raw\.test:9000 is not bound to any waypoint/);
    refused.sock.destroy();
    assert.equal(await echo(open.sock, 'after the reload'), 'after the reload', 'the open tunnel kept its config');
    open.sock.destroy();
  });

  test('bad YAML: the last good config stays, and one line names file:line and the fix', async () => {
    const version = agent.config.current().version;
    const rejected = log.next((l) => l.level === 'error');
    await writeConfig(dir.path, `${WAYPOINT_YAML}${API}---\nkind: ServiceEntry\nmetadata: {name: broken\n  spec: [\n`);
    const line = (await rejected).msg;
    assert.doesNotMatch(line, /\n/, 'one line');
    assert.match(line, /^config reload rejected, still routing with the last good config: /);
    assert.match(line, /\[EGW0001\] \(\S*config\.yaml:\d+:\d+\)/, 'names the file and line');
    assert.match(line, /\(fix: [^)]+\)/, 'says what to do');
    assert.equal(agent.config.current().version, version);
    const r = await via('http://payments.test/v1/still');
    assert.equal(r.status, 200, 'payments.test, from the last good config, is still routed');
    // Fixed again: the next save is picked up as usual.
    const reloaded = log.next((l) => l.msg.startsWith('config reloaded'));
    await writeConfig(dir.path, WAYPOINT_YAML + API);
    await reloaded;
    assert.equal((await via('http://payments.test/v1/gone')).status, 403);
  });

  test('an invalid resource is rejected the same way, with its field and line', async () => {
    const rejected = log.next((l) => l.level === 'error');
    await writeConfig(dir.path, WAYPOINT_YAML + API + entry('bad', 80, 'HTTP').replace('number: 80', 'number: 99999'));
    const line = (await rejected).msg;
    assert.match(line, /ServiceEntry istio-egress\/bad \S*config\.yaml:\d+/);
    assert.match(line, /spec\.ports\[0\]\.number/);
    assert.equal((await via('http://api.test/still')).status, 200);
  });
});
