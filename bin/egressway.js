#!/usr/bin/env node
// Runs the TypeScript sources directly with Node's type stripping (Node >= 22.18 / 23.6).
import '../src/cli/main.ts';
