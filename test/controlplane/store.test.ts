// SnapshotStore.offer(): the one place both sources (files, Kubernetes) hand a compiled snapshot to.
// A snapshot equal to the served one after failed reloads is a recovery, so the status is good again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import { SnapshotStore } from '../../src/controlplane/store.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';

function snapshot(hosts: string) {
  const yaml = WAYPOINT_YAML + serviceEntry('api', `hosts: [${hosts}]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS`);
  return compile(parseDocuments(yaml, 'x.yaml').resources).snapshot!;
}

test('offer swaps a new snapshot, ignores the same one, and turns a failed status good on recovery', () => {
  const store = new SnapshotStore();
  const a = snapshot('a.example');
  assert.equal(store.offer(a, []), true);
  assert.equal(store.current(), a);
  assert.equal(store.offer(snapshot('a.example'), []), false, 'an unchanged config changes nothing');
  store.reject([]);
  assert.equal(store.lastReload?.ok, false);
  assert.equal(store.offer(snapshot('a.example'), []), true, 'the same snapshot after a failure is a recovery');
  assert.equal(store.lastReload?.ok, true);
  assert.equal(store.current(), a, 'a recovery does not swap');
  const b = snapshot('b.example');
  assert.equal(store.offer(b, []), true);
  assert.equal(store.current(), b);
});
