// A Map with a size bound that evicts the least recently used entry, for state keyed by values a
// client chooses (request hosts, their connection pools). Recency is approximate to keep hits cheap:
// a hit moves an entry to the young end only once it has aged past half the bound, so a hot key
// costs one Map lookup per hit and one delete + set per max/2 insertions at most.
export class LruMap<K, V> {
  readonly max: number;
  #m = new Map<K, { v: V; seq: number }>();
  #seq = 0;
  #evictions = 0;
  readonly #onEvict: ((key: K, value: V) => void) | undefined;

  constructor(max: number, onEvict?: (key: K, value: V) => void) {
    this.max = Math.max(1, max);
    this.#onEvict = onEvict;
  }

  get size(): number {
    return this.#m.size;
  }

  /** Entries evicted so far. */
  get evictions(): number {
    return this.#evictions;
  }

  get(key: K): V | undefined {
    const e = this.#m.get(key);
    if (e === undefined) return undefined;
    if (this.#seq - e.seq > this.max >> 1) {
      this.#m.delete(key);
      this.#m.set(key, e);
      e.seq = ++this.#seq;
    }
    return e.v;
  }

  has(key: K): boolean {
    return this.#m.has(key);
  }

  /** Replaces in place (keeping its age) or inserts as the youngest, evicting the oldest beyond max. */
  set(key: K, value: V): this {
    const e = this.#m.get(key);
    if (e) {
      e.v = value;
      return this;
    }
    this.#m.set(key, { v: value, seq: ++this.#seq });
    while (this.#m.size > this.max) {
      const [k, old] = this.#m.entries().next().value as [K, { v: V }];
      this.#m.delete(k);
      this.#evictions++;
      this.#onEvict?.(k, old.v);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.#m.delete(key);
  }

  clear(): void {
    this.#m.clear();
  }

  *values(): IterableIterator<V> {
    for (const e of this.#m.values()) yield e.v;
  }
}
