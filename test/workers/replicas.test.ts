// A worker's pod-IP copy is fed the primary's deltas (one entry per IP whose lookup may have changed)
// and must answer every lookup as the primary's PodIndex does, whatever the sequence of pod events:
// IP reuse, two pods on one IP (ambiguous: nobody), hostNetwork pods, pods moving IPs, deletes. A
// worker started midway gets entries() and then only the later deltas.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PodIndex, type PodObject } from '../../src/controlplane/kube-pods.ts';
import { PodReplica } from '../../src/workers/replicas.ts';
import type { PodDelta } from '../../src/workers/protocol.ts';

const IPS = ['10.0.0.1', '10.0.0.2', '10.0.0.3', 'fd00::1'];
const podArb = fc.record({
  name: fc.constantFrom('a', 'b', 'c', 'd'),
  ns: fc.constantFrom('shop', 'other'),
  ips: fc.subarray(IPS, { maxLength: 2 }),
  hostNetwork: fc.boolean(),
  sa: fc.constantFrom('cart', 'web'),
});
const eventArb = fc.record({ del: fc.boolean(), pod: podArb });

interface P { name: string; ns: string; ips: string[]; hostNetwork: boolean; sa: string }
const obj = (p: P): PodObject => ({
  metadata: { name: p.name, namespace: p.ns, labels: { app: p.name } },
  spec: { serviceAccountName: p.sa, hostNetwork: p.hostNetwork },
  status: { podIP: p.ips[0], podIPs: p.ips.map((ip) => ({ ip })) },
});

test('a replica fed the deltas answers every lookup as the index does; one started midway too', () => {
  fc.assert(fc.property(fc.array(eventArb, { maxLength: 40 }), fc.nat(40), (events, cut) => {
    const index = new PodIndex({ namespacesInPolicy: true, maxPods: 3, warn: () => {} });
    const early = new PodReplica(true, index.entries());
    let late: PodReplica | undefined;
    let touched = new Set<string>();
    index.onChange((ip) => touched.add(ip));
    // As the primary does: the touched IPs' current answers, sent after each batch.
    const flush = () => {
      const delta: PodDelta = [...touched].map((ip) => [ip, index.lookup(ip) ?? null]);
      touched = new Set();
      early.apply(delta);
      late?.apply(delta);
    };
    events.forEach((e, i) => {
      if (e.del) index.delete(obj(e.pod));
      else index.put(obj(e.pod));
      if (i % 3 === 2) flush();
      if (i === cut) {
        flush();
        late = new PodReplica(true, index.entries());
      }
    });
    flush();
    for (const r of [early, late ?? early]) {
      for (const ip of IPS) assert.deepEqual(r.lookup(ip), index.lookup(ip), ip);
    }
  }), { numRuns: 500 });
});

test('an IP held by two pods is nobody on the replica; it is the other pod once one goes', () => {
  const index = new PodIndex({ namespacesInPolicy: false, warn: () => {} });
  const replica = new PodReplica(false, []);
  const sent: PodDelta[] = [];
  index.onChange((ip) => sent.push([[ip, index.lookup(ip) ?? null]]));
  const a = obj({ name: 'a', ns: 'shop', ips: ['10.0.0.1'], hostNetwork: false, sa: 'cart' });
  const b = obj({ name: 'b', ns: 'shop', ips: ['10.0.0.1'], hostNetwork: false, sa: 'web' });
  index.put(a);
  index.put(b);
  for (const d of sent.splice(0)) replica.apply(d);
  assert.equal(replica.lookup('10.0.0.1'), undefined);
  index.delete(a);
  for (const d of sent.splice(0)) replica.apply(d);
  assert.equal(replica.lookup('10.0.0.1')?.pod, 'b');
  assert.equal(replica.size, 1);
});
