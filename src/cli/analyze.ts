// `egressway analyze [paths...]`: istioctl-analyze-style checks for ambient egress configs.
import type { Command } from 'commander';
import { analyze } from '../analyze/analyze.ts';
import { loadForTools } from '../analyze/load.ts';
import { EXIT_INCORRECT_USAGE, atLeast, exitCode, listCodes, parseSuppression, render, suppressed } from '../analyze/output.ts';
import type { Suppression } from '../analyze/output.ts';
import type { Level } from '../model/diagnostic.ts';
import { collect, oneOf } from './args.ts';
import { meshNumTrustedProxies, readMeshConfig } from './mesh-config.ts';
import type { MeshConfig } from './mesh-config.ts';
import type { AnalyzeOptions } from '../analyze/context.ts';

interface AnalyzeFlags {
  output: 'log' | 'json' | 'yaml';
  listCodes: boolean;
  suppress: string[];
  failureThreshold: 'Error' | 'Warning' | 'Info';
  outputThreshold: 'Error' | 'Warning' | 'Info';
  waypoint?: string;
  meshConfigFile?: string;
  meshConfig?: string;
}

export function registerAnalyze(program: Command): void {
  program.command('analyze')
    .description('check configs (files or directories) for mistakes, istioctl-analyze style; exit 79 when issues are found')
    .argument('[paths...]', 'config files or directories (YAML/JSON, searched recursively)')
    .option('-o, --output <format>', 'log | json | yaml', oneOf(['log', 'json', 'yaml'] as const), 'log')
    .option('--list-codes', 'list every diagnostic code and exit', false)
    .option('-S, --suppress <CODE=Kind name>', 'suppress messages by code and resource, e.g. "IST0134=ServiceEntry istio-egress/*" (repeatable)', collect, [])
    .option('--failure-threshold <level>', 'lowest level that gives a non-zero exit code', oneOf(['Error', 'Warning', 'Info'] as const), 'Error')
    .option('--output-threshold <level>', 'lowest level printed', oneOf(['Error', 'Warning', 'Info'] as const), 'Info')
    .option('--meshConfigFile <file>', 'Istio MeshConfig (or the istio ConfigMap) the analyzers use: outboundTrafficPolicy, serviceEntryVisibility, extensionProviders, gatewayTopology')
    .option('--mesh-config <file>', 'same as --meshConfigFile (the spelling run and check use)')
    .action(async (paths: string[], flags: AnalyzeFlags) => process.exit(await runAnalyze(paths, flags)));
}

export async function runAnalyze(paths: string[], f: AnalyzeFlags, out = process.stdout, err = process.stderr): Promise<number> {
  if (f.listCodes) {
    out.write(listCodes());
    return 0;
  }
  if (paths.length === 0) {
    err.write('error: name at least one file or directory to analyze (example: egressway analyze examples/quickstart)\n');
    return EXIT_INCORRECT_USAGE;
  }
  const rules: Suppression[] = [];
  for (const s of f.suppress) {
    const r = parseSuppression(s);
    if (typeof r === 'string') { err.write(`error: ${r}\n`); return EXIT_INCORRECT_USAGE; }
    rules.push(r);
  }
  let options: AnalyzeOptions = {};
  try {
    const file = f.meshConfigFile ?? f.meshConfig;
    if (file) options = meshOptions(await readMeshConfig(file));
  } catch (e) {
    err.write(`error: ${(e as Error).message.replace('--mesh-config', '--meshConfigFile')}\n`);
    return EXIT_INCORRECT_USAGE;
  }
  const loaded = await loadForTools(paths);
  const all = analyze(loaded.resources, loaded.diagnostics, options, loaded.rejected).filter((d) => !suppressed(d, rules));
  const shown = all.filter((d) => atLeast(d.level, lower(f.outputThreshold)));
  if (shown.length === 0 && f.output === 'log') err.write(`\u2714 No validation issues found when analyzing ${paths.join(', ')}.\n`);
  else out.write(render(shown, f.output));
  return exitCode(all, lower(f.failureThreshold));
}

/** The mesh config values that change what compile (and so analyze) concludes. */
function meshOptions(mesh: MeshConfig): AnalyzeOptions {
  return {
    outboundTrafficPolicy: mesh.outboundTrafficPolicy?.mode,
    serviceEntryVisibility: mesh.serviceEntryVisibility,
    extensionProviders: mesh.extensionProviders,
    numTrustedProxies: meshNumTrustedProxies(mesh),
    defaultVirtualServiceExportTo: mesh.defaultVirtualServiceExportTo,
    defaultDestinationRuleExportTo: mesh.defaultDestinationRuleExportTo,
  };
}

function lower(l: 'Error' | 'Warning' | 'Info'): Level {
  return l.toLowerCase() as Level;
}
