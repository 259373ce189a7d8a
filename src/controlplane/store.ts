// The snapshot store: current snapshot, atomic swap, last good kept. A compile with errors never
// swaps; readers see either the old snapshot or the new one, never a mix.
import type { Diagnostic } from '../model/diagnostic.ts';
import type { Snapshot } from '../model/snapshot.ts';

export interface ReloadStatus {
  readonly ok: boolean;
  readonly at: number;
  readonly version?: string;
  readonly diagnostics: readonly Diagnostic[];
}

export class SnapshotStore {
  #current: Snapshot | undefined;
  #swappedAt = 0;
  #last: ReloadStatus | undefined;
  #listeners: ((next: Snapshot, prev: Snapshot | undefined) => void)[] = [];

  current(): Snapshot {
    if (!this.#current) throw new Error('invariant: no snapshot loaded yet');
    return this.#current;
  }

  get hasSnapshot(): boolean {
    return this.#current !== undefined;
  }

  get swappedAt(): number {
    return this.#swappedAt;
  }

  get lastReload(): ReloadStatus | undefined {
    return this.#last;
  }

  onSwap(fn: (next: Snapshot, prev: Snapshot | undefined) => void): void {
    this.#listeners.push(fn);
  }

  /** Records a failed reload; the current snapshot stays. */
  reject(diagnostics: readonly Diagnostic[]): void {
    this.#last = { ok: false, at: Date.now(), diagnostics };
  }

  /** A reload after failed ones produced the snapshot already served: the status is good again. */
  recovered(diagnostics: readonly Diagnostic[]): void {
    this.#last = { ok: true, at: Date.now(), version: this.#current?.version, diagnostics };
  }

  /**
   * A reload produced `next`: swap it in when it differs from the served one; when it is the same
   * after failed reloads, only the status is good again. True when anything changed (a swap, or a
   * recovery), which is when a source reports the reload. Both sources go through here.
   */
  offer(next: Snapshot, diagnostics: readonly Diagnostic[]): boolean {
    const same = this.hasSnapshot && this.current().version === next.version;
    if (!same) {
      this.swap(next, diagnostics);
      return true;
    }
    if (this.#last?.ok !== false) return false;
    this.recovered(diagnostics);
    return true;
  }

  swap(next: Snapshot, diagnostics: readonly Diagnostic[]): void {
    const prev = this.#current;
    this.#current = next;
    this.#swappedAt = Date.now();
    this.#last = { ok: true, at: this.#swappedAt, version: next.version, diagnostics };
    for (const fn of this.#listeners) fn(next, prev);
  }
}
