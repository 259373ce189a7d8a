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
const PORTS = [{ number: 80, name: 'http', protocol: 'HTTP' }, { number: 443, name: 'tls', protocol: 'TLS' }, { number: 8080, name: 'alt', protocol: 'HTTP' }, { number: 9000, name: 'tcp', protocol: 'TCP' }];
export const WAYPOINT = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'waypoint', namespace: NS }, spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] } };

const host = fc.constantFrom(...HOSTS);
const slot = fc.constantFrom('0', '1', '2');
const ns = fc.constantFrom(NS, NS, NS, 'shop');

// User addresses: a VIP two entries share (first wins the address table, without a diagnostic), or
// one of the entry's own; none (auto-allocation) most of the time.
const addresses = fc.constantFrom(undefined, undefined, undefined, ['240.240.0.9'], ['240.240.0.9'], ['240.240.1.1', '240.240.0.9'], ['10.9.0.0/16']);
const exportTo = fc.constantFrom(undefined, undefined, ['.'], ['*'], ['shop']);
// Extra fields that change the entry without changing its name: the delta paths must not miss them.
const seExtras = fc.record({ addresses, exportTo, internal: fc.boolean(), noAuto: fc.constantFrom(false, false, false, true) });
const extrasOf = (x: { addresses?: readonly string[] | undefined; exportTo?: readonly string[] | undefined; internal: boolean }) => ({
  ...(x.addresses ? { addresses: x.addresses } : {}), ...(x.exportTo ? { exportTo: x.exportTo } : {}), ...(x.internal ? { location: 'MESH_INTERNAL' } : {}),
});

export const serviceEntry = fc.record({
  slot, ns, hosts: fc.uniqueArray(host, { minLength: 1, maxLength: 2 }), ports: fc.subarray(PORTS, { minLength: 1 }),
  bound: fc.constantFrom(true, true, true, false), dns: fc.boolean(), extras: seExtras,
}).map(({ slot: s, ns: n, hosts, ports, bound, dns, extras }) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry',
  metadata: {
    name: `se-${s}`, namespace: n,
    labels: { 'istio.io/use-waypoint': bound ? 'waypoint' : 'none', ...(n === NS ? {} : { 'istio.io/use-waypoint-namespace': NS }), ...(extras.noAuto ? { 'networking.istio.io/enable-autoallocate-ip': 'false' } : {}) },
  },
  spec: hosts.some((h) => h.startsWith('*'))
    ? { hosts, ports, resolution: 'NONE', ...(extras.exportTo ? { exportTo: extras.exportTo } : {}) }
    : { hosts, ports, resolution: dns ? 'DNS' : 'STATIC', ...extrasOf(extras), ...(dns ? {} : { endpoints: [{ address: '127.0.0.1', labels: { v: '1' } }] }) },
}));

// The same entry with other endpoints: a change in place (same hosts and ports), which
// services-delta.ts patches instead of a full pass.
const serviceEntryTweak = fc.record({ slot, address: fc.constantFrom('127.0.0.1', '127.0.0.2'), weight: fc.integer({ min: 1, max: 3 }), dns: fc.boolean() })
  .map(({ slot: s, address, weight, dns }) => ({
    apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry',
    metadata: { name: `se-${s}`, namespace: NS, labels: { 'istio.io/use-waypoint': 'waypoint' }, creationTimestamp: '2024-01-01T00:00:00Z' },
    // se-1 and se-2 share a user VIP (first wins the address table): an in-place change of the
    // second must not take it over.
    // se-1 and se-2 also have a TCP port, for VirtualService tls/tcp rules (the same ports each time).
    spec: { hosts: [HOSTS[Number(s)]!], ports: s === '0' ? [PORTS[0]] : [PORTS[0], PORTS[3]], resolution: dns ? 'DNS' : 'STATIC', ...(s !== '0' ? { addresses: ['240.240.0.9'] } : {}), endpoints: [{ address, weight, labels: { v: '1' } }] },
  }));

