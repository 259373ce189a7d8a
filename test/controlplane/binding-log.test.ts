// The WaypointBound log lines of a swap: one line per changed binding for a handful; past
// BINDING_LINES_MAX (a first load of thousands) one summary line at info and each entry at debug.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Binding, Snapshot } from '../../src/model/snapshot.ts';
import { BINDING_LINES_MAX, logBindings } from '../../src/server.ts';
import { createLogger } from '../../src/telemetry/logger.ts';

function binding(i: number, bound = i % 5 !== 0): Binding {
  return {
    resource: { kind: 'ServiceEntry', namespace: 'istio-egress', name: `se-${i}` }, bound, reason: bound ? 'WaypointAccepted' : 'WaypointIsNotReady',
    message: bound ? 'Successfully attached to waypoint istio-egress/waypoint' : 'waypoint \"istio-egress/nope\" is not ready', waypoint: 'istio-egress/waypoint', servedHere: bound,
  };
}
const snap = (bindings: Binding[]) => ({ bindings }) as unknown as Snapshot;

function lines(level: string, f: (log: ReturnType<typeof createLogger>) => void): { level: number; msg: string }[] {
  let out = '';
  f(createLogger(level, { write: (s: string) => void (out += s) }));
  return out.trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string });
}

test('a few changed bindings: one info line each, naming the ServiceEntry and its condition', () => {
  const got = lines('info', (log) => logBindings(log, undefined, snap([binding(1), binding(5)])));
  assert.deepEqual(got.map((l) => l.msg), [
    'ServiceEntry istio-egress/se-1: WaypointBound=True (WaypointAccepted) Successfully attached to waypoint istio-egress/waypoint',
    'ServiceEntry istio-egress/se-5: WaypointBound=False (WaypointIsNotReady) waypoint \"istio-egress/nope\" is not ready',
  ]);
});

test('thousands at start: one summary line with the counts by outcome; each entry only at debug', () => {
  const all = Array.from({ length: 3000 }, (_, i) => binding(i));
  const info = lines('info', (log) => logBindings(log, undefined, snap(all)));
  assert.equal(info.length, 1);
  assert.equal(info[0]!.msg, '3000 ServiceEntries changed binding: WaypointBound=2400 True (WaypointAccepted), 600 False (WaypointIsNotReady); each is logged at debug level, and /config_dump lists every binding');
  const debug = lines('debug', (log) => logBindings(log, undefined, snap(all)));
  assert.equal(debug.filter((l) => l.level === 20 && l.msg.startsWith('ServiceEntry istio-egress/se-')).length, 3000);
  // Then one change among them: its own line again.
  const next = all.map((b, i) => (i === 7 ? binding(7, false) : b));
  assert.deepEqual(lines('info', (log) => logBindings(log, snap(all), snap(next))).map((l) => l.msg),
    ['ServiceEntry istio-egress/se-7: WaypointBound=False (WaypointIsNotReady) waypoint \"istio-egress/nope\" is not ready']);
  assert.ok(BINDING_LINES_MAX >= 10 && BINDING_LINES_MAX < 3000);
});
