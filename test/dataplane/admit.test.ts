// admit()'s rules without sockets: which Upgrade a request asks for, and which Host may ride in a
// tunnel to a given CONNECT authority (domain fronting). End to end: test/e2e/raw-socket.test.ts.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import { frontedHost, shouldUpgrade, upgradeOf } from '../../src/dataplane/admit.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';

const snap = compile(parseDocuments(WAYPOINT_YAML
  + serviceEntry('api', 'hosts: [api.example.com, alias.example.com]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS')
  + serviceEntry('other', 'hosts: [other.example.com]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS')
  + serviceEntry('wild', 'hosts: ["*.wild.example"]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DYNAMIC_DNS'),
'admit.yaml').resources).snapshot!;
const vip = (name: string) => snap.services.find((s) => s.name === name)!.addresses;

describe('upgradeOf', () => {
  const rows: [Record<string, string>, string | undefined, boolean][] = [
    [{ connection: 'Upgrade', upgrade: 'websocket' }, 'websocket', true],
    [{ connection: 'keep-alive, Upgrade', upgrade: 'WebSocket' }, 'websocket', true],
    [{ connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c' }, 'h2c', false],
    [{ connection: 'Upgrade', upgrade: 'websocket, foo' }, 'websocket, foo', false],
    [{ connection: 'Upgrade', upgrade: 'foo' }, 'foo', false],
    [{ upgrade: 'websocket' }, undefined, false], // no Connection: upgrade, so not an upgrade (RFC 9110 §7.8)
    [{ connection: 'upgraded', upgrade: 'websocket' }, undefined, false],
  ];
  for (const [headers, token, enabled] of rows) {
    test(`${JSON.stringify(headers)} -> ${token} (${enabled ? 'enabled' : 'not enabled'})`, () => {
      const req = { headers } as unknown as IncomingMessage;
      assert.equal(upgradeOf(req), token);
      assert.equal(shouldUpgrade(req), enabled);
    });
  }
});

describe('frontedHost', () => {
  const api = { host: 'api.example.com', port: 80 };
  const rows: [string, { host: string; port: number }, string, boolean][] = [
    ['same host', api, 'api.example.com', true],
    ['same host, other case and port', api, 'API.Example.com:8080', true],
    ['another registered host', api, 'other.example.com', false],
    ['an unregistered host', api, 'evil.test', false],
    ['another host of the same ServiceEntry (its own cluster)', api, 'alias.example.com', false],
    ['a name under the same wildcard', { host: 'a.wild.example', port: 80 }, 'b.wild.example', false],
    ['the VIP tunnel with its host', { host: vip('api')[0]!, port: 80 }, 'api.example.com', true],
    ['the VIP tunnel with the VIP itself', { host: vip('api')[0]!, port: 80 }, vip('api')[0]!, true],
    ['the VIP tunnel with another service', { host: vip('api')[0]!, port: 80 }, 'other.example.com', false],
    ['an invalid Host', api, 'a b', false],
  ];
  for (const [name, tunnel, host, ok] of rows) {
    test(`${name}: ${host} in ${tunnel.host}:${tunnel.port} is ${ok ? 'allowed' : 'refused'}`, () => {
      const why = frontedHost(snap, tunnel, host);
      if (ok) assert.equal(why, undefined);
      else assert.match(why ?? '', /Host/);
    });
  }
});
