#!/usr/bin/env node
// egressway CLI entry point: thin commands over the library.
// Each command's module is imported only when that command runs: `check` in a CI loop should not pay
// for the data plane's listeners, telemetry and the agent (about 0.3 s of module loading). Help and
// unknown commands load every command so that commander lists them all; --version loads none.
import { Command } from 'commander';
import { enableCompileCache } from 'node:module';
import { VERSION } from '../version.ts';

// Node's on-disk code cache (in the OS temp folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off) keeps
// the compiled and type-stripped modules between runs: `check` starts in about half the CPU time.
enableCompileCache?.();

type Register = (program: Command) => void;

const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  run: async () => (await import('./run.ts')).registerRun,
  stat: async () => (await import('./stat.ts')).registerStat,
  check: async () => (await import('./check.ts')).registerCheck,
  analyze: async () => (await import('./analyze.ts')).registerAnalyze,
  migrate: async () => (await import('./migrate.ts')).registerMigrate,
  certs: async () => (await import('./certs.ts')).registerCerts,
  agent: async () => (await import('./agent.ts')).registerAgent,
  controller: async () => (await import('./controller.ts')).registerController,
};

const program = new Command('egressway')
  .description('An Istio-compatible ambient egress waypoint')
  .version(VERSION)
  .showHelpAfterError('(run with --help for usage)');

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

const name = process.argv[2];
// --version needs no command at all: answer before loading any (0.47 s -> Node's start-up).
if (process.argv.length === 3 && (name === '--version' || name === '-V')) {
  process.stdout.write(`${VERSION}\n`);
  process.exit(0);
}
const only = name !== undefined && Object.hasOwn(COMMANDS, name) ? [COMMANDS[name]!] : Object.values(COMMANDS);
for (const register of await Promise.all(only.map((load) => load()))) register(program);

await program.parseAsync(process.argv);
