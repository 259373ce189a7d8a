// Which waypoint a destination goes through, learned from the same config the waypoint reads:
// one compile() per istio-waypoint Gateway (as if this process were that waypoint) gives the hosts,
// wildcards, ports and VIPs bound to it. The waypoint's address is --waypoint-address, else the
// Gateway's status.addresses (port 15008, as ztunnel assumes).
import { compile, type CompileOptions } from '../compile/compile.ts';
import { isWaypoint } from '../compile/waypoints.ts';
import { loadConfig } from '../config/load.ts';
import { planRoute } from '../dataplane/plan.ts';
import { hasErrors, type Diagnostic } from '../model/diagnostic.ts';
import type { Snapshot } from '../model/snapshot.ts';

export interface WaypointTarget {
  /** `namespace/name` of the Gateway. */
  readonly key: string;
  /** host:port to dial (15008). */
  readonly address: string;
  /** The SPIFFE ID the waypoint must present: its SA is named after the Gateway. */
  readonly namespace: string;
  readonly name: string;
}

export type RouteDecision =
  | { readonly kind: 'waypoint'; readonly waypoint: WaypointTarget; readonly service: string }
  | { readonly kind: 'none'; readonly reason: string };

export interface AgentRoutes {
  lookup(host: string, port: number): RouteDecision;
  readonly waypoints: readonly WaypointTarget[];
  /** Equal for configs that route alike (the waypoints, their addresses and compiled snapshots). */
  readonly version: string;
}

/** Routes, or the errors that kept them from compiling: diagnostics are values, as in compile(). */
export interface AgentRoutesResult {
  readonly routes?: AgentRoutes;
  readonly diagnostics: readonly Diagnostic[];
}

/** `--waypoint-address`: `host:port` for every waypoint, or `ns/name=host:port` for one. */
export type AddressOverrides = ReadonlyMap<string, string>;
export const ANY_WAYPOINT = '*';

export async function loadAgentRoutes(paths: readonly string[], overrides: AddressOverrides, options: CompileOptions = {}): Promise<AgentRoutesResult> {
  const loaded = await loadConfig([...paths]);
  if (hasErrors(loaded.diagnostics)) return { diagnostics: loaded.diagnostics };
  const diagnostics = [...loaded.diagnostics];
  const bound: { target: WaypointTarget; snap: Snapshot }[] = [];
  const missing: string[] = [];
  for (const g of loaded.resources.filter(isWaypoint)) {
    const key = `${g.metadata.namespace}/${g.metadata.name}`;
    const address = overrides.get(key) ?? overrides.get(ANY_WAYPOINT) ?? statusAddress(g.status);
    if (!address) {
      missing.push(key);
      continue;
    }
    const r = compile(loaded.resources, { ...options, waypoint: key, outboundTrafficPolicy: 'REGISTRY_ONLY' });
    // One bad resource fails every waypoint's compile the same way: report it once.
    for (const d of r.diagnostics) if (!diagnostics.some((x) => sameDiagnostic(x, d))) diagnostics.push(d);
    if (r.snapshot) bound.push({ target: { key, address, namespace: g.metadata.namespace, name: g.metadata.name }, snap: r.snapshot });
  }
  if (hasErrors(diagnostics)) return { diagnostics };
  const version = [...bound.map((b) => `${b.target.key}=${b.target.address}@${b.snap.version}`), ...missing.map((k) => `${k}=`)].join(',');
  return { diagnostics, routes: agentRoutes(bound, missing, version) };
}

function agentRoutes(bound: readonly { target: WaypointTarget; snap: Snapshot }[], missing: readonly string[], version: string): AgentRoutes {
  return {
    waypoints: bound.map((b) => b.target),
    version,
    lookup(host, port) {
      for (const b of bound) {
        const plan = planRoute(b.snap, host, port, 'connect');
        if (plan.kind === 'forward') return { kind: 'waypoint', waypoint: b.target, service: plan.destination.host };
        // Served there, but a VirtualService tcp/tls rule names a destination it does not serve: the
        // waypoint answers (503 NC), so the tunnel still goes to it.
        if (plan.kind === 'reject' && plan.code === 'no_cluster') return { kind: 'waypoint', waypoint: b.target, service: host };
      }
      const why = missing.length ? ` (waypoints without an address: ${missing.join(', ')}; pass --waypoint-address or set the Gateway's status.addresses)` : '';
      return { kind: 'none', reason: `${host}:${port} is not bound to any waypoint this agent knows${why}` };
    },
  };
}

function sameDiagnostic(a: Diagnostic, b: Diagnostic): boolean {
  return a.code === b.code && a.file === b.file && a.line === b.line && a.path === b.path && a.message === b.message;
}

function statusAddress(status: unknown): string | undefined {
  const list = (status as { addresses?: { type?: string; value?: string }[] } | undefined)?.addresses ?? [];
  // Istio prefers a Hostname address, else an IP.
  const a = list.find((x) => x.type === 'Hostname' && x.value) ?? list.find((x) => x.value);
  if (!a?.value) return undefined;
  return a.value.includes(':') && !a.value.startsWith('[') ? `[${a.value}]:15008` : `${a.value}:15008`;
}

/** Parses repeated `--waypoint-address` values. */
export function parseAddressOverrides(values: readonly string[]): AddressOverrides {
  const out = new Map<string, string>();
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq > 0) out.set(v.slice(0, eq), v.slice(eq + 1));
    else out.set(ANY_WAYPOINT, v);
  }
  return out;
}