// The same name and host with what the patch must carry or refuse: the port renamed or another
// protocol, user addresses, exportTo, location, another namespace, the waypoint label taken off.
const serviceEntryReshape = fc.record({
  slot, address: fc.constantFrom('127.0.0.1', '127.0.0.2'), dns: fc.boolean(),
  n: fc.constantFrom(NS, NS, NS, 'shop'), port: fc.constantFrom(PORTS[0], { number: 80, name: 'web', protocol: 'HTTP' }, { number: 80, name: 'http', protocol: 'HTTP2' }, { number: 80, name: 'http', protocol: 'TCP' }),
  bound: fc.constantFrom(true, true, true, false), extras: seExtras,
}).map(({ slot: s, address, dns, n, port, bound, extras }) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry',
  metadata: {
    name: `se-${s}`, namespace: n, creationTimestamp: '2024-01-01T00:00:00Z',
    labels: { 'istio.io/use-waypoint': bound ? 'waypoint' : 'none', ...(n === NS ? {} : { 'istio.io/use-waypoint-namespace': NS }), ...(extras.noAuto ? { 'networking.istio.io/enable-autoallocate-ip': 'false' } : {}) },
  },
  spec: { hosts: [HOSTS[Number(s)]!], ports: [port], resolution: dns ? 'DNS' : 'STATIC', ...extrasOf(extras), endpoints: [{ address, labels: { v: '1' } }] },
}));

const destination = fc.record({ host: fc.constantFrom('a.test', 'b.test', 'c.test', 'x.w.test'), port: fc.option(fc.constantFrom(80, 8080), { nil: undefined }), subset: fc.option(fc.constant('v1'), { nil: undefined, freq: 4 }) })
  .map(({ host: h, port, subset }) => ({ host: h, ...(port ? { port: { number: port } } : {}), ...(subset ? { subset } : {}) }));

// Which VirtualServices the waypoint reads (src/compile/vs-scope.ts): bound to mesh or only to
// another Gateway, and exported to the waypoint's namespace, to another one, or private to its own.
const vsGateways = fc.constantFrom(undefined, undefined, ['mesh'], ['istio-egress/other-gw'], ['istio-egress/other-gw', 'mesh']);
const vsExportTo = fc.constantFrom(undefined, undefined, ['.'], ['*'], ['shop'], [NS], ['.', 'other']);
// Per match: gateways (applies only with mesh) and sourceNamespace (compared with the waypoint's;
// it draws a warning, so it is rare: diagnostics send routes through the full pass).
const matchGateways = fc.constantFrom(undefined, undefined, undefined, undefined, ['mesh'], ['istio-egress/other-gw'], ['mesh', 'istio-egress/other-gw']);
const sourceNamespace = fc.constantFrom(undefined, undefined, undefined, undefined, undefined, undefined, undefined, NS, 'shop');
const vsRule = fc.record({
  prefix: fc.option(fc.constantFrom('/a', '/b'), { nil: undefined }), to: destination, port: fc.option(fc.constantFrom(80, 8080), { nil: undefined }),
  gateways: matchGateways, sourceNamespace,
}).map((r) => {
  const m = { ...(r.prefix ? { uri: { prefix: r.prefix } } : {}), ...(r.port ? { port: r.port } : {}), ...(r.gateways ? { gateways: r.gateways } : {}), ...(r.sourceNamespace ? { sourceNamespace: r.sourceNamespace } : {}) };
  return { ...(Object.keys(m).length ? { match: [m] } : {}), route: [{ destination: r.to }] };
});

// tls/tcp rules for TCP chains (src/compile/tcp-routes.ts): a port match or none, sniHosts the
// VirtualService's first host (or another one, which never applies at a waypoint), one or two
// weighted destinations.
const l4Destination = fc.record({ to: destination, weight: fc.constantFrom(undefined, 0, 30, 70) })
  .map(({ to, weight }) => ({ destination: to, ...(weight !== undefined ? { weight } : {}) }));
const l4Rules = fc.option(fc.record({
  tls: fc.constantFrom(false, false, true), port: fc.option(fc.constantFrom(443, 9000), { nil: undefined }), otherSni: fc.constantFrom(false, false, true),
  gateways: matchGateways, route: fc.array(l4Destination, { minLength: 1, maxLength: 2 }), onlyL4: fc.boolean(),
}), { nil: undefined, freq: 3 });

