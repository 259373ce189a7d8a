// sorted-input.ts keeps a compile's sorted input from one compile to the next, merging the changed
// resources in. Property: over random edits of a long input (so that changes far apart make a run
// longer than the merge takes whole), the kept order equals a sort from nothing, per kind too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Resource } from '../../src/config/resource.ts';
import { listChanges, sortInput, type SortedInput } from '../../src/compile/sorted-input.ts';

const KINDS = ['ServiceEntry', 'VirtualService', 'AuthorizationPolicy'];
const keys = new WeakMap<Resource, string>();
const key = (r: Resource) => keys.get(r)!;
let made = 0;
function resource(id: number): Resource {
  const r = { kind: KINDS[id % 3]!, made: made++ } as unknown as Resource;
  keys.set(r, `${String(id % 7).padStart(2, '0')}\0${KINDS[id % 3]}/ns/r-${id}`);
  return r;
}

/** An edit of the input: replace (same key, new object), remove, or add a new id. */
const edit = fc.record({ at: fc.nat(), what: fc.constantFrom('replace', 'remove', 'add'), id: fc.integer({ min: 1000, max: 1400 }) });

test('the merged order equals a full sort after every batch of edits, near or far apart', () => {
  let merged = 0;
  fc.assert(fc.property(fc.array(fc.array(edit, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }), (batches) => {
    let input: Resource[] = Array.from({ length: 400 }, (_, i) => resource(i));
    const ids = new Map(input.map((r, i) => [r, i]));
    let kept: SortedInput = sortInput(undefined, input, key);
    for (const batch of batches) {
      input = [...input];
      for (const e of batch) {
        const i = e.at % input.length;
        if (e.what === 'replace') {
          const r = resource(ids.get(input[i]!)!);
          ids.set(r, ids.get(input[i]!)!);
          input[i] = r;
        } else if (e.what === 'remove' && input.length > 1) input.splice(i, 1);
        else if (e.what === 'add' && !input.some((r) => ids.get(r) === e.id)) {
          const r = resource(e.id);
          ids.set(r, e.id);
          input.push(r);
        }
      }
      kept = sortInput(kept, input, key);
      if (kept.merged) merged++;
      const fresh = sortInput(undefined, input, key);
      assert.deepEqual(kept.sorted, fresh.sorted);
      assert.deepEqual([...kept.byKind].sort(), [...fresh.byKind].sort());
    }
  }), { seed: 0x16, numRuns: 200 });
  assert.ok(merged > 500, `only ${merged} batches merged`);
});

test('listChanges finds what was removed and added, however long the run between changes', () => {
  fc.assert(fc.property(fc.uniqueArray(fc.nat(2000), { minLength: 0, maxLength: 600 }), fc.uniqueArray(fc.nat(2000), { maxLength: 600 }), (a, extra) => {
    const b = [...a.filter((x) => x % 5 !== 0), ...extra.filter((x) => !a.includes(x))];
    const { removed, added } = listChanges(a, b);
    assert.deepEqual(new Set(removed), new Set(a.filter((x) => !b.includes(x))));
    assert.deepEqual(new Set(added), new Set(b.filter((x) => !a.includes(x))));
  }), { seed: 0x16, numRuns: 200 });
});
