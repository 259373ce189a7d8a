#!/usr/bin/env node
// Which code runs: an installed package runs the compiled dist/, because Node refuses to strip types
// under node_modules. A source checkout runs src/ directly, so edits need no build and a dist/ left
// behind by `npm pack` can never be the stale thing that runs. (`npm run build` makes dist/.)
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

const src = new URL('../src/cli/main.ts', import.meta.url);
const dist = new URL('../dist/cli/main.js', import.meta.url);
// Node's on-disk code cache (OS temp folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off), on before the
// first module loads: src/cli/main.ts then comes from the cache too, so a warm start never loads Node's
// TypeScript stripper (amaro, a WebAssembly module: about 17 MB of RSS for the life of the process).
module.enableCompileCache?.();

const installed = /[\\/]node_modules[\\/]/.test(fileURLToPath(import.meta.url));

if (!installed && existsSync(src)) {
  await import(src.href);
} else if (existsSync(dist)) {
  await import(dist.href);
} else {
  process.stderr.write(`egressway: ${fileURLToPath(dist)} is missing; run \`npm run build\` in the package first\n`);
  process.exit(1);
}
