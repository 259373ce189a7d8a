// Authorization at the listener: build decide()'s input from what the connection and request
// carry, with a fast path that skips decide() when no policy can apply to the destination.
import type { IncomingHttpHeaders } from 'node:http';
import type { Identity } from '../model/identity.ts';
import type { PolicySet } from '../model/policy.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { customDenied, decide, type Decision } from '../policy/decide.ts';
import type { Plan } from './plan.ts';

function isEmpty(p: PolicySet | undefined): boolean {
  return !p || (p.custom.length + p.deny.length + p.allow.length + p.audit.length + p.dryRunDeny.length + p.dryRunAllow.length === 0);
}

export interface AuthzInput {
  readonly protocol: 'http' | 'tcp';
  readonly sourceIp: string;
  readonly identity: Identity | null | undefined;
  readonly host: string;
  readonly port: number;
  readonly method?: string;
  readonly path?: string;
  readonly headers?: IncomingHttpHeaders;
}

/** undefined when no policy applies (the common case, decided without building a request). */
export function authorize(snap: Snapshot, plan: Plan, input: AuthzInput): Decision | undefined {
  const serviceKey = plan.kind === 'forward' ? plan.destination.service.key : undefined;
  const set = serviceKey !== undefined ? snap.authz.services.get(serviceKey) ?? snap.authz.waypoint : snap.authz.waypoint;
  if (isEmpty(set)) return undefined;
  let d = decide(snap.authz, serviceKey, {
    protocol: input.protocol,
    sourceIp: input.sourceIp,
    principal: input.identity?.principal,
    host: input.host,
    method: input.method,
    path: input.path,
    headers: input.headers as Readonly<Record<string, string | undefined>> | undefined,
    destinationPort: plan.kind === 'forward' ? plan.destination.port.number : input.port,
  });
  // CUSTOM (ext-authz) providers are not callable yet: fail closed, as Envoy does without failOpen.
  for (const call of d.customProviders) d = customDenied(d, call, true);
  return d;
}
