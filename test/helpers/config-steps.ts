// Random sequences of config changes over a small universe of names, so that changes collide on
// hosts, targets and routes: for the properties that an incremental compile equals a full one
// (test/compile/incremental.test.ts) and that workers' snapshots follow the primary's through
// deltas (test/workers/snapshot-delta.test.ts).
import fc from 'fast-check';
import { validateResource } from '../../src/config/kinds/index.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import type { Resource } from '../../src/config/resource.ts';
import { hasErrors } from '../../src/model/diagnostic.ts';
import { policySpec } from './arbitraries.ts';

const NS = 'istio-egress';
const HOSTS = ['a.test', 'b.test', 'c.test', '*.w.test', 'x.w.test'];
const PORTS = [{ number: 80, name: 'http', protocol: 'HTTP' }, { number: 443, name: 'tls', protocol: 'TLS' }, { number: 8080, name: 'alt', protocol: 'HTTP' }];
export const WAYPOINT = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'waypoint', namespace: NS }, spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] } };

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

// The same entry with other endpoints: a change in place (same hosts and ports), which
// services-delta.ts patches instead of a full pass.
const serviceEntryTweak = fc.record({ slot, address: fc.constantFrom('127.0.0.1', '127.0.0.2'), weight: fc.integer({ min: 1, max: 3 }), dns: fc.boolean() })
  .map(({ slot: s, address, weight, dns }) => ({
    apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry',
    metadata: { name: `se-${s}`, namespace: NS, labels: { 'istio.io/use-waypoint': 'waypoint' }, creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: { hosts: [HOSTS[Number(s)]!], ports: [PORTS[0]], resolution: dns ? 'DNS' : 'STATIC', endpoints: [{ address, weight, labels: { v: '1' } }] },
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

// Several slots and targets (one or two; se-3 never exists): the patched path of policies-delta.ts
// is taken for a service-scoped policy without diagnostics, the full pass for the rest.
const apSlot = fc.constantFrom('0', '1', '2', '3', '4');
// Most random specs (policySpec) draw warnings or fail validation; plain ones are the common case.
const plainSpec = fc.record({ action: fc.constantFrom('ALLOW', 'DENY', 'AUDIT'), paths: fc.subarray(['/a', '/b*', '/admin'], { minLength: 1 }) })
  .map(({ action, paths }) => ({ action, rules: [{ to: [{ operation: { paths } }] }] }));
const authorizationPolicy = fc.record({
  slot: apSlot, targets: fc.uniqueArray(fc.constantFrom('se-0', 'se-0', 'se-1', 'se-1', 'se-2', 'se-2', 'se-3', 'waypoint'), { minLength: 1, maxLength: 2 }),
  spec: fc.oneof({ weight: 3, arbitrary: plainSpec }, { weight: 1, arbitrary: policySpec }),
}).map(({ slot: s, targets, spec }) => ({
  apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: `ap-${s}`, namespace: NS },
  spec: {
    ...JSON.parse(JSON.stringify(spec)),
    targetRefs: targets.map((t) => (t === 'waypoint' ? { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' } : { group: 'networking.istio.io', kind: 'ServiceEntry', name: t })),
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

export type Doc = { kind: string; metadata: { name: string; namespace?: string; creationTimestamp?: string } };
// Creation times (or none) decide where a resource sorts: a changed one moves among the others, as
// in Kubernetes, and the merge of sorted-input.ts must put it where a full sort does.
const created = fc.constantFrom(undefined, undefined, '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z');
const put = fc.tuple(fc.oneof(
  { weight: 2, arbitrary: serviceEntry }, { weight: 5, arbitrary: serviceEntryTweak }, { weight: 4, arbitrary: virtualService }, { weight: 8, arbitrary: authorizationPolicy },
  { weight: 1, arbitrary: destinationRule }, { weight: 1, arbitrary: httpRoute }, { weight: 1, arbitrary: namespace },
), created).map(([doc, at]) => ({ put: (at && !(doc.metadata as Doc['metadata']).creationTimestamp ? { ...doc, metadata: { ...doc.metadata, creationTimestamp: at } } : doc) as Doc }));
const del = fc.record({ kind: fc.constantFrom('ServiceEntry', 'VirtualService', 'AuthorizationPolicy', 'AuthorizationPolicy', 'DestinationRule', 'HTTPRoute'), slot: apSlot, ns })
  .map(({ kind, slot: s, ns: n }) => ({ del: `${kind}/${n}/${{ ServiceEntry: 'se', VirtualService: 'vs', AuthorizationPolicy: 'ap', DestinationRule: 'dr', HTTPRoute: 'hr' }[kind]}-${s}` }));
const one = fc.oneof({ weight: 3, arbitrary: put }, { weight: 1, arbitrary: del });
/** Several changes compiled at once (a debounced burst): changes far apart in the input. */
const batch = fc.array(one, { minLength: 2, maxLength: 4 }).map((ops) => ({ batch: ops }));
type Op = { put: Doc } | { del: string };
/** Random sequences of puts (add or change) and deletes of a config's resources, one or a few per step. */
export const steps: fc.Arbitrary<(Op | { batch: Op[] })[]> = fc.array(fc.oneof({ weight: 4, arbitrary: one }, { weight: 1, arbitrary: batch }), { minLength: 1, maxLength: 40 });

/** One document -> one validated Resource (as a config source hands it to compile), or undefined. */
export function resourceOf(doc: object, file = 'mem.yaml'): Resource | undefined {
  const parsed = parseDocuments(JSON.stringify(doc), file);
  const r = parsed.resources[0];
  if (!r || hasErrors(parsed.diagnostics)) return undefined;
  const v = validateResource(r);
  return v.known && !hasErrors(v.diagnostics) ? r : undefined;
}

export const keyOf = (d: Doc) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`;

/** The resources after each step of `ops`, in the order a config source keeps them (a changed one keeps its place). */
export function* configAfterEachStep(steps: readonly (Op | { batch: Op[] })[]): Generator<readonly Resource[]> {
  const current = new Map<string, Resource>([['Gateway/istio-egress/waypoint', resourceOf(WAYPOINT)!]]);
  yield [...current.values()];
  for (const step of steps) {
    for (const op of 'batch' in step ? step.batch : [step]) {
      if ('del' in op) current.delete(op.del);
      else {
        const r = resourceOf(op.put);
        if (r) current.set(keyOf(op.put), r);
      }
    }
    yield [...current.values()];
  }
}
