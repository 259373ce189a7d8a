// plan() without sockets: the routing table users get from their ServiceEntries.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import { planRoute, type Mode } from '../../src/dataplane/plan.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';

const snap = compile(parseDocuments(WAYPOINT_YAML
  + serviceEntry('api', 'hosts: [api.example.com]\nports: [{number: 80, name: http, protocol: HTTP}, {number: 443, name: https, protocol: HTTPS}, {number: 9000, name: raw}]\nresolution: DNS')
  + serviceEntry('wild', 'hosts: ["*.example.com"]\nports: [{number: 443, name: tls, protocol: TLS}]\nresolution: DYNAMIC_DNS')
  + serviceEntry('pinned', 'hosts: [db.internal]\naddresses: [10.1.2.3]\nports: [{number: 5432, name: tcp, protocol: TCP}]\nresolution: STATIC\nendpoints: [{address: 10.1.2.3}]'),
'plan.yaml').resources).snapshot!;

const rows: { host: string; port: number; mode: Mode; expect: string }[] = [
  { host: 'api.example.com', port: 80, mode: 'http', expect: 'forward inbound-vip|80|http|api.example.com' },
  { host: 'API.Example.com', port: 80, mode: 'http', expect: 'forward inbound-vip|80|http|api.example.com' },
  { host: 'api.example.com', port: 80, mode: 'connect', expect: 'terminate inbound-vip|80|http|api.example.com' },
  { host: 'api.example.com', port: 443, mode: 'connect', expect: 'forward inbound-vip|443|tcp|api.example.com' },
  { host: 'api.example.com', port: 443, mode: 'http', expect: 'reject protocol_mismatch' },
  { host: 'api.example.com', port: 9000, mode: 'http', expect: 'forward inbound-vip|9000|tcp|api.example.com' },
  { host: 'api.example.com', port: 8080, mode: 'http', expect: 'reject unknown_port' },
  { host: 'x.example.com', port: 443, mode: 'connect', expect: 'forward inbound-vip|443|tcp|*.example.com' },
  { host: 'api.example.com', port: 443, mode: 'connect', expect: 'forward inbound-vip|443|tcp|api.example.com' },
  { host: 'example.com', port: 443, mode: 'connect', expect: 'reject unknown_host' },
  { host: '10.1.2.3', port: 5432, mode: 'connect', expect: 'forward inbound-vip|5432|tcp|db.internal' },
  { host: 'other.test', port: 80, mode: 'http', expect: 'reject unknown_host' },
];

describe('planRoute', () => {
  for (const r of rows) {
    test(`${r.mode} ${r.host}:${r.port} -> ${r.expect}`, () => {
      const p = planRoute(snap, r.host.toLowerCase(), r.port, r.mode);
      const got = p.kind === 'reject' ? `reject ${p.code}` : p.kind === 'forward' ? `${p.terminate ? 'terminate' : 'forward'} ${p.cluster.name}` : 'passthrough';
      assert.equal(got, r.expect);
    });
  }

  test('auto-allocated VIPs route like the host and are stable', () => {
    const api = snap.services.find((s) => s.name === 'api')!;
    assert.equal(api.autoAllocated, true);
    assert.match(api.addresses[0]!, /^240\.240\.\d+\.\d+$/);
    const p = planRoute(snap, api.addresses[0]!, 80, 'http');
    assert.equal(p.kind === 'forward' && p.cluster.name, 'inbound-vip|80|http|api.example.com');
    const wild = snap.services.find((s) => s.name === 'wild')!;
    assert.deepEqual(wild.addresses, [], 'wildcards get no VIP');
  });
});
