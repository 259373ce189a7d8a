// Summarises a .heapsnapshot by constructor (self size and count), biggest first: where the memory
// of a loaded config goes (issue 16). `node bench/heap-summary.ts FILE [top]`; take the snapshot with
// `node bench/scale.ts --n 1000 --no-process --heap /tmp/x.heapsnapshot` or `node --heapsnapshot-signal=SIGUSR2`.
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/heap-summary.ts FILE.heapsnapshot [top]');
  process.exit(2);
}
const snap = JSON.parse(readFileSync(file, 'utf8')) as {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
};
const fields = snap.snapshot.meta.node_fields;
const width = fields.length;
const TYPE = fields.indexOf('type');
const NAME = fields.indexOf('name');
const SIZE = fields.indexOf('self_size');
const types = snap.snapshot.meta.node_types[0];
const by = new Map<string, { size: number; count: number }>();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + TYPE]!]!;
  const name = type === 'object' || type === 'closure' || type === 'native' ? `${type}:${snap.strings[snap.nodes[i + NAME]!]}` : type;
  const size = snap.nodes[i + SIZE]!;
  total += size;
  const e = by.get(name) ?? { size: 0, count: 0 };
  e.size += size;
  e.count++;
  by.set(name, e);
}
console.log(`total self size ${(total / 1048576).toFixed(1)} MiB`);
for (const [name, e] of [...by].sort((a, b) => b[1].size - a[1].size).slice(0, Number(topArg ?? 25))) {
  console.log(`${(e.size / 1048576).toFixed(2).padStart(8)} MiB ${String(e.count).padStart(9)}  ${name.slice(0, 80)}`);
}
