#!/usr/bin/env node
// egressway CLI entry point: thin commands over the library.
import { Command } from 'commander';
import { VERSION } from '../telemetry/metrics.ts';
import { registerRun } from './run.ts';
import { registerStat } from './stat.ts';
import { registerCheck } from './check.ts';
import { registerAnalyze } from './analyze.ts';
import { registerMigrate } from './migrate.ts';
import { registerCerts } from './certs.ts';
import { registerAgent } from './agent.ts';

const program = new Command('egressway')
  .description('An Istio-compatible ambient egress waypoint')
  .version(VERSION)
  .showHelpAfterError('(run with --help for usage)');
registerRun(program);
registerStat(program);
registerCheck(program);
registerAnalyze(program);
registerMigrate(program);
registerCerts(program);
registerAgent(program);

// Never show a stack trace to an operator: one line with the cause, and exit 70 (EX_SOFTWARE from
// sysexits.h) so that a script never reads a crash as success (`analyze` exiting 0 means "no issues").
// The waypoint exits too: after an uncaught exception its state is unknown, and a supervisor restarts it.
const EX_SOFTWARE = 70;
function internalError(err: unknown): never {
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`egressway: internal error: ${e.message} (please report with the line above it)\n`);
  if (process.env.EGRESSWAY_DEBUG) process.stderr.write(`${e.stack}\n`);
  process.exit(EX_SOFTWARE);
}
process.on('uncaughtException', internalError);
process.on('unhandledRejection', internalError);

await program.parseAsync(process.argv);
