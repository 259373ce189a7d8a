// The `yaml` library, loaded on first use. Most config files take the fast path (yaml-fast.ts), so a
// waypoint whose files all fit it never loads yaml's 70 modules: RSS and start-up time (issue 16).
// Loaded synchronously (the parse API is synchronous); require() and an ES import of 'yaml' both
// resolve to its CommonJS build under Node (package.json `exports.node`), so they share one instance.
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

const requireCjs = createRequire(import.meta.url);
let lib: typeof Yaml | undefined;

export function yamlLib(): typeof Yaml {
  return (lib ??= requireCjs('yaml') as typeof Yaml);
}
