// YAML/JSON text -> Resources + Diagnostics. Pure: no I/O, never throws on bad input. One file may
// hold many documents, and a kubectl `kind: List` holds many objects; each becomes a Resource that
// can locate its own fields.
import type { Document, LineCounter, Node } from 'yaml';
import { CODES } from '../model/codes.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import { diagnosticAt } from './diag.ts';
import { lookupKind } from './kinds/index.ts';
import { metadataSchema, normalizeMetadata } from './metadata.ts';
import type { Resource } from './resource.ts';
import { checkSchema, describe, isPlainObject, RAW_SPEC, s, withoutNulls } from './schema.ts';
import type { Issue } from './schema.ts';
import { itemsNode, lazyLocator, lineStarts, linePos, parseText, STACK_OVERFLOW_MESSAGE, syntaxDiagnostic } from './yaml-ast.ts';
import { parseFast } from './yaml-fast.ts';
import { yamlLib } from './yaml-lib.ts';
import type { Locator, SourceText } from './yaml-ast.ts';

export interface ParseResult {
  resources: Resource[];
  diagnostics: Diagnostic[];
}

// Top-level fields of a known kind; spec and status are checked by the kind's validator.
const envelopeSchema = s.object({ apiVersion: s.string(), kind: s.string(), metadata: metadataSchema, spec: s.any(), status: s.any() });

/** `defaultNamespace` is what kubectl's -n gives documents that name none (else `default`). */
export function parseDocuments(text: string, file: string, defaultNamespace = 'default'): ParseResult {
  const out: ParseResult = { resources: [], diagnostics: [] };
  const src: SourceText = { text: text.replace(/^\uFEFF/, ''), file };
  if (parseFastDocuments(src, out, defaultNamespace)) return out;
  const { docs, lines } = parseText(src);
  docs.forEach((doc, docIndex) => {
    for (const w of doc.warnings) out.diagnostics.push(syntaxDiagnostic(w, lines, file, 'warning'));
    if (doc.errors.length > 0) {
      // The document's tree is unreliable after an error; report every error and skip it (a stack
      // overflow once: yaml reports it again at each level it unwound).
      let overflow = false;
      for (const e of doc.errors) {
        const d = syntaxDiagnostic(e, lines, file);
        if (d.message === STACK_OVERFLOW_MESSAGE) {
          if (overflow) continue;
          overflow = true;
        }
        out.diagnostics.push(d);
      }
      return;
    }
    const root = doc.contents;
    if (root === null || (yamlLib().isScalar(root) && root.value === null)) return;
    parseDocument(doc, root, { lines, file, out, defaultNamespace, src, docIndex });
  });
  return out;
}

/**
 * The common case without `yaml`'s tree (yaml-fast.ts): the same values and document texts, and
 * the root's position computed here; other positions are found by re-parsing with yaml, lazily.
 * False when the file needs yaml (outside the subset, or a `kind: List`, whose items' positions
 * come from the tree).
 */
function parseFastDocuments(src: SourceText, out: ParseResult, defaultNamespace: string): boolean {
  const docs = parseFast(src.text);
  if (!docs || docs.some((d) => isPlainObject(d.value) && d.value.kind === 'List' && d.value.apiVersion === 'v1')) return false;
  const lines = lineStarts(src.text);
  docs.forEach((d, docIndex) => {
    if (d.value === null) return;
    const root = { file: src.file, ...linePos(lines, d.rootOffset) };
    addResource(d.value, lazyLocator(src, docIndex, undefined, root), { out, defaultNamespace }, d.text);
  });
  return true;
}

/**
 * One object that is already decoded (the Kubernetes source: JSON from the API server), without
 * YAML: every location is the object itself (`label`, line 1), as on a line of JSON text. About ten
 * times faster than parseDocuments(JSON.stringify(object)), and keeps no syntax tree alive.
 */
export function parseObject(value: unknown, label: string): ParseResult {
  const out: ParseResult = { resources: [], diagnostics: [] };
  const at = { file: label, line: 1, column: 1 };
  addResource(value, () => at, { out, defaultNamespace: 'default' });
  return out;
}

interface Ctx {
  readonly defaultNamespace: string;
  readonly src: SourceText;
  readonly docIndex: number;
  readonly lines: LineCounter;
  readonly file: string;
  readonly out: ParseResult;
}

/**
 * Each resource's document text, as parsed: a reload keeps a resource object only when its text is
 * the same (load.ts keepUnchanged), so every position its locator gives is still right.
 */
export const DOC_TEXT: WeakMap<Resource, string> = new WeakMap();

