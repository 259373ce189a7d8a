// The NEW side of `migrate --verify`: what the waypoint does with a request, read from the snapshot
// the waypoint itself would compile from the migrated output: planRoute() for the destination, the
// compiled route table for timeouts and backends, decide() for authorization, and the cluster's
// DestinationRule policy for TLS origination.
import { planRoute } from '../dataplane/plan.ts';
import { matchRoute } from '../dataplane/route.ts';
import type { Cluster, Snapshot } from '../model/snapshot.ts';
import { decide } from '../policy/decide.ts';
import { certSource } from './outcome.ts';
import type { Outcome, Probe, Scheme } from './outcome.ts';

export function evaluateNew(snap: Snapshot, p: Probe): Outcome {
  const plan = planRoute(snap, p.host, p.port, p.http ? 'http' : 'connect');
  if (plan.kind === 'reject') return { allow: false, why: plan.code };
  if (plan.kind === 'passthrough') return { allow: true, scheme: p.http ? 'http' : 'tcp', host: p.host, port: p.port };
  const d = decide(snap.authz, plan.destination.service.key, {
    protocol: p.http ? 'http' : 'tcp', principal: p.caller, host: p.host, destinationPort: p.port,
    ...(p.http ? { method: 'GET', path: '/', headers: { host: p.host } } : {}),
  });
  if (!d.allow) return { allow: false, why: 'AuthorizationPolicy' };
  if (!p.http) return toCluster(plan.cluster, p, undefined);
  const table = snap.routes.get(plan.cluster.name);
  const m = table ? matchRoute(table, { path: '/', method: 'GET', authority: p.host, headers: { host: p.host }, port: p.port }) : { rule: snap.defaultRoute };
  if (!m) return { allow: false, why: 'route_not_found' };
  const a = m.rule.action;
  if (a.kind !== 'forward') return { allow: false, why: a.kind === 'direct' ? `direct response ${a.status}` : `redirect ${a.status}` };
  if (a.clusters.length === 0) return toCluster(plan.cluster, p, m.rule.timeoutMs);
  const heaviest = [...a.clusters].map((c, i) => ({ c, w: c.upTo - (i ? a.clusters[i - 1]!.upTo : 0) })).sort((x, y) => y.w - x.w)[0]!.c;
  const cluster = heaviest.cluster ? snap.clusters.get(heaviest.cluster) : undefined;
  if (!cluster) return { allow: false, why: 'cluster_not_found' };
  return toCluster(cluster, p, m.rule.timeoutMs);
}

function toCluster(c: Cluster, p: Probe, timeoutMs: number | undefined): Outcome {
  const tls = c.policy?.tls;
  const scheme: Scheme = tls?.mode === 'SIMPLE' ? 'https' : tls?.mode === 'MUTUAL' ? 'mtls'
    : c.protocol === 'HTTPS' || c.protocol === 'TLS' ? 'tls' : c.kind === 'http' ? 'http' : 'tcp';
  const ep = c.resolution === 'NONE' || c.resolution === 'DYNAMIC_DNS' ? undefined : c.endpoints[0];
  return {
    allow: true, scheme, host: ep?.address ?? p.host, port: ep?.port ?? c.targetPort,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(tls?.mode === 'MUTUAL' ? { clientCert: certSource({ credentialName: tls.credential?.name, clientCertificate: tls.clientCertificate, privateKey: tls.privateKey }) } : {}),
    ...(tls?.caCertificates ? { ca: tls.caCertificates } : {}),
  };
}
