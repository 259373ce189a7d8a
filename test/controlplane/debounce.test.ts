import assert from 'node:assert/strict';
import { test } from 'node:test';
import { debounce } from '../../src/controlplane/debounce.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('trailing (files): one fire, quietMs after the last event of a burst', async () => {
  let fired = 0;
  const d = debounce(() => void fired++, 60);
  d.trigger();
  await sleep(20);
  d.trigger();
  await sleep(30);
  assert.equal(fired, 0, 'still within quietMs of the last event');
  await sleep(60);
  assert.equal(fired, 1);
  d.cancel();
});

test('leading (Kubernetes): an isolated event fires on the next turn; a synchronous batch joins it; a burst right after is debounced', async () => {
  let fired = 0;
  const d = debounce(() => void fired++, 60, 10_000, true);
  d.trigger();
  d.trigger();
  d.trigger();
  await sleep(5);
  assert.equal(fired, 1, 'fired at once, once for the batch');
  d.trigger();
  await sleep(5);
  d.trigger();
  await sleep(20);
  assert.equal(fired, 1, 'events right after a fire wait for quiet');
  await sleep(80);
  assert.equal(fired, 2, 'the burst fired once');
  await sleep(80);
  d.trigger();
  await sleep(5);
  assert.equal(fired, 3, 'after a quiet spell, at once again');
  d.cancel();
});
