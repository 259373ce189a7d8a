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

interface MigrateFlags {
  output?: string;
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
    .option('--verify', 'replay derived requests against the old intent and the new config', false)
    .action(async (paths: string[], flags: MigrateFlags) => process.exit(await runMigrate(paths, flags)));
}

function accountArg(v: string, prev: Map<string, string>): Map<string, string> {
  const m = /^([^=]+)=([^=]+)=([a-z0-9-]+)\/([a-z0-9-.]+)$/.exec(v);
  if (!m) throw new InvalidArgumentError(`"${v}" is not label=value=namespace/serviceaccount (example: app=sleep-a=mytest/sleep-a)`);
  return new Map([...prev, [`${m[1]}=${m[2]}`, `${m[3]}/${m[4]}`]]);
}

export async function runMigrate(paths: string[], f: MigrateFlags, out = process.stdout, err = process.stderr): Promise<number> {
  const loaded = await loadForTools(paths);
  const problems = loaded.diagnostics.filter((d) => d.level === 'error');
  for (const d of problems) err.write(`${formatDiagnostic(d)}\n`);
  if (problems.length) {
    err.write(`error: the input has ${problems.length} error(s) above; resources with errors are left out of the migration\n`);
  }
  const result = migrate(loaded.resources, { serviceAccounts: f.serviceAccountFor, waypoint: f.waypoint, verify: f.verify, outputName: f.output ? join(f.output, 'ambient.yaml') : 'ambient.yaml' });
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
