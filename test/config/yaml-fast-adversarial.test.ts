// An adversary's differential test of the YAML fast path (src/config/yaml-fast.ts): real manifests
// (every YAML file of the repository, README examples, and hand-written ones in the styles
// kubectl, Helm, kustomize and people produce) mutated token by token. Whenever the fast path
// answers, its documents (values with key order and number identity, texts, root offsets, count)
// must be exactly yaml's and yaml must report nothing; it never throws, and stays linear on 1 MB.
// Then parseDocuments through both paths (every field position, `kind: List`, BOM, empty and
// comment-only files) and hand-picked corners of the subset. Checked against 37 hand-made mutants of
// yaml-fast.ts and yaml-scalars.ts: every one that changes an answer fails here; the survivors
// removed guards that another check repeats (e.g. `{a: }`, which plainStart refuses anyway).
// Longer runs: PROPERTY_SEED=<n> PROPERTY_RUNS=20000 ./node_modules/.bin/node --test test/config/yaml-fast-adversarial.test.ts
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseAllDocuments, stringify } from 'yaml';
import { DOC_TEXT, parseDocuments } from '../../src/config/parse.ts';
import { parseFast } from '../../src/config/yaml-fast.ts';
import { differential } from '../helpers/yaml-differential.ts';
import { KUBECTL_YAML } from '../../src/config/yaml-schema.ts';

const seed = Number(process.env.PROPERTY_SEED ?? 0xad);
const numRuns = Number(process.env.PROPERTY_RUNS ?? 400);

// ---- the corpus: real manifests ----

const root = fileURLToPath(new URL('../..', import.meta.url));
const repoFiles = ['examples', 'deploy', 'test/fixtures', 'test/golden']
  .flatMap((dir) => readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).map((f) => join(root, dir, f)))
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => readFileSync(f, 'utf8').replace(/^\uFEFF/, ''))
  .filter((t) => t.length < 20000);
const readmeBlocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((m) => m[1]!);

// kubectl get -o yaml: managedFields with `f:` keys and `.: {}`, long quoted annotations, status.
const kubectlOutput = `apiVersion: networking.istio.io/v1
kind: AuthorizationPolicy
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy"}
    meta.helm.sh/release-name: egress
  creationTimestamp: "2026-01-02T03:04:05Z"
  generation: 3
  labels:
    app.kubernetes.io/managed-by: Helm
  managedFields:
  - apiVersion: security.istio.io/v1
    fieldsType: FieldsV1
    fieldsV1:
      f:metadata:
        f:annotations:
          .: {}
          f:kubectl.kubernetes.io/last-applied-configuration: {}
      f:spec:
        .: {}
        f:action: {}
        f:rules: {}
    manager: kubectl-client-side-apply
    operation: Update
    time: "2026-01-02T03:04:05Z"
  name: deny-admin
  namespace: istio-egress
  resourceVersion: "123456"
  uid: 0b5c6a3e-1d2f-4e5a-9b8c-7d6e5f4a3b2c
spec:
  action: DENY
  rules:
  - from:
    - source:
        principals:
        - cluster.local/ns/app/sa/frontend
        notNamespaces: ["kube-system"]
    to:
    - operation:
        hosts:
        - '*.example.com'
        - api.example.com:443
        paths:
        - /admin/*
        - /debug#frag
        methods: ["GET", "POST"]
        ports: ["8080"]
    when:
    - key: request.headers[x-token]
      values: [""]
    - key: source.ip
      notValues: ["::1", 10.0.0.0/8, "fe80::/10"]
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: egress-waypoint
status: {}
`;

// Helm template output: `# Source:` comments, a leading `---`, blank lines, quoted numbers.
const helmOutput = `---
# Source: egress/templates/serviceentry.yaml
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: httpbin
  namespace: "istio-egress"
  labels:
    helm.sh/chart: egress-0.1.0
    app.kubernetes.io/version: "1.0"
spec:
  hosts:
    - httpbin.org
    - "*.httpbin.org"
  ports:
    - number: 443
      name: tls
      protocol: TLS
    - number: 80
      name: http
      protocol: HTTP
  resolution: DNS
  location: MESH_EXTERNAL
---
# Source: egress/templates/virtualservice.yaml
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: httpbin

  namespace: istio-egress
spec:
  hosts:
    - httpbin.org
  http:
    - match:
        - uri:
            prefix: /status/
          headers:
            x-env:
              exact: "prod"
      route:
        - destination:
            host: httpbin.org
            port:
              number: 80
          weight: 100
      timeout: 5s
      retries:
        attempts: 3
        perTryTimeout: 2s
        retryOn: gateway-error,connect-failure,refused-stream
`;

