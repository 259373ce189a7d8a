// One named property, runnable at any size: `npm test` runs a small fixed-seed slice of each
// (test/fuzz/*.test.ts), bench/fuzz.ts runs each for a million inputs or more.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

export interface FuzzProperty {
  /** `area: what holds`, unique across test/fuzz/props/. */
  readonly name: string;
  /** Inputs in the `npm test` slice; the default keeps each property well under a second. */
  readonly sliceRuns: number;
  /** A promise for the properties that do I/O (asyncProperty). */
  readonly check: (params: fc.Parameters<unknown>) => fc.RunDetails<unknown> | Promise<fc.RunDetails<unknown>>;
}

export function fuzzProperty<Ts>(name: string, property: fc.IRawProperty<Ts, false>, sliceRuns = 300): FuzzProperty {
  return { name, sliceRuns, check: (params) => fc.check(property, params as fc.Parameters<Ts>) as fc.RunDetails<unknown> };
}

export function asyncFuzzProperty<Ts>(name: string, property: fc.IAsyncProperty<Ts>, sliceRuns = 50): FuzzProperty {
  return { name, sliceRuns, check: (params) => fc.check(property, params as fc.Parameters<Ts>) as Promise<fc.RunDetails<unknown>> };
}

/** The fixed seed of the `npm test` slice: the same inputs on every run, so a failure reproduces. */
export const SLICE_SEED = 0x5eed;

/** Registers one node:test test per property, each over its fixed-seed slice. */
export function testSlice(properties: readonly FuzzProperty[]): void {
  for (const p of properties) {
    test(p.name, async () => {
      const out = await p.check({ seed: SLICE_SEED, numRuns: p.sliceRuns });
      assert.ok(!out.failed, `${fc.defaultReportMessage(out) ?? 'property failed'}\n${String(out.errorInstance)}`);
    });
  }
}
