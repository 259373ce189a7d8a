// `egressway certs`: a mesh root CA for a trust domain, and workload certificates signed by it.
//   certs init  --trust-domain cluster.local --out pki/
//   certs issue --ca pki/ --ns shop --sa cart --out pki/ [--ttl 24h]
//   certs issue --ca pki/ --waypoint istio-egress/waypoint --out pki/
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { CA_CERT_FILE, CA_KEY_FILE, readText, writeAtomic, writePair } from '../certs/files.ts';
import { checkName, createMeshCa, DEFAULT_WORKLOAD_TTL_MS, issueWorkload, loadMeshCa } from '../certs/pki.ts';
import { parseDuration, parseWaypointRef, durationOption } from './args.ts';

interface InitFlags { trustDomain: string; out: string; ttl?: number; force?: boolean }
interface IssueFlags { ca: string; out: string; ns?: string; sa?: string; waypoint?: string; ttl: number; name?: string; dns?: string[] }

export function registerCerts(program: Command): void {
  const certs = program.command('certs').description('mesh CA and workload (SPIFFE) certificates for HBONE');
  certs.command('init')
    .description('create a mesh root CA: <out>/ca.pem (the trust bundle) and <out>/ca.key')
    .option('--trust-domain <domain>', 'SPIFFE trust domain', nameArg('trust domain'), 'cluster.local')
    .requiredOption('--out <dir>', 'directory to write ca.pem and ca.key into')
    .option('--ttl <duration>', 'CA validity (default 10 years)', parseDuration)
    .option('--force', 'overwrite an existing CA in --out')
    .action(async (f: InitFlags) => guard(() => init(f)));
  certs.command('issue')
    .description('issue a workload certificate with URI SAN spiffe://<td>/ns/<ns>/sa/<sa>')
    .requiredOption('--ca <dir>', 'directory holding ca.pem and ca.key (from certs init)')
    .requiredOption('--out <dir>', 'directory to write <name>.crt and <name>.key into')
    .option('--ns <namespace>', 'workload namespace', nameArg('namespace'))
    .option('--sa <serviceaccount>', 'workload service account', nameArg('service account'))
    .option('--waypoint <namespace/name>', "the waypoint's own certificate (SA named after its Gateway)", parseWaypointRef)
    .addOption(durationOption('--ttl <duration>', 'validity (Istio issues 24h workload certificates)', DEFAULT_WORKLOAD_TTL_MS))
    .option('--name <file-base>', 'file name without extension (default: the service account)')
    .action(async (f: IssueFlags) => guard(() => issue(f)));
}

async function init(f: InitFlags): Promise<void> {
  const certPath = join(f.out, CA_CERT_FILE);
  if (!f.force && await exists(certPath)) throw new Error(`${certPath} exists; pass --force to replace the CA (every workload certificate must then be reissued)`);
  const ca = await createMeshCa({ trustDomain: f.trustDomain, ttlMs: f.ttl });
  await mkdir(f.out, { recursive: true });
  await writeAtomic(join(f.out, CA_KEY_FILE), ca.key, 0o600);
  await writeAtomic(certPath, ca.cert);
  process.stdout.write(`mesh CA for trust domain ${f.trustDomain}: ${certPath} (trust bundle), ${join(f.out, CA_KEY_FILE)}\n`);
}

async function issue(f: IssueFlags): Promise<void> {
  let ns = f.ns;
  let sa = f.sa;
  if (f.waypoint) {
    if (ns || sa) throw new Error('--waypoint names the namespace and service account itself; drop --ns/--sa');
    [ns, sa] = f.waypoint.split('/') as [string, string];
  }
  if (!ns || !sa) throw new Error('say whose certificate: --ns <namespace> --sa <serviceaccount>, or --waypoint <namespace/name>');
  const ca = await loadMeshCa(await readText('--ca', join(f.ca, CA_CERT_FILE)), await readText('--ca', join(f.ca, CA_KEY_FILE)));
  const issued = await issueWorkload(ca, { namespace: ns, serviceAccount: sa, ttlMs: f.ttl });
  const paths = await writePair(f.out, f.name ?? sa, issued.cert, issued.key);
  process.stdout.write(`${issued.spiffeId} valid until ${issued.notAfter.toISOString()}: ${paths.cert}, ${paths.key}\n`);
}

function nameArg(kind: Parameters<typeof checkName>[0]): (v: string) => string {
  return (v) => {
    const err = checkName(kind, v);
    if (err) throw new InvalidArgumentError(err);
    return v;
  };
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

async function guard(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