// kustomize build: sorted keys, sequences at their key's indent, no document end.
const kustomizeOutput = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  labels:
    env: prod
  name: prod-httpbin
  namespace: istio-egress
spec:
  host: httpbin.org
  trafficPolicy:
    connectionPool:
      http:
        http1MaxPendingRequests: 100
        idleTimeout: 30s
      tcp:
        maxConnections: 1000
    outlierDetection:
      baseEjectionTime: 30s
      consecutive5xxErrors: 5
    portLevelSettings:
    - port:
        number: 443
      tls:
        mode: SIMPLE
        sni: httpbin.org
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: route
  namespace: istio-egress
spec:
  parentRefs:
  - group: networking.istio.io
    kind: ServiceEntry
    name: httpbin
  rules:
  - backendRefs:
    - kind: Hostname
      group: networking.istio.io
      name: httpbin.org
      port: 443
    matches:
    - path:
        type: PathPrefix
        value: /get
`;

// Hand-written: flow style, comments everywhere, quoted keys, documents ended with `...`.
const handWritten = `# egress policy for the payments team
--- # first
apiVersion: security.istio.io/v1   # the v1 API
kind: AuthorizationPolicy
metadata: {name: allow-payments, namespace: istio-egress}   # flow metadata
spec:
  # who may call
  action: ALLOW
  rules:
    - from: [{source: {principals: ["cluster.local/ns/pay/sa/api"]}}]
      to:
        - operation: {methods: [GET, POST], paths: ["/v1/*", /v2/charges]}   # both APIs
      when: [{key: "request.headers[:authority]", values: ['payments.example.com']}]
...
---
"apiVersion": "networking.istio.io/v1"
'kind': ServiceEntry
metadata:
  name: 'pay'
  annotations: {"note": "it's ok", 'other': 'say ''hi'''}
spec:
  hosts: [payments.example.com, "*.pay.example.com"]   # wildcard quoted
  addresses: [192.0.2.1/32, "2001:db8::1"]
  ports: [{number: 443, name: https, protocol: HTTPS}, {number: 8443,
      name: alt, protocol: TLS}]
  endpoints:
  - address: 192.0.2.10
    ports: {https: 443}
    labels: {zone: "eu-1", weight: "50"}
  exportTo: [".", istio-system]
  resolution: STATIC
...
`;

const handCorpus = [kubectlOutput, helmOutput, kustomizeOutput, handWritten];
// The same objects as a YAML emitter writes them (yaml's own quoting and indentation choices), with
// multi-line strings made one-line so the text stays in the subset.
const oneLine = (v: unknown): unknown => typeof v === 'string' ? v.replace(/\n/g, ' ') : Array.isArray(v) ? v.map(oneLine) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, oneLine(x)])) : v;
const emitted = handCorpus.flatMap((t) => {
  const values = parseAllDocuments(t, KUBECTL_YAML).map((d) => oneLine(d.toJS()));
  return ([{ lineWidth: 0 }, { lineWidth: 0, indentSeq: false, defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' }, { lineWidth: 0, indent: 4, defaultStringType: 'QUOTE_SINGLE' }, { collectionStyle: 'flow' }] as const)
    .map((o) => values.map((v) => stringify(v, { ...KUBECTL_YAML, ...o })).join('---\n'));
});
const corpus = [...handCorpus, ...emitted, ...readmeBlocks, ...repoFiles];

// ---- token-level mutations ----

// Characters and tokens YAML cares about, and values that resolve to non-strings or need quotes.
const alphabet = [' ', '  ', '\n', ':', ': ', '-', '- ', '#', ' #', "'", '"', '[', ']', '{', '}', ',', ', ', '?', '? ', '&', '*', '!', '|', '>', '%', '@', '`', '\\', '.', '...', '---', '--- ', '0', '1', '~', 'x', '<<', '=', '/', '\t', '\r', '\u00a0', '\u2028', '\uFEFF', '😀', '\ud800'];
const values = ['80', '-0', '0o17', '0x1F', '1e3', '.5', '.NaN', '+.inf', 'true', 'False', 'NULL', '~', '', '""', "''", '"\\x41"', '"\\u00e9"', '"\\N"', '"\\_"', "'it''s'", '[]', '{}', '[a, b]', '{a: 1}', '::1', '*.x', '&a x', '*a', '!!str 1', '|', '>-', 'a:b', 'a: b', 'a #b', 'a#b', '- x', '?', ':x', '<<', '__proto__', 'constructor'];

