// The loader's file walk (src/config/load.ts) over generated directory trees on disk: it never
// throws, reads exactly the config files it documents (.yaml, .yml, .json, any case; no dotfiles or
// dot-directories; a symlink loop read once), and every diagnostic is well-formed.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadConfig } from '../../../src/config/load.ts';
import { yamlText } from '../../helpers/arbitraries.ts';
import { asyncFuzzProperty } from '../property.ts';

const SE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: NAME, namespace: egress}
spec: {hosts: [NAME.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
`;

const entry = fc.record({
  dirs: fc.array(fc.constantFrom('a', 'b', '.hidden', '..data', 'c.yaml'), { maxLength: 2 }),
  name: fc.constantFrom('x.yaml', 'y.YML', 'z.json', 'w.txt', '.dot.yaml', 'n.yaml.bak', 'CAPS.Yaml', 'k'),
  content: fc.oneof(yamlText, fc.constantFrom('', '{}', '[', SE.replaceAll('NAME', 'one'), SE.replaceAll('NAME', 'two'))),
});

const tree = fc.record({ entries: fc.array(entry, { maxLength: 6 }), loop: fc.boolean(), missing: fc.boolean() });

const CONFIG_FILE = /\.(ya?ml|json)$/i;

export const properties = [
  asyncFuzzProperty('load: any directory tree loads into resources and diagnostics; exactly the config files are read', fc.asyncProperty(tree, async ({ entries, loop, missing }) => {
    const root = mkdtempSync(join(tmpdir(), 'egressway-fuzz-'));
    try {
      const expected = new Set<string>();
      for (const e of entries) {
        const dir = join(root, ...e.dirs);
        const file = join(dir, e.name);
        try {
          mkdirSync(dir, { recursive: true });
          writeFileSync(file, e.content);
        } catch { continue; } // a name taken by a directory (c.yaml), or the reverse
        if (CONFIG_FILE.test(e.name) && ![...e.dirs, e.name].some((p) => p.startsWith('.'))) expected.add(file);
      }
      if (loop) symlinkSync('.', join(root, 'loop'));
      const out = await loadConfig(missing ? [root, join(root, 'does-not-exist')] : [root]);
      const read = [...out.files].sort();
      if (JSON.stringify(read) !== JSON.stringify([...expected].sort())) throw new Error(`read ${JSON.stringify(read)}, expected ${JSON.stringify([...expected].sort())}`);
      for (const d of out.diagnostics) {
        if (!d.code || !d.message || !['error', 'warning', 'info'].includes(d.level)) throw new Error(`malformed diagnostic ${JSON.stringify(d)}`);
      }
      if (missing && !out.diagnostics.some((d) => d.message.includes('does-not-exist'))) throw new Error('a missing path was not reported');
      for (const r of out.resources) if (!read.includes(r.source.file)) throw new Error(`resource from ${r.source.file}, a file not read`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }), 60),
];
