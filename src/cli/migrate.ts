// `egressway migrate [paths...] [-o out/]`: sidecar-era egress configs -> the ambient equivalent.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { loadForTools } from '../analyze/load.ts';
import { formatDiagnostic, hasErrors } from '../model/diagnostic.ts';
import { migrate } from '../migrate/migrate.ts';
import { formatReport } from '../migrate/report.ts';
import { parseWaypointRef } from './args.ts';
import { readMeshConfig } from './mesh-config.ts';

export interface MigrateFlags {
  output?: string;
  namespace?: string;
  meshConfig?: string;
  serviceAccountFor: Map<string, string>;
  waypoint?: string;
  verify: boolean;
}

export function registerMigrate(program: Command): void {
  program.command('migrate')
    .description('turn sidecar-era egress gateway configs (and ASMEgressTrafficPolicy) into ambient waypoint configs, with a report')
    .argument('<paths...>', 'config files or directories (YAML/JSON, searched recursively)')
    .option('-o, --output <dir>', 'write ambient.yaml and migration-report.txt here (default: YAML on stdout, report on stderr)')
    .option('--service-account-for <label=value=ns/sa>', 'identity of the workloads a workloadSelector label selects, e.g. app=sleep-a=mytest/sleep-a (repeatable)', accountArg, new Map())
    .option('--waypoint <namespace/name>', 'waypoint to create when the input has none', parseWaypointRef)
    .option('-n, --namespace <namespace>', 'namespace for documents that name none, as kubectl -n (default: default)', namespaceArg)
    .option('--mesh-config <file>', "the old mesh's MeshConfig (bare, the istio ConfigMap, or an IstioOperator): outboundTrafficPolicy decides what --verify expects for hosts without a ServiceEntry")
    .option('--verify', 'replay requests against the old config (sidecar semantics, from the input) and the new one (the waypoint\'s compiled snapshot) and compare them', false)
    .action(async (paths: string[], flags: MigrateFlags) => process.exit(await runMigrate(paths, flags)));
}

function namespaceArg(v: string): string {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v)) throw new InvalidArgumentError(`"${v}" is not a namespace name (lower-case letters, digits and '-', at most 63)`);
  return v;
}

function accountArg(v: string, prev: Map<string, string>): Map<string, string> {
  const m = /^([^=]+)=([^=]+)=([a-z0-9-]+)\/([a-z0-9-.]+)$/.exec(v);
  if (!m) throw new InvalidArgumentError(`"${v}" is not label=value=namespace/serviceaccount (example: app=sleep-a=mytest/sleep-a)`);
  return new Map([...prev, [`${m[1]}=${m[2]}`, `${m[3]}/${m[4]}`]]);
}

export async function runMigrate(paths: string[], f: MigrateFlags, out: Pick<NodeJS.WritableStream, 'write'> = process.stdout, err: Pick<NodeJS.WritableStream, 'write'> = process.stderr): Promise<number> {
  let outbound: 'ALLOW_ANY' | 'REGISTRY_ONLY' | undefined;
  if (f.meshConfig) {
    try {
      const mode = (await readMeshConfig(f.meshConfig)).outboundTrafficPolicy?.mode;
      if (mode !== undefined && mode !== 'ALLOW_ANY' && mode !== 'REGISTRY_ONLY') throw new Error(`--mesh-config ${f.meshConfig}: outboundTrafficPolicy.mode "${String(mode)}" is not ALLOW_ANY or REGISTRY_ONLY`);
      outbound = mode;
    } catch (e) {
      err.write(`error: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const loaded = await loadForTools(paths, f.namespace ?? 'default');
  const problems = loaded.diagnostics.filter((d) => d.level === 'error');
  for (const d of problems) err.write(`${formatDiagnostic(d)}\n`);
  if (problems.length) {
    err.write(`error: the input has ${problems.length} error(s) above; resources with errors are left out of the migration\n`);
  }
  const result = migrate(loaded.resources, { serviceAccounts: f.serviceAccountFor, waypoint: f.waypoint, verify: f.verify, outboundTrafficPolicy: outbound, outputName: f.output ? join(f.output, 'ambient.yaml') : 'ambient.yaml' });
  const report = formatReport(result);
  if (f.output) {
    await mkdir(f.output, { recursive: true });
    await writeFile(join(f.output, 'ambient.yaml'), result.yaml);
    await writeFile(join(f.output, 'migration-report.txt'), report);
    out.write(report);
    out.write(`wrote ${join(f.output, 'ambient.yaml')} and ${join(f.output, 'migration-report.txt')}\n`);
  } else {
    out.write(result.yaml);
    err.write(report);
  }
  const mismatch = result.verify?.some((v) => !v.same) ?? false;
  return hasErrors(result.analysis) || mismatch ? 1 : problems.length ? 65 : 0;
}