type Edit = readonly [kind: number, at: number, token: number];

function applyEdit(text: string, [kind, at, token]: Edit): string {
  const lines = text.split('\n');
  const li = at % lines.length;
  const i = at % (text.length + 1);
  const tok = alphabet[token % alphabet.length]!;
  switch (kind % 12) {
    case 0: return text.slice(0, i) + tok + text.slice(i); // insert a token
    case 1: return text.slice(0, i) + text.slice(i + 1 + (token % 3)); // delete 1-3 characters
    case 2: return text.slice(0, i) + text.slice(i, i + 1 + (token % 4)) + text.slice(i); // duplicate a few characters
    case 3: { // swap two lines
      const lj = (li + 1 + (token % 3)) % lines.length;
      [lines[li], lines[lj]] = [lines[lj]!, lines[li]!];
      return lines.join('\n');
    }
    case 4: lines[li] = ` ${lines[li]}`; return lines.join('\n'); // indent by one more
    case 5: lines[li] = lines[li]!.replace(/^ /, ''); return lines.join('\n'); // one less
    case 6: return li + 1 < lines.length ? [...lines.slice(0, li), `${lines[li]}${token % 2 ? ' ' : ''}${lines[li + 1]!.trimStart()}`, ...lines.slice(li + 2)].join('\n') : text; // join lines
    case 7: lines.splice(li, 0, lines[li]!); return lines.join('\n'); // duplicate a line
    case 8: lines.splice(li, 1); return lines.join('\n'); // delete a line
    case 9: { // replace a value after `: ` or `- ` with a tricky one
      lines[li] = lines[li]!.replace(/(: |- )(.*)$/, (_m, lead: string) => `${lead}${values[token % values.length]}`);
      return lines.join('\n');
    }
    case 10: { // replace a key with a tricky one
      lines[li] = lines[li]!.replace(/^( *(?:- )?)[^:#\s][^:#]*:( |$)/, (_m, lead: string, after: string) => `${lead}${values[token % values.length]}:${after}`);
      return lines.join('\n');
    }
    default: { // change a line's indent to another line's
      const other = lines[(li + 1 + token) % lines.length]!;
      lines[li] = other.match(/^ */)![0] + lines[li]!.trimStart();
      return lines.join('\n');
    }
  }
}

const edit = fc.tuple(fc.nat(), fc.nat(), fc.nat());
/** A corpus document (or two joined), 1-5 edits applied. */
const mutatedManifest = fc.tuple(fc.nat(corpus.length - 1), fc.option(fc.nat(corpus.length - 1), { freq: 4 }), fc.array(edit, { minLength: 1, maxLength: 5 }))
  .map(([a, b, edits]) => edits.reduce(applyEdit, b === null ? corpus[a]! : `${corpus[a]}\n---\n${corpus[b]}`));
/** One mutated line inside a small real context: dense in the single-token cases. */
const smallContext = ['a: b\n', '- a\n', 'a:\n  b: c\n', 'a:\n- b\n- c\n', '- a: b\n  c: d\n', 'a: [b, c]\n', 'a: {b: c}\n', 'k:\n  - [1,\n    2]\n', '---\na: 1\n...\n', "'a': \"b\"\n"];
const mutatedSmall = fc.tuple(fc.constantFrom(...smallContext), fc.array(edit, { minLength: 1, maxLength: 3 }))
  .map(([t, edits]) => edits.reduce(applyEdit, t));

test('adversarial: the corpus itself falls back or gives what yaml gives, and the hand-written manifests take the fast path', () => {
  for (const text of corpus) differential(text);
  for (const text of [kubectlOutput.replace(/ {4}kubectl.kubernetes.io\/last-applied-configuration: \|\n.*\n/, ''), helmOutput, kustomizeOutput, handWritten]) {
    assert.equal(differential(text), 'fast', text.slice(0, 60));
  }
  console.log(`# corpus: ${corpus.length} texts (${repoFiles.length} files, ${readmeBlocks.length} README blocks, ${emitted.length} emitted by yaml), ${corpus.filter((t) => parseFast(t)).length} take the fast path`);
});

test('adversarial: token-level mutations of real manifests fall back or give exactly what yaml gives', () => {
  let fast = 0;
  fc.assert(fc.property(mutatedManifest, (text) => {
    if (differential(text) === 'fast') fast++;
  }), { seed, numRuns });
  console.log(`# fast path answered ${fast} of ${numRuns} mutated manifests`);
  assert.ok(fast > numRuns / 10, `only ${fast} of ${numRuns} mutated manifests took the fast path: the mutations test nothing`);
});

test('adversarial: mutations in small contexts fall back or give exactly what yaml gives', () => {
  let fast = 0;
  fc.assert(fc.property(mutatedSmall, (text) => {
    if (differential(text) === 'fast') fast++;
  }), { seed, numRuns: numRuns * 3 });
  console.log(`# fast path answered ${fast} of ${numRuns * 3} mutated small texts`);
});

test('adversarial: 1 MB inputs of pathological shapes parse in linear time, without throwing', () => {
  const MB = 1 << 20;
  const deep = (n: number) => Array.from({ length: n }, (_, i) => `${'  '.repeat(i)}k${i}:`).join('\n');
  // Each shape at a size; the sizes grow by 4 up to 1 MB, so a quadratic shape fails on a small step
  // (in seconds) instead of running for minutes on the last one.
  const fill = (unit: string, size: number) => unit.repeat(Math.ceil(size / unit.length));
  const shapes: Record<string, (size: number) => string> = {
    'empty documents': (n) => fill('---\n', n),
    'comment lines': (n) => fill('# a comment line\n', n),
    'blank lines of spaces': (n) => `a: 1\n${fill('                              \n', n)}b: 2\n`,
    'one long plain value': (n) => `a: ${fill('x', n)}\n`,
    'one long numeric-looking value': (n) => `a: ${fill('1', n)}.5e\n`,
    'one long quoted value with escapes': (n) => `a: "${fill('\\x41\\u00e9\\\\', n)}"\n`,
    "one long single-quoted value of ''": (n) => `a: '${fill("''", n)}'\n`,
    'one long flow sequence': (n) => `a: [${fill('abc, ', n)}x]\n`,
    'a flow sequence over many lines': (n) => `a: [\n${fill('  abc,\n', n)}  x]\n`,
    'many siblings': (n) => Array.from({ length: n / 16 }, (_, i) => `k${i}: value\n`).join(''),
    'deep maps, repeated': (n) => `r:\n${Array.from({ length: Math.ceil(n / 4000) }, (_, i) => `${deep(60).replace(/^/gm, '  ').replace('k0:', `k0-${i}:`)} x\n`).join('')}`,
    // These two allocate a collection per one or two characters: a quarter of the size says as much.
    'deep compact sequences, repeated': (n) => `${'- '.repeat(60)}x\n`.repeat(Math.ceil(n / 4 / 122)),
    'deep flow nesting, repeated': (n) => `- ${'['.repeat(60)}${']'.repeat(60)}\n`.repeat(Math.ceil(n / 4 / 123)),
    'deep nesting then a far-indented line': (n) => `${deep(60)}\n${' '.repeat(n)}x: 1\n`,
    'a long key': (n) => `${fill('k', n)}: v\n`,
    'an unclosed flow sequence': (n) => `a: [${fill('b, ', n)}`,
  };
  for (const [name, make] of Object.entries(shapes)) {
    for (const size of [MB / 16, MB / 4, MB]) {
      const text = make(size);
      // Linear is tens of milliseconds for 1 MB, quadratic is minutes. The best of up to three runs
      // against a bound 30-40 times linear: a CI machine under load (one run took 1.8 s at load 10)
      // does not fail it, a quadratic shape does.
      let answered = false;
      let ms = Infinity;
      for (let run = 0; run < 3 && ms >= 3000; run++) {
        const t0 = performance.now();
        try {
          answered = parseFast(text) !== undefined;
        } catch (e) {
          assert.fail(`${name}: parseFast threw ${String(e)}`);
        }
        ms = Math.min(ms, performance.now() - t0);
      }
      if (process.env.SHOW_TIMES) console.log(`# ${name}, ${text.length} characters: ${ms.toFixed(1)} ms, ${answered ? 'answered' : 'fell back'}`);
      assert.ok(ms < 3000, `${name}: ${ms.toFixed(0)} ms for ${text.length} characters (${answered ? 'answered' : 'fell back'})`);
    }
  }
});

// ---- parseDocuments: a fast-parsed file gives what the yaml path gives ----

/** The same text down the yaml path: a trailing `!!null` document (a tag is outside the subset). */
const viaYaml = (t: string) => `${t}---\n!!null\n`;

/** Every field path of a value (at most `max`), for the locators to answer. */
function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = [], max = 300): (string | number)[][] {
  if (out.length >= max) return out;
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out, max));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out, max);
  return out;
}

