// Issue 16: what parsing ready.ts's config costs, one phase per run, in a cold process (the way a
// waypoint parses at start-up): the fast path (src/config/yaml-fast.ts) against the `yaml` package
// whole and by phase.
//   for m in fast yaml lex parse compose fast yaml; do nice -n 10 ./node_modules/.bin/node bench/yaml-phases.ts $m [--n 3334]; done
import { parseArgs } from 'node:util';
import { Composer, Lexer, LineCounter, Parser, parseAllDocuments } from 'yaml';
import { parseFast } from '../src/config/yaml-fast.ts';
import { authorizationPolicy, loopbackEntry } from '../test/helpers/inprocess.ts';

const { values: flags, positionals } = parseArgs({ options: { n: { type: 'string', default: '3334' } }, allowPositionals: true });
const mode = positionals[0] ?? 'fast';

/** ready.ts's and scale.ts's file for service i. */
function serviceFile(i: number): string {
  const ap = authorizationPolicy(`ap-${i}`, `svc-${i}`, `action: DENY\nrules: [{to: [{operation: {ports: ["80"], paths: ["/deny-${i}"]}}]}]`);
  const vs = `---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs-${i}, namespace: istio-egress}\nspec:\n  hosts: [svc-${i}.test]\n  http: [{timeout: 5s, route: [{destination: {host: svc-${i}.test}}]}]\n`;
  return [loopbackEntry(`svc-${i}`, 8000), ap, vs].join('\n');
}

const files = Array.from({ length: Number(flags.n) }, (_, i) => serviceFile(i));
// As src/config/yaml-ast.ts parses: without the getenv() per token.
const env = process.env;
process.env = {};
const c0 = process.cpuUsage();
let docs = 0;
let fellBack = 0;
for (const f of files) {
  if (mode === 'fast') {
    const d = parseFast(f);
    if (d) docs += d.length;
    else fellBack++;
  } else if (mode === 'lex') for (const _ of new Lexer().lex(f)) docs++;
  else if (mode === 'parse') for (const _ of new Parser().parse(f)) docs++;
  else if (mode === 'compose') for (const _ of new Composer({}).compose(new Parser().parse(f))) docs++;
  else for (const d of parseAllDocuments(f, { lineCounter: new LineCounter(), merge: true }) as { toJS(): unknown }[]) (d.toJS(), docs++);
}
const c = process.cpuUsage(c0);
process.env = env;
const bytes = files.reduce((a, f) => a + f.length, 0);
console.log(`${mode}: ${files.length} files (${bytes} bytes), ${docs} ${mode === 'lex' || mode === 'parse' ? 'tokens' : 'documents'}${fellBack ? `, ${fellBack} fell back` : ''}: CPU ${((c.user + c.system) / 1000).toFixed(0)} ms`);
