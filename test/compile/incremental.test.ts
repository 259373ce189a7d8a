// Incremental compile (issue 16): a compile that reuses a CompileMemo across changes must give what a
// compile from nothing gives, snapshot and diagnostics alike. Property: random sequences of
// add/modify/delete over a small universe of names, so that changes collide on hosts, targets and
// routes; after every step the two are compared in a canonical serialisation of everything in the
// snapshot (routes and policies included, which /config_dump leaves out).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compile, CompileMemo } from '../../src/compile/compile.ts';
import { validateResource } from '../../src/config/kinds/index.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import type { Resource } from '../../src/config/resource.ts';
import { hasErrors } from '../../src/model/diagnostic.ts';
import { policySpec } from '../helpers/arbitraries.ts';
import { canonical } from '../helpers/canonical.ts';

const NS = 'istio-egress';
const HOSTS = ['a.test', 'b.test', 'c.test', '*.w.test', 'x.w.test'];
const PORTS = [{ number: 80, name: 'http', protocol: 'HTTP' }, { number: 443, name: 'tls', protocol: 'TLS' }, { number: 8080, name: 'alt', protocol: 'HTTP' }];
const WAYPOINT = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'waypoint', namespace: NS }, spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] } };

const host = fc.constantFrom(...HOSTS);
const slot = fc.constantFrom('0', '1', '2');
const ns = fc.constantFrom(NS, NS, NS, 'shop');

export const serviceEntry = fc.record({
  slot, ns, hosts: fc.uniqueArray(host, { minLength: 1, maxLength: 2 }), ports: fc.subarray(PORTS, { minLength: 1 }),
  bound: fc.constantFrom(true, true, true, false), dns: fc.boolean(),
}).map(({ slot: s, ns: n, hosts, ports, bound, dns }) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry',
  metadata: { name: `se-${s}`, namespace: n, labels: { 'istio.io/use-waypoint': bound ? 'waypoint' : 'none', ...(n === NS ? {} : { 'istio.io/use-waypoint-namespace': NS }) } },
  spec: hosts.some((h) => h.startsWith('*'))
    ? { hosts, ports, resolution: 'NONE' }
    : { hosts, ports, resolution: dns ? 'DNS' : 'STATIC', ...(dns ? {} : { endpoints: [{ address: '127.0.0.1', labels: { v: '1' } }] }) },
}));

const destination = fc.record({ host: fc.constantFrom('a.test', 'b.test', 'c.test', 'x.w.test'), port: fc.option(fc.constantFrom(80, 8080), { nil: undefined }), subset: fc.option(fc.constant('v1'), { nil: undefined, freq: 4 }) })
  .map(({ host: h, port, subset }) => ({ host: h, ...(port ? { port: { number: port } } : {}), ...(subset ? { subset } : {}) }));

export const virtualService = fc.record({
  slot, ns, hosts: fc.uniqueArray(host, { minLength: 1, maxLength: 2 }),
  http: fc.array(fc.record({ prefix: fc.option(fc.constantFrom('/a', '/b'), { nil: undefined }), to: destination, port: fc.option(fc.constantFrom(80, 8080), { nil: undefined }) }), { minLength: 1, maxLength: 2 }),
}).map(({ slot: s, ns: n, hosts, http }) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: `vs-${s}`, namespace: n },
  spec: { hosts, http: http.map((r) => ({ ...(r.prefix || r.port ? { match: [{ ...(r.prefix ? { uri: { prefix: r.prefix } } : {}), ...(r.port ? { port: r.port } : {}) }] } : {}), route: [{ destination: r.to }] })) },
}));

const authorizationPolicy = fc.record({ slot, target: fc.constantFrom('se-0', 'se-1', 'se-2', 'waypoint'), spec: policySpec }).map(({ slot: s, target, spec }) => ({
  apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: `ap-${s}`, namespace: NS },
  spec: {
    ...JSON.parse(JSON.stringify(spec)),
    targetRefs: [target === 'waypoint' ? { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' } : { group: 'networking.istio.io', kind: 'ServiceEntry', name: target }],
  },
}));

const destinationRule = fc.record({ slot, host: fc.constantFrom('a.test', 'c.test', '*.w.test', 'other.test'), subsets: fc.boolean(), lb: fc.boolean() }).map(({ slot: s, host: h, subsets, lb }) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: `dr-${s}`, namespace: NS },
  spec: { host: h, ...(lb ? { trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } } : {}), ...(subsets ? { subsets: [{ name: 'v1', labels: { v: '1' } }] } : {}) },
}));