function sameThroughParseDocuments(text: string): void {
  const t = text.endsWith('\n') ? text : `${text}\n`;
  assert.equal(parseFast(viaYaml(t)), undefined);
  const a = parseDocuments(t, 'f.yaml');
  const b = parseDocuments(viaYaml(t), 'f.yaml');
  const view = (r: (typeof a.resources)[number]) => {
    const fields = paths({ metadata: r.metadata, spec: r.spec, status: r.status, missing: { x: 1 } });
    return { ...r, locate: fields.map((p) => [p.join('.'), r.locate(p)]), text: DOC_TEXT.get(r) };
  };
  const where = JSON.stringify(t.slice(0, 200));
  assert.deepStrictEqual(a.resources.map(view), b.resources.map(view), where);
  assert.deepStrictEqual(a.diagnostics, b.diagnostics, where);
}

test('adversarial: parseDocuments gives the same resources, field positions and diagnostics from the fast path as from yaml', () => {
  let compared = 0;
  for (const text of corpus) {
    if (!parseFast(text.endsWith('\n') ? text : `${text}\n`)) continue;
    sameThroughParseDocuments(text);
    compared++;
  }
  fc.assert(fc.property(mutatedManifest, (text) => {
    if (!parseFast(text.endsWith('\n') ? text : `${text}\n`)) return;
    sameThroughParseDocuments(text);
    compared++;
  }), { seed, numRuns: Math.ceil(numRuns / 4) });
  console.log(`# ${compared} files compared through parseDocuments`);
  assert.ok(compared > corpus.length / 2);
});