export const virtualService = fc.record({
  slot, ns, hosts: fc.uniqueArray(host, { minLength: 1, maxLength: 2 }), exportTo: vsExportTo, gateways: vsGateways,
  http: fc.array(vsRule, { minLength: 1, maxLength: 2 }), l4: l4Rules,
}).map(({ slot: s, ns: n, hosts, http, exportTo: e, gateways, l4 }) => {
  const m = { ...(l4?.port ? { port: l4.port } : {}), ...(l4?.gateways ? { gateways: l4.gateways } : {}) };
  const sni = l4?.otherSni ? hosts.find((h) => h !== hosts[0]) ?? hosts[0]! : hosts[0]!;
  const rules = !l4 ? {} : l4.tls ? { tls: [{ match: [{ ...m, sniHosts: [sni] }], route: l4.route }] } : { tcp: [{ ...(Object.keys(m).length ? { match: [m] } : {}), route: l4.route }] };
  return {
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: `vs-${s}`, namespace: n },
    spec: { hosts, ...(e ? { exportTo: e } : {}), ...(gateways ? { gateways } : {}), ...(l4?.onlyL4 ? {} : { http }), ...rules },
  };
});

// The same VirtualService (name, namespace, exact host, rules) rebound: only gateways, exportTo or
// its creation time change, so routes-delta.ts patches it instead of a full pass.
// Now and then its host is x.w.test, which an entry for *.w.test also matches (host.Name.Matches).
const virtualServiceRebind = fc.record({ slot, exportTo: vsExportTo, gateways: vsGateways, created: fc.constantFrom('2024-01-01T00:00:00Z', '2023-01-01T00:00:00Z'), underWildcard: fc.constantFrom(false, false, true) })
  .map(({ slot: s, exportTo: e, gateways, created: at, underWildcard }) => ({
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: `vs-${s}`, namespace: NS, creationTimestamp: at },
    spec: { hosts: [underWildcard ? 'x.w.test' : HOSTS[Number(s)]!], ...(e ? { exportTo: e } : {}), ...(gateways ? { gateways } : {}), http: [{ route: [{ destination: { host: 'a.test' } }] }], tcp: [{ route: [{ destination: { host: 'b.test' } }] }] },
  }));

// Several slots and targets (one or two; se-3 never exists): the patched path of policies-delta.ts
// is taken for a service-scoped policy without diagnostics, the full pass for the rest.
const apSlot = fc.constantFrom('0', '1', '2', '3', '4');
// Most random specs (policySpec) draw warnings or fail validation; plain ones are the common case.
const plainSpec = fc.record({ action: fc.constantFrom('ALLOW', 'DENY', 'AUDIT'), paths: fc.subarray(['/a', '/b*', '/admin'], { minLength: 1 }) })
  .map(({ action, paths }) => ({ action, rules: [{ to: [{ operation: { paths } }] }] }));