const httpRoute = fc.record({ slot, parent: fc.constantFrom('se-0', 'se-1', 'waypoint'), backend: fc.constantFrom('a.test', 'b.test', 'c.test') }).map(({ slot: s, parent, backend }) => ({
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: `hr-${s}`, namespace: NS },
  spec: {
    parentRefs: [parent === 'waypoint' ? { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' } : { group: 'networking.istio.io', kind: 'ServiceEntry', name: parent }],
    rules: [{ backendRefs: [{ group: 'networking.istio.io', kind: 'Hostname', name: backend, port: 80 }] }],
  },
}));

const namespace = fc.boolean().map((label) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: label ? { 'istio.io/use-waypoint': 'waypoint' } : {} } }));

type Doc = { kind: string; metadata: { name: string; namespace?: string } };
const put = fc.oneof(
  { weight: 4, arbitrary: serviceEntry }, { weight: 4, arbitrary: virtualService }, { weight: 2, arbitrary: authorizationPolicy },
  { weight: 1, arbitrary: destinationRule }, { weight: 1, arbitrary: httpRoute }, { weight: 1, arbitrary: namespace },
).map((doc) => ({ put: doc as Doc }));
const del = fc.record({ kind: fc.constantFrom('ServiceEntry', 'VirtualService', 'AuthorizationPolicy', 'DestinationRule', 'HTTPRoute'), slot, ns })
  .map(({ kind, slot: s, ns: n }) => ({ del: `${kind}/${n}/${{ ServiceEntry: 'se', VirtualService: 'vs', AuthorizationPolicy: 'ap', DestinationRule: 'dr', HTTPRoute: 'hr' }[kind]}-${s}` }));
const steps = fc.array(fc.oneof({ weight: 3, arbitrary: put }, { weight: 1, arbitrary: del }), { minLength: 1, maxLength: 40 });

/** One document -> one validated Resource (as a config source hands it to compile), or undefined. */
export function resourceOf(doc: object, file = 'mem.yaml'): Resource | undefined {
  const parsed = parseDocuments(JSON.stringify(doc), file);
  const r = parsed.resources[0];
  if (!r || hasErrors(parsed.diagnostics)) return undefined;
  const v = validateResource(r);
  return v.known && !hasErrors(v.diagnostics) ? r : undefined;
}

const keyOf = (d: Doc) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`;

/** The comparison itself: a compile with the memo against one without, in canonical form. */
export function assertSameAsFull(resources: readonly Resource[], memo: CompileMemo, where: string): boolean {
  const incremental = compile(resources, {}, memo);
  const full = compile(resources, {});
  assert.equal(canonical(incremental.diagnostics), canonical(full.diagnostics), `${where}: diagnostics differ`);
  assert.equal(canonical(incremental.snapshot ?? null), canonical(full.snapshot ?? null), `${where}: snapshots differ`);
  return full.snapshot !== undefined;
}

test('incremental compile: after every add, modify or delete, the snapshot and diagnostics equal a full compile', () => {
  let compiled = 0;
  let total = 0;
  fc.assert(fc.property(steps, (ops) => {
    const current = new Map<string, Resource>([['Gateway/istio-egress/waypoint', resourceOf(WAYPOINT)!]]);
    const memo = new CompileMemo();
    assertSameAsFull([...current.values()], memo, 'start');
    ops.forEach((op, i) => {
      if ('del' in op) current.delete(op.del);
      else {
        const r = resourceOf(op.put);
        if (r) current.set(keyOf(op.put), r);
      }
      total++;
      if (assertSameAsFull([...current.values()], memo, `step ${i}`)) compiled++;
    });
  }), { seed: 0x16, numRuns: 150 });
  // The property is only worth something if most steps compile to a snapshot.
  assert.ok(compiled > total / 2, `only ${compiled} of ${total} steps compiled`);
});
