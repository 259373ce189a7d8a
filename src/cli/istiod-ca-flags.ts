// `run` flags for HBONE certificates from istiod's CA, named after pilot-agent's environment
// (CA_ADDR, ISTIOD_SAN, TRUST_DOMAIN, ISTIO_META_CLUSTER_ID, POD_NAMESPACE, SERVICE_ACCOUNT,
// SECRET_TTL, SECRET_GRACE_PERIOD_RATIO) so the same pod spec reads the same way; a flag wins over
// its variable. The default paths are the ones Istio's injector mounts.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { IstiodIdentityOptions } from '../identity/istiod-identity.ts';
import { checkName } from '../certs/names.ts';
import { decodeJwtClaims, tokenServiceAccount } from '../identity/token.ts';
import { durationOption } from './args.ts';

export interface IstiodCaFlags {
  caAddress?: string;
  caServerName?: string;
  caRootCert: string;
  caTokenFile: string;
  trustDomain: string;
  clusterId: string;
  podNamespace?: string;
  serviceAccount?: string;
  certTtl: number;
  certGraceRatio: number;
}

export const ISTIO_ROOT_CERT = '/var/run/secrets/istio/root-cert.pem';
export const ISTIO_TOKEN = '/var/run/secrets/tokens/istio-token';

export function addIstiodCaOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--ca-address <host:port>', "get the HBONE certificate from istiod's CA here (istiod.istio-system.svc:15012) instead of --hbone-cert; turns HBONE on").env('CA_ADDR').argParser(hostPort))
    .addOption(new Option('--ca-server-name <name>', "name to verify in istiod's serving certificate (default: the host of --ca-address)").env('ISTIOD_SAN'))
    .addOption(new Option('--ca-root-cert <file>', 'mesh root that istiod\'s certificate chains to: root-cert.pem of the istio-ca-root-cert ConfigMap; reloaded on change').default(ISTIO_ROOT_CERT))
    .addOption(new Option('--ca-token-file <file>', 'projected service-account token, audience istio-ca; re-read for every request').default(ISTIO_TOKEN))
    .addOption(new Option('--trust-domain <domain>', "the mesh's trust domain (meshConfig.trustDomain)").env('TRUST_DOMAIN').default('cluster.local'))
    .addOption(new Option('--cluster-id <id>', "istiod's cluster ID (its --clusterID), sent as ClusterID").env('ISTIO_META_CLUSTER_ID').default('Kubernetes'))
    .addOption(new Option('--pod-namespace <ns>', "this pod's namespace, for the SPIFFE ID (default: from the token)").env('POD_NAMESPACE'))
    .addOption(new Option('--service-account <sa>', "this pod's service account, for the SPIFFE ID (default: from the token)").env('SERVICE_ACCOUNT'))
    .addOption(durationOption('--cert-ttl <duration>', 'lifetime to ask istiod for (it may cap it: MAX_WORKLOAD_CERT_TTL)', 24 * 3_600_000).env('SECRET_TTL'))
    .addOption(new Option('--cert-grace-ratio <ratio>', 'get a new certificate when this fraction of its lifetime is left').env('SECRET_GRACE_PERIOD_RATIO').argParser(ratio).default(0.5));
}

/** The CA options, undefined without --ca-address; throws a one-line error for a bad combination. */
export function istiodCaOptions(f: IstiodCaFlags & { hboneCert?: string; hboneKey?: string; trustBundle?: string }): Omit<IstiodIdentityOptions, 'log'> | undefined {
  if (!f.caAddress) return undefined;
  if (f.hboneCert || f.hboneKey || f.trustBundle) throw new Error('--ca-address and --hbone-cert/--hbone-key/--trust-bundle are two sources of the HBONE certificate; choose one');
  const fromToken = f.podNamespace && f.serviceAccount ? undefined : tokenIdentity(f.caTokenFile);
  const namespace = f.podNamespace ?? fromToken?.[0];
  const serviceAccount = f.serviceAccount ?? fromToken?.[1];
  if (!namespace || !serviceAccount) throw new Error(`cannot tell this pod's identity: set POD_NAMESPACE and SERVICE_ACCOUNT (or --pod-namespace/--service-account); the token ${f.caTokenFile} does not name a service account`);
  for (const [kind, v] of [['trust domain', f.trustDomain], ['namespace', namespace], ['service account', serviceAccount]] as const) {
    const bad = checkName(kind, v);
    if (bad) throw new Error(bad);
  }
  return {
    address: f.caAddress, serverName: f.caServerName, rootCertFile: f.caRootCert, tokenFile: f.caTokenFile, clusterId: f.clusterId,
    trustDomain: f.trustDomain, namespace, serviceAccount, ttlSeconds: Math.max(1, Math.round(f.certTtl / 1000)), graceRatio: f.certGraceRatio,
  };
}

function tokenIdentity(file: string): [string, string] | undefined {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const c = decodeJwtClaims(text.trim());
  return c && tokenServiceAccount(c)?.split('/') as [string, string] | undefined;
}

function hostPort(v: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$/.test(v)) throw new InvalidArgumentError(`"${v}" is not host:port (example: istiod.istio-system.svc:15012)`);
  return v;
}

function ratio(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n >= 1) throw new InvalidArgumentError(`"${v}" is not a ratio between 0 and 1 (Istio's default: 0.5)`);
  return n;
}