// Namespaces: the waypoint's, another one's (its ServiceEntries; the waypoint Gateway is not there),
// the root namespace (GatewayClass istio-waypoint applies there only). Scope: targetRefs, a
// selector (ztunnel's: skipped), none (namespace-wide: not a waypoint's). The istio.io/dry-run
// annotation and CUSTOM with a provider (unknown to meshConfig here: a warning) change the policy in place.
const apNs = fc.constantFrom(NS, NS, NS, NS, 'shop', 'istio-system');
const apScope = fc.constantFrom('refs', 'refs', 'refs', 'refs', 'refs', 'refs', 'selector', 'none');
const apFlavour = fc.constantFrom('plain', 'plain', 'plain', 'plain', 'dry-run', 'dry-run-false', 'custom');
const authorizationPolicy = fc.record({
  slot: apSlot, targets: fc.uniqueArray(fc.constantFrom('se-0', 'se-0', 'se-1', 'se-1', 'se-2', 'se-2', 'se-3', 'waypoint', 'class'), { minLength: 1, maxLength: 2 }),
  spec: fc.oneof({ weight: 3, arbitrary: plainSpec }, { weight: 1, arbitrary: policySpec }), n: apNs, scope: apScope, flavour: apFlavour,
}).map(({ slot: s, targets, spec, n, scope, flavour }) => ({
  apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy',
  metadata: { name: `ap-${s}`, namespace: n, ...(flavour.startsWith('dry-run') ? { annotations: { 'istio.io/dry-run': flavour === 'dry-run' ? 'true' : 'false' } } : {}) },
  spec: {
    ...JSON.parse(JSON.stringify(spec)),
    ...(flavour === 'custom' ? { action: 'CUSTOM', provider: { name: 'ext' } } : {}),
    ...(scope === 'selector' ? { selector: { matchLabels: { app: 'a' } } } : {}),
    ...(scope === 'refs' ? {
      targetRefs: targets.map((t) => (t === 'waypoint' ? { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' }
        : t === 'class' ? { group: 'gateway.networking.k8s.io', kind: 'GatewayClass', name: 'istio-waypoint' } : { group: 'networking.istio.io', kind: 'ServiceEntry', name: t })),
    } : {}),
  },
}));

// A RequestAuthentication: its JWT rules join the PolicySets of its targets (policies-delta.ts must
// fall back when one changes).
const requestAuthentication = fc.record({ slot, target: fc.constantFrom('se-0', 'se-1', 'waypoint'), issuer: fc.constantFrom('https://a.test', 'https://b.test') })
  .map(({ slot: s, target, issuer }) => ({
    apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name: `ra-${s}`, namespace: NS },
    spec: {
      targetRefs: [target === 'waypoint' ? { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' } : { group: 'networking.istio.io', kind: 'ServiceEntry', name: target }],
      jwtRules: [{ issuer, jwks: '{"keys":[]}' }],
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

const namespace = fc.record({ label: fc.boolean(), n: fc.constantFrom(NS, NS, 'shop') }).map(({ label, n }) => ({
  apiVersion: 'v1', kind: 'Namespace', metadata: { name: n, labels: label ? { 'istio.io/use-waypoint': 'waypoint', ...(n === NS ? {} : { 'istio.io/use-waypoint-namespace': NS }) } : {} },
}));

export type Doc = { kind: string; metadata: { name: string; namespace?: string; creationTimestamp?: string } };
// Creation times (or none) decide where a resource sorts: a changed one moves among the others, as
// in Kubernetes, and the merge of sorted-input.ts must put it where a full sort does.
const created = fc.constantFrom(undefined, undefined, '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z');
const put = fc.tuple(fc.oneof(
  { weight: 2, arbitrary: serviceEntry }, { weight: 5, arbitrary: serviceEntryTweak }, { weight: 2, arbitrary: serviceEntryReshape }, { weight: 4, arbitrary: virtualService }, { weight: 2, arbitrary: virtualServiceRebind }, { weight: 8, arbitrary: authorizationPolicy },
  { weight: 1, arbitrary: destinationRule }, { weight: 1, arbitrary: httpRoute }, { weight: 1, arbitrary: namespace }, { weight: 1, arbitrary: requestAuthentication },
), created, fc.constantFrom('a.yaml', 'a.yaml', 'b.yaml')).map(([doc, at, file]) => ({
  put: (at && !(doc.metadata as Doc['metadata']).creationTimestamp ? { ...doc, metadata: { ...doc.metadata, creationTimestamp: at } } : doc) as Doc,
  // The file a resource is in (a move between files is a new object with other locations).
  file,
}));
const del = fc.record({ kind: fc.constantFrom('ServiceEntry', 'VirtualService', 'AuthorizationPolicy', 'AuthorizationPolicy', 'DestinationRule', 'HTTPRoute', 'RequestAuthentication'), slot: apSlot, ns: fc.constantFrom(NS, NS, NS, 'shop', 'istio-system') })
  .map(({ kind, slot: s, ns: n }) => ({ del: `${kind}/${n}/${{ ServiceEntry: 'se', VirtualService: 'vs', AuthorizationPolicy: 'ap', DestinationRule: 'dr', HTTPRoute: 'hr', RequestAuthentication: 'ra' }[kind]}-${s}` }));
const one = fc.oneof({ weight: 3, arbitrary: put }, { weight: 1, arbitrary: del });
/** Several changes compiled at once (a debounced burst): changes far apart in the input. */
const batch = fc.array(one, { minLength: 2, maxLength: 4 }).map((ops) => ({ batch: ops }));
type Op = { put: Doc; file?: string } | { del: string };
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
        const r = resourceOf(op.put, op.file);
        if (r) current.set(keyOf(op.put), r);
      }
    }
    yield [...current.values()];
  }
}
