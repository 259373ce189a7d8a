// ServiceEntry analyzers: binding (EGW0011), host+port claims (IST0177, EGW0012), wildcard hosts
// with DNS resolution (EGW0013), and targetPort 443 without TLS origination (EGW0016).
import type { ServiceEntrySpec } from '../../config/kinds/service-entry.ts';
import type { Resource } from '../../config/resource.ts';
import type { Diagnostic } from '../../model/diagnostic.ts';
import { finding, hostMatches, isBound } from '../context.ts';
import type { Context } from '../context.ts';

type SE = Resource<ServiceEntrySpec>;

export function analyzeServiceEntries(ctx: Context): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const se of ctx.serviceEntries) {
    unbound(ctx, se, out);
    wildcardDns(se, out);
    targetPortTls(ctx, se, out);
  }
  claims(ctx, out);
  return out;
}

function unbound(ctx: Context, se: SE, out: Diagnostic[]): void {
  const { namespace, name } = se.metadata;
  if (isBound(ctx, namespace, name)) return;
  const b = ctx.bindings.get(`${namespace}/${name}`);
  const why = b ? `${b.reason}: ${b.message}` : 'the config has no waypoint Gateway (gatewayClassName: istio-waypoint)';
  out.push(finding(se, 'ServiceEntryNotBound', ['metadata', 'labels'], `ServiceEntry is bound to no waypoint (${why}); its traffic goes straight out and bypasses L7 policy`, `label it istio.io/use-waypoint: <waypoint name>, or label namespace ${namespace}`));
}

function wildcardDns(se: SE, out: Diagnostic[]): void {
  const res = se.spec.resolution;
  if (res !== 'DNS' && res !== 'DNS_ROUND_ROBIN') return;
  (se.spec.hosts ?? []).forEach((h, i) => {
    if (!h.startsWith('*')) return;
    out.push(finding(se, 'WildcardWithDnsResolution', ['spec', 'hosts', i], `wildcard host ${h} with resolution ${res}: every request for any subdomain goes to the endpoints, whatever host was asked for`, 'use resolution DYNAMIC_DNS to resolve the requested host, or list exact hosts'));
  });
}

function targetPortTls(ctx: Context, se: SE, out: Diagnostic[]): void {
  (se.spec.ports ?? []).forEach((p, i) => {
    if (p.targetPort !== 443 || p.number === 443 || (p.protocol ?? '').toUpperCase() !== 'HTTP') return;
    const hosts = se.spec.hosts ?? [];
    const originates = hosts.every((h) => ctx.destinationRules.some((dr) => hostMatches(dr.spec.host, h) && originatesTls(dr.spec, p.number)));
    if (originates) return;
    out.push(finding(se, 'TargetPortWithoutTlsOrigination', ['spec', 'ports', i, 'targetPort'], `port ${p.number} (HTTP) is sent to targetPort 443, but no DestinationRule for ${hosts.join(', ')} sets tls.mode SIMPLE or MUTUAL: plain HTTP would reach a TLS port`, `add a DestinationRule {host: ${hosts[0] ?? '<host>'}, trafficPolicy: {tls: {mode: SIMPLE}}}`));
  });
}

/** True when the DR originates TLS for service port `port` (port-level settings win). */
export function originatesTls(dr: Resource['spec'] & { trafficPolicy?: { tls?: { mode?: string }; portLevelSettings?: readonly { port?: { number?: number }; tls?: { mode?: string } }[] } }, port: number): boolean {
  const tp = dr.trafficPolicy;
  const level = tp?.portLevelSettings?.find((s) => s.port?.number === port)?.tls?.mode;
  const mode = level ?? tp?.tls?.mode;
  return mode === 'SIMPLE' || mode === 'MUTUAL';
}

/** Namespaces an exportTo list reaches: `*` for all, none for `~`; `.` is the entry's own namespace. */
function visibility(se: SE): ReadonlySet<string> {
  const list = se.spec.exportTo?.length ? se.spec.exportTo : ['*'];
  return new Set(list.filter((e) => e !== '~').map((e) => (e === '.' ? se.metadata.namespace : e)));
}

function visibleTogether(a: SE, b: SE): boolean {
  const va = visibility(a);
  const vb = visibility(b);
  if (va.size === 0 || vb.size === 0) return false;
  if (va.has('*') || vb.has('*')) return true;
  return [...va].some((ns) => vb.has(ns));
}

const id = (se: SE) => `${se.metadata.namespace}/${se.metadata.name}`;

function claims(ctx: Context, out: Diagnostic[]): void {
  const groups = new Map<string, { se: SE; protocol: string; path: (string | number)[] }[]>();
  for (const se of ctx.serviceEntries) {
    (se.spec.hosts ?? []).forEach((h, i) => {
      for (const p of se.spec.ports ?? []) {
        const k = `${h.toLowerCase()} ${p.number}`;
        const list = groups.get(k) ?? [];
        if (!list.some((x) => x.se === se)) list.push({ se, protocol: (p.protocol ?? '').toUpperCase(), path: ['spec', 'hosts', i] });
        groups.set(k, list);
      }
    });
  }
  for (const [k, list] of groups) {
    const [host, port] = k.split(' ');
    // IST0177: every entry whose protocol differs from one it is visible together with, naming the
    // whole group, so each of them can be fixed from its own message.
    const conflicting = list.filter((a) => list.some((b) => b !== a && b.protocol !== a.protocol && visibleTogether(a.se, b.se)));
    const names = conflicting.map((c) => `${id(c.se)} (${c.protocol || 'unset'})`).join(', ');
    for (const c of conflicting) {
      out.push(finding(c.se, 'ConflictingServiceEntryProtocol', c.path, `host ${host} port ${port} is declared with different protocols by ServiceEntries ${names}`, 'declare the port once, with one protocol, or keep the entries apart with exportTo'));
    }
    // EGW0012: the same claim twice with the same protocol; the first (by namespace/name) is used.
    list.forEach((c, i) => {
      const earlier = list.slice(0, i).find((e) => e.protocol === c.protocol && visibleTogether(e.se, c.se));
      if (earlier) out.push(finding(c.se, 'DuplicateHostPort', c.path, `host ${host} port ${port} is also claimed by ServiceEntry ${id(earlier.se)}; only the first (by creation time, then namespace/name) is used`, 'remove the duplicate host or port from one ServiceEntry'));
    });
  }
}
