// undici keeps its internal state under Symbols that it does not export; the few hooks that need it
// (ignore-continue.ts, policy-pool.ts, upstream.ts expireAfter) find a symbol by its description. If
// undici renames one, this returns undefined and each hook falls back to undici's own behaviour.

/** The symbol described `description` among `o`'s own symbols, then its prototype chain's. */
export function symbolNamed(o: object, description: string): symbol | undefined {
  for (let p: object | null = o; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const found = Object.getOwnPropertySymbols(p).find((k) => k.description === description);
    if (found) return found;
  }
  return undefined;
}
