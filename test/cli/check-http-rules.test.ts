// `egressway check` names the VirtualService / HTTPRoute rule an HTTP request takes and where it goes,
// as the waypoint picks it (serve-http.ts): the same request is sent through a real waypoint and the
// rule in its access record (route_name, upstream cluster, status) must be the one check printed.
// Each row also says what it expects, so both sides being wrong the same way still fails.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { proxyClient, type ProxyClient } from '../helpers/proxy-fetch.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';

const entry = (name: string, port: number) => serviceEntry(name, `hosts: [${name}.test]
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: STATIC
endpoints: [{address: 127.0.0.1, ports: {http: ${port}}}]`);

const VS = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: istio-egress}
spec:
  hosts: [shop.test]
  http:
  - name: orders
    match: [{uri: {prefix: /orders}, method: {exact: POST}}]
    route: [{destination: {host: orders.test}}]
  - name: moved
    match: [{uri: {exact: /old}}]
    redirect: {uri: /new, redirectCode: 308}
  - name: canary
    match: [{headers: {x-canary: {exact: "1"}}}]
    route: [{destination: {host: shop.test}, weight: 75}, {destination: {host: orders.test}, weight: 25}]
  - name: pages
    match: [{uri: {prefix: /pages}}]
    route: [{destination: {host: shop.test}}]
`;

interface Row {
  readonly what: string;
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  /** What check must print on its route line, and the waypoint's route_name and status. */
  readonly route: RegExp;
  readonly routeName: string;
  readonly status: number;
}

const ROWS: readonly Row[] = [
  { what: 'a rule routing to another ServiceEntry', method: 'POST', path: '/orders/7', route: /^route +forward orders -> inbound-vip\|80\|http\|orders\.test$/m, routeName: 'orders', status: 200 },
  { what: 'the same path with another method falls through to the next rule that matches', method: 'GET', path: '/pages/a', route: /^route +forward pages -> inbound-vip\|80\|http\|shop\.test$/m, routeName: 'pages', status: 200 },
  { what: 'a redirect rule', method: 'GET', path: '/old', route: /^route +forward moved -> \(none\): redirect 308$/m, routeName: 'moved', status: 308 },
  { what: 'a weighted split names every destination and its share', method: 'GET', path: '/x', headers: { 'x-canary': '1' }, route: /^route +forward canary -> inbound-vip\|80\|http\|shop\.test 75%, inbound-vip\|80\|http\|orders\.test 25%$/m, routeName: 'canary', status: 200 },
  { what: 'no rule matches: 404 NR once authorized', method: 'GET', path: '/nothing', route: /^route +forward \(none\) -> \(none\): no rule matches GET \/nothing: 404 NR/m, routeName: '', status: 404 },
];

function check(configDir: string, row: Row): Promise<string> {
  const args = ['src/cli/main.ts', 'check', '--config', configDir, '-X', row.method];
  for (const [k, v] of Object.entries(row.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(`http://shop.test${row.path}`);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err && !stdout) reject(new Error(`check failed: ${stderr}`));
      else resolve(stdout);
    });
  });
}

describe('egressway check names the HTTP rule the waypoint takes', () => {
  let wp: InProcess;
  let client: ProxyClient;
  const ups: HttpUpstream[] = [];

  before(async () => {
    ups.push(await startHttpUpstream({ name: 'shop' }), await startHttpUpstream({ name: 'orders' }));
    wp = await startInProcess(WAYPOINT_YAML + entry('shop', ups[0]!.port) + entry('orders', ups[1]!.port) + VS);
    client = proxyClient(wp.proxyUrl, { tunnel: false });
  });
  after(async () => {
    await client?.close();
    await wp?.close();
    await Promise.all(ups.map((u) => u.close()));
  });

  for (const row of ROWS) {
    test(row.what, async () => {
      const out = await check(wp.dir, row);
      assert.match(out, row.route, out);
      assert.match(out, /^ +from VirtualService istio-egress\/shop$/m, out);
      const r = await client.fetch(`http://shop.test${row.path}`, { method: row.method, headers: row.headers ?? {}, redirect: 'manual' });
      assert.equal(r.status, row.status, r.text());
      const rec = await wp.nextRecord((x) => x.path === row.path && x.method === row.method);
      assert.equal(rec.routeName, row.routeName);
      if (row.status === 404) assert.equal(rec.responseFlags, 'NR');
      if (row.status === 308) assert.equal(r.headers.get('location'), 'http://shop.test/new');
      // Where the waypoint sent it is one of the clusters check named.
      if (row.status === 200) assert.ok(out.includes(rec.upstreamCluster), `${rec.upstreamCluster} in\n${out}`);
    });
  }
});
