import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PodIndex, type PodObject } from '../../src/controlplane/kube-pods.ts';

const pod = (ns: string, name: string, ip: string, extra: Partial<PodObject> = {}): PodObject => ({
  metadata: { namespace: ns, name, labels: { app: `${name}-app` } }, spec: { serviceAccountName: 'sa' }, status: { podIP: ip, podIPs: [{ ip }] }, ...extra,
});

test('lookup by IP; an IP held by two live pods, and hostNetwork pods, are not identified; updates move the IP', () => {
  const warnings: string[] = [];
  const idx = new PodIndex({ namespacesInPolicy: false, maxPods: 3, warn: (m) => void warnings.push(m) });
  idx.put(pod('shop', 'cart', '10.0.0.1'));
  assert.deepEqual(idx.lookup('10.0.0.1'), { namespace: 'shop', pod: 'cart', serviceAccount: 'sa', workload: 'cart-app' });
  idx.put(pod('other', 'reuse', '10.0.0.1'));
  assert.equal(idx.lookup('10.0.0.1'), undefined, 'ambiguous while both hold it');
  idx.delete(pod('other', 'reuse', '10.0.0.1'));
  assert.equal(idx.lookup('10.0.0.1')?.pod, 'cart');
  idx.put(pod('shop', 'cart', '10.0.0.9'));
  assert.equal(idx.lookup('10.0.0.1'), undefined, 'the old IP is released on update');
  assert.equal(idx.lookup('10.0.0.9')?.pod, 'cart');
  idx.put(pod('kube-system', 'agent', '192.168.0.1', { spec: { hostNetwork: true } }));
  assert.equal(idx.lookup('192.168.0.1'), undefined);
  idx.put(pod('a', 'p2', '10.0.0.2'));
  idx.put(pod('a', 'p3', '10.0.0.3'));
  idx.put(pod('a', 'p4', '10.0.0.4'));
  assert.equal(idx.size, 3, 'bounded');
  assert.equal(idx.lookup('10.0.0.4'), undefined);
  assert.equal(warnings.length, 1);
});