function parseDocument(doc: Document, root: Node, ctx: Ctx): void {
  const text = doc.range ? ctx.src.text.slice(doc.range[0], doc.range[2]) : undefined;
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // Unresolvable aliases and alias bombs surface here rather than as parse errors.
    const { line, col } = ctx.lines.linePos(root.range?.[0] ?? 0);
    ctx.out.diagnostics.push({ code: CODES.YamlSyntaxError.code, level: 'error', message: (e as Error).message, hint: 'check the anchors (&name) and aliases (*name)', file: ctx.file, line, column: col });
    return;
  }
  if (isPlainObject(value) && value.kind === 'List' && value.apiVersion === 'v1') {
    const items = Array.isArray(value.items) ? value.items : [];
    const seq = itemsNode(root);
    items.forEach((item, i) => addResource(item, lazyLocator(ctx.src, ctx.docIndex, seq?.items[i] ? i : undefined), ctx, text));
    return;
  }
  addResource(value, lazyLocator(ctx.src, ctx.docIndex), ctx, text);
}

function addResource(value: unknown, locate: Locator, ctx: Pick<Ctx, 'out' | 'defaultNamespace'>, text?: string): void {
  // No name means no identity: these diagnostics carry a position but no resource.
  const malformed = (message: string, path: string[], hint: string) => {
    const loc = locate(path);
    const at = { file: loc.file, line: loc.line, column: loc.column, ...(path.length ? { path: path.join('.') } : {}) };
    ctx.out.diagnostics.push({ code: CODES.MalformedResource.code, level: 'error', message, hint, ...at });
  };
  if (!isPlainObject(value)) return malformed(`document is ${describe(value)}, not a Kubernetes object`, [], 'write a mapping with apiVersion, kind, metadata and spec');
  const missing = missingFields(value);
  if (missing.length > 0) {
    const kind = typeof value.kind === 'string' ? ` (kind ${value.kind})` : '';
    // A name written `n`, `off` or `0777` is there, but YAML 1.1 (kubectl's reading) made it a boolean or a number.
    const wrong = missing.map((f) => [f, f === 'metadata.name' ? (value.metadata as Record<string, unknown> | undefined)?.name : value[f]] as const)
      .filter(([, v]) => typeof v === 'boolean' || typeof v === 'number');
    if (wrong.length > 0) {
      const [f, v] = wrong[0]!;
      return malformed(`${f} is the ${typeof v} ${String(v)}, not a string${kind}`, f.split('.'), 'quote it: kubectl reads y, n, yes, no, on and off as booleans and 0777 as an octal number, and so does Egressway');
    }
    return malformed(`document lacks ${missing.join(', ')}${kind}`, missing[0].split('.'), `add ${missing.join(' and ')}, as strings`);
  }
  const { resource, issues } = buildResource(value, locate, ctx.defaultNamespace);
  const known = lookupKind(resource.group, resource.kind) !== undefined;
  // Unknown kinds are ignored whole, so only known kinds hear about their envelope.
  const all = [...(known ? checkSchema(value, envelopeSchema) : []), ...issues];
  for (const issue of all) ctx.out.diagnostics.push(diagnosticAt(resource, issue));
  // A broken envelope (say, labels written as a list) would make the normalised metadata a guess.
  if (text !== undefined) DOC_TEXT.set(resource, text);
  if (!all.some((i) => i.level === 'error')) ctx.out.resources.push(resource);
}

function missingFields(value: Record<string, unknown>): string[] {
  const present = (v: unknown) => typeof v === 'string' && v !== '';
  const missing: string[] = [];
  if (!present(value.apiVersion)) missing.push('apiVersion');
  if (!present(value.kind)) missing.push('kind');
  if (!isPlainObject(value.metadata) || !present(value.metadata.name)) missing.push('metadata.name');
  return missing;
}

function buildResource(value: Record<string, unknown>, locate: Locator, defaultNamespace: string): { resource: Resource; issues: Issue[] } {
  const apiVersion = value.apiVersion as string;
  const kind = value.kind as string;
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const clusterScoped = lookupKind(group, kind)?.clusterScoped ?? false;
  const { metadata, issues } = normalizeMetadata(value.metadata as Record<string, unknown>, clusterScoped, defaultNamespace);
  const resource: Resource = {
    apiVersion,
    group,
    version,
    kind,
    metadata,
    // An absent or null spec is an empty one, as the API server's zero value is (compile reads
    // spec fields without a guard; `spec:` with nothing after it crashed it, found by test/fuzz/config.test.ts).
    spec: withoutNulls(value.spec) ?? {},
    // Always present (undefined when absent): one object shape for every resource keeps the
    // kind filters of a 10,000-resource compile on a fast path.
    status: value.status != null ? withoutNulls(value.status) : undefined,
    source: locate([]),
    locate,
  };
  RAW_SPEC.set(resource, value.spec);
  return { resource, issues };
}

