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

// Never show a stack trace to an operator: one line with the cause.
process.on('uncaughtException', (err) => {
  process.stderr.write(`egressway: internal error: ${err.message} (please report with the line above it)\n`);
  if (process.env.EGRESSWAY_DEBUG) process.stderr.write(`${err.stack}\n`);
});

await program.parseAsync(process.argv);
