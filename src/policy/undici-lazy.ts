// undici for the policy code's own HTTP calls (ext-authz checks, JWKS fetches), loaded on first use:
// `egressway check` without a provider call or a remote JWKS then never loads it (about 110 modules,
// 0.15 s of CPU at start-up). In the waypoint undici is loaded already; the cost per call is one
// resolved promise, next to a network round trip.
let undici: Promise<typeof import('undici')> | undefined;

export function loadUndici(): Promise<typeof import('undici')> {
  return (undici ??= import('undici'));
}
