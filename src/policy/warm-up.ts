// jose and undici's request API load on first use, so that a waypoint whose config needs neither
// never holds them (policy/jose-lazy.ts, undici-lazy.ts). A config that needs them starts loading
// them as soon as it is in force: the first JWT or CUSTOM check then does not wait for 50 to 150
// modules to load (hundreds of ms on a busy machine, past a client's patience).
import type { AuthzTable, PolicySet } from '../model/policy.ts';
import { loadJose } from './jose-lazy.ts';
import { loadUndici } from './undici-lazy.ts';

const ignore = (): void => {};

export function warmUpFor(authz: AuthzTable): void {
  const sets: PolicySet[] = [authz.waypoint, ...authz.services.values()];
  const jwt = sets.flatMap((s) => s.jwt);
  if (jwt.length > 0) loadJose().then(ignore, ignore);
  const custom = authz.providers.size > 0 && sets.some((s) => s.custom.length > 0);
  if (custom || jwt.some((r) => r.jwks === undefined && !!r.jwksUri)) loadUndici().then(ignore, ignore);
}