test('adversarial: parseDocuments on a BOM, empty and comment-only files, and malformed documents, through both paths', () => {
  const manifest = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n';
  for (const t of ['', '\n', '\n\n  \n', '# only a comment\n', '# one\n\n# two\n', '---\n', '--- # c\n...\n', '\uFEFF', '\uFEFF# c\n', `\uFEFF${manifest}`, `\uFEFF---\n${manifest}`, `# head\n${manifest}---\n- a list\n---\nkind: Namespace\nmetadata: {namespace: x}\n---\n"a scalar"\n---\n~\n`]) {
    assert.notEqual(parseFast(t.replace(/^\uFEFF/, '')), undefined, JSON.stringify(t));
    sameThroughParseDocuments(t);
  }
  // A BOM moves nothing: the first resource is at line 1, column 1.
  const [ns] = parseDocuments(`\uFEFF${manifest}`, 'f.yaml').resources;
  assert.deepEqual(ns!.source, { file: 'f.yaml', line: 1, column: 1 });
  assert.deepEqual(ns!.locate(['metadata', 'name']), { file: 'f.yaml', line: 4, column: 3 });
  assert.deepEqual(parseDocuments('# only a comment\n', 'f.yaml'), { resources: [], diagnostics: [] });
  // Malformed documents are located by their root, from the fast path as from yaml.
  const bad = parseDocuments('a: 1\n---\n  - x\n---\nkind: Namespace\nmetadata:\n  namespace: x\n', 'f.yaml').diagnostics;
  assert.deepEqual(bad.map((d) => [d.line, d.column, d.path]), [[1, 1, 'apiVersion'], [3, 3, undefined], [5, 1, 'apiVersion']]);
});

