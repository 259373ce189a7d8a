// A canonical serialisation of compile output, to compare two compiles (incremental and full) of the
// same inputs: everything reachable, so it covers what /config_dump leaves out (routes, policies).
/** Everything reachable, Maps and Sets in their order, RegExps by source; functions by text. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Map) return { map: [...v.entries()] };
    if (v instanceof Set) return { set: [...v] };
    if (v instanceof RegExp) return { re: `/${v.source}/${v.flags}` };
    if (typeof v === 'function') return { fn: String(v) };
    if (typeof v === 'bigint') return { big: String(v) };
    if (v === undefined) return { undef: true };
    return v;
  });
}
