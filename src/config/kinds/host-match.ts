// Istio's host.Name comparisons (pkg/config/host), used where validation compares two hosts of one
// resource: duplicate/overlapping VirtualService hosts and SNI hosts that must fall under them.
// Case-sensitive, as Istio's are.

const isWild = (h: string) => h.startsWith('*');

/** host.Name.Matches: the two hosts share at least one concrete name (`*.foo.com` and `*.com` do). */
export function hostsOverlap(a: string, b: string): boolean {
  if (isWild(a)) {
    if (isWild(b)) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
    return b.endsWith(a.slice(1));
  }
  if (isWild(b)) return a.endsWith(b.slice(1));
  return a === b;
}

/** host.Name.SubsetOf: every name `a` covers is covered by `b`. */
export function hostSubsetOf(a: string, b: string): boolean {
  if (isWild(b)) return a.slice(isWild(a) ? 1 : 0).endsWith(b.slice(1));
  return !isWild(a) && a === b;
}