test('adversarial: a kubectl `kind: List` takes the yaml path, and its items are located in it', () => {
  const list = 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: b\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n';
  assert.notEqual(parseFast(list), undefined, 'the fast path reads it; parseDocuments must still prefer yaml for the item positions');
  const { resources, diagnostics } = parseDocuments(list, 'f.yaml');
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(resources.map((r) => [r.metadata.name, r.source.line, r.source.column, r.locate(['metadata', 'name']).line]), [['a', 4, 3, 6], ['b', 7, 3, 10], ['c', 12, 1, 14]]);
});

test('adversarial: hand-picked inputs from every corner of the subset fall back or give what yaml gives', () => {
  const cases = [
    // indentation, compact and parent-indent sequences, `- key:` maps
    '- - a\n  - b\n- c\n', '- - - a\n', '-  -  - x\n', '- a: 1\n  b: 2\n', '- a: 1\n   b: 2\n', '- a: 1\n b: 2\n', 'a:\n- b\nc: d\n', 'a:\n - b\n- c\n',
    '- a:\n  - b\n  c: 1\n', '- a:\n   b: 1\n', '- a:\n  b\n', 'a:\n  - b\n  c:\n  - d\n', '-\n  a: 1\n', '-\n - a\n', '  a: 1\n  b: 2\n', '  a: 1\nb: 2\n', '- a\n-x\n', 'a:\n- b\n-c\n', '- a\n-\n',
    // flow collections across lines and in block sequences
    '- [1,\n 2]\n', '- [1,\n2]\n', 'a:\n  [1,\n 2]\n', '- a: [1,\n   2]\n', '- a: [1,\n  2]\n', 'a: [1,\n]\n', 'a: [1,\n ]\n', '- {a: 1,\n  b: 2}\n', '- {a: 1}\n- [b]\n',
    '{a:\n  b}\n', '{a:\n b}\n', 'a: [\n  ---\n  ]\n', '[a,\n---\n]\n', '[a,\n...\n]\n', '[a, # c\n  b]\n', '[a,#c\n]\n', '["a"# c\n]\n',
    // flow entries: without a value, pairs in sequences, trailing commas, adjacent colons
    '{a}\n', '{a, b}\n', '{a: }\n', '{a:}\n', '[a: b]\n', '[a, b: c]\n', '["a":b]\n', '[a,]\n', '{a: 1,}\n', '[,]\n', '[a,,b]\n', '{a:[b]}\n', '[a:]\n', '[a:,b]\n', '{a:,b: c}\n', '[a:b, c:]\n', '{"a":b}\n', "{'a':b}\n", '{a:"b"}\n', '{a:b}\n', '[a:b]\n', '[a :b]\n',
    // `:` and `#` inside plain scalars
    'a:b\n', 'k: v:1\n', 'a: http://x:80/y\n', 'a: ::1\n', '- ::1\n', 'a: "::1"\n', 'a: *.example.com\n', "a: '*.example.com'\n", 'a: /path#frag\n', 'a: /path #frag\n', 'a: b#c\n', 'a#b: c\n', 'a: b: c\n', 'a:: b\n', 'a :b: c\n', 'a: b:\n',
    // comments: after a space only
    "a: 'b'#c\n", 'a: "b"#c\n', 'a: [b]#c\n', 'a: {b: c}#c\n', '- "b"#c\n', '"a"#c\n', '[a]#c\n', 'a: b #c\n', "a: 'b' #c\n",
    // scalar and flow roots: their range takes at most one blank line
    'x\n  \n---\n', 'x\n\n\n---\n', '[a]\n   \n---\n', '[a,\n b]\n\n---\n', '"x"\n \n...\n',
    // empty values and items
    'key:\n', 'key: ""\n', "key: ''\n", '- \n', '-\n-\n', 'a:\n  b:\n\n', 'key: # c\n', '- # c\n', 'a:\nb:\n', 'a:\n  -\n',
    // explicit keys and document markers
    '? a\n: b\n', 'a: 1\n? b\n', '--- foo\n', '---#\n', '--- # c\na: 1\n', '---\n...\n', '...\n', '... x\n', '...#\n', 'a: 1\n...\nb: 2\n', 'a:\n  ---\n', '- ---\n', 'a: --- x\n', ' ---\n', '---: 1\n', ' ---: 1\n', '---a: 1\n',
    // unicode, emoji, surrogates, non-breaking and other spaces
    'a: é日本\n', 'a: 😀\n', '😀: 1\n', 'a: "\\ud83d\\ude00"\n', 'a: "\\ud83d"\n', 'a: \ud800\n', '\udc00: 1\n', 'a: b\u00a0#c\n', 'a\u00a0: b\n', 'a:\u00a0b\n', 'a: \u3000# c\n', 'a: b\u200b\n',
    // numbers of the core schema and near misses
    'a: 0o17\n', 'a: 0O17\n', 'a: 0x_1\n', 'a: 0x1F\n', 'a: 1_000\n', 'a: +.inf\n', 'a: -.Inf\n', 'a: .NaN\n', 'a: .nan\n', 'a: -0\n', 'a: +0\n', 'a: -0.0\n', 'a: 1e\n', 'a: 1e3\n', 'a: 1E-3\n', 'a: 012\n', 'a: 0.\n', 'a: .5\n', 'a: 1.e3\n', 'a: +0x1\n', 'a: 0b11\n', 'a: 99999999999999999999\n', 'a: 1e400\n',
    // booleans and null in case variants
    'a: true\n', 'a: True\n', 'a: TRUE\n', 'a: tRUE\n', 'a: yes\n', 'a: on\n', 'a: y\n', 'a: null\n', 'a: Null\n', 'a: NULL\n', 'a: nULL\n', 'a: ~\n', 'a: ~x\n',
    // special first characters
    'a: =\n', '=: 1\n', 'a: <<\n', '<<: {a: 1}\n', '"<<": 1\n', 'a: !\n', 'a: !x\n', 'a: &x\n', 'a: *x\n', 'a: %x\n', 'a: @x\n', 'a: `x\n', 'a: |\n', 'a: >\n', 'a: |x\n', 'a: b!\n', 'a: b@\n', 'a: b`\n', 'a: b|\n',
    // double-quoted escapes and single-quoted ''
    'a: "\\x41"\n', 'a: "\\x4"\n', 'a: "\\u00e9"\n', 'a: "\\U0001F600"\n', 'a: "\\UFFFFFFFF"\n', 'a: "\\N\\_\\L\\P"\n', 'a: "\\ "\n', 'a: "\\/"\n', 'a: "\\e\\a\\v\\0"\n', 'a: "\\q"\n', 'a: "x\\\n  y"\n', 'a: "\\"\n', "a: 'it''s'\n", "a: ''''\n", "a: 'a\\'\n",
    // the same key with different quoting, and inherited names
    'a: 1\n"a": 2\n', "a: 1\n'a': 2\n", '{a: 1, "a": 2}\n', '__proto__: 1\n', '"__proto__": {a: 1}\n', 'constructor: 1\ntoString: 2\n', '{__proto__: [1]}\n', '- __proto__: x\n  hasOwnProperty: y\n',
    // long lines
    `a: ${'x'.repeat(100000)}\n`, `${'k'.repeat(1000)}: 1\n`, `${'k'.repeat(1030)}: 1\n`, `"${'k'.repeat(1030)}": 1\n`,
  ];
  let fast = 0;
  for (const c of cases) if (differential(c) === 'fast') fast++;
  assert.ok(fast > cases.length / 3, `${fast} of ${cases.length}`);
  // What an AuthorizationPolicy depends on, read as yaml reads it (values spelt out, not compared with the parser itself).
  const ap = parseFast('rules:\n- to:\n  - operation:\n      paths: [/admin/*, /a#b, "/c #d"]   # c\n      hosts: ["*.x.com", api.x.com:443]\n  from:\n  - source: {principals: [cluster.local/ns/a/sa/b], ipBlocks: ["::1", 10.0.0.0/8]}\n  when:\n  - {key: "request.headers[x]", values: ["080", 080, 0o17, .5, "true", true, ~, "~"]}\n');
  assert.deepStrictEqual(ap?.[0]?.value, {
    rules: [{
      to: [{ operation: { paths: ['/admin/*', '/a#b', '/c #d'], hosts: ['*.x.com', 'api.x.com:443'] } }],
      from: [{ source: { principals: ['cluster.local/ns/a/sa/b'], ipBlocks: ['::1', '10.0.0.0/8'] } }],
      when: [{ key: 'request.headers[x]', values: ['080', 80, 15, 0.5, 'true', true, null, '~'] }],
    }],
  });
});
