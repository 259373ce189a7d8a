// The YAML side of parsing: turning field paths into line:column through the document's AST, and
// syntax errors into diagnostics with a hint.
import type { Document, LineCounter, Node, YAMLError, YAMLSeq } from 'yaml';
import { yamlLib } from './yaml-lib.ts';
import { KUBECTL_YAML } from './yaml-schema.ts';
import { CODES } from '../model/codes.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { SourceLocation } from './resource.ts';

export type Locator = (path: readonly (string | number)[]) => SourceLocation;

/**
 * Walks `path` from `root`. A map field resolves to its key (where the eye looks, and the value of a
 * block mapping starts on the next line); a list item to the item. A missing segment stops the walk
 * at the nearest existing ancestor.
 */
export function makeLocator(root: Node, doc: Document, lines: LineCounter, file: string): Locator {
  const { isAlias } = yamlLib();
  return (path) => {
    let node: unknown = root;
    let offset = root.range?.[0] ?? 0;
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(doc);
      const next = child(node, seg);
      if (!next) break;
      offset = next.at ?? offset;
      node = next.node;
    }
    const { line, col } = lines.linePos(offset);
    return { file, line, column: col };
  };
}

function child(node: unknown, seg: string | number): { at: number | undefined; node: unknown } | undefined {
  const { isMap, isScalar, isSeq } = yamlLib();
  if (isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
    return pair ? { at: (pair.key as Node).range?.[0], node: pair.value } : undefined;
  }
  if (isSeq(node) && typeof seg === 'number') {
    const item = node.items[seg];
    return item ? { at: (item as Node).range?.[0], node: item } : undefined;
  }
  return undefined;
}

/** A file's text: what a locator keeps instead of its syntax tree. */
export interface SourceText {
  readonly text: string;
  readonly file: string;
}

export interface ParsedText {
  readonly docs: Document.Parsed[];
  readonly lines: LineCounter;
}

// The last file parsed, with its tree: validation and compile ask for positions resource after
// resource in file order, so one slot serves runs of them, and at most one tree is kept. (A WeakRef
// was tried first: V8 keeps WeakRef targets alive until the job ends, and a load is one long async
// job, so every tree stayed.)
let recent: { readonly src: SourceText; readonly parsed: ParsedText } | undefined;

/** The one set of parse options, so a re-parse for a locator sees the same tree as the first parse. */
export function parseText(src: SourceText): ParsedText {
  const { LineCounter, parseAllDocuments } = yamlLib();
  const lines = new LineCounter();
  // Scalars as kubectl reads them (YAML 1.1, yaml-schema.ts), `<<: *anchor` merges included.
  const docs = withQuietEnv(() => parseAllDocuments(src.text, { ...KUBECTL_YAML, lineCounter: lines }) as Document.Parsed[]);
  const parsed = { docs, lines };
  recent = { src, parsed };
  return parsed;
}

/**
 * yaml's Parser reads `process.env.LOG_TOKENS` once per token, and its Composer `LOG_STREAM` once
 * per document: each read is a getenv() in C++ (about 0.35 µs), a fifth of parsing 10,000
 * resources (issue 16). The parse is synchronous, so nothing else runs while process.env is a plain
 * object holding only those two (as set, so yaml's debug output still works).
 */
function withQuietEnv<T>(parse: () => T): T {
  const env = process.env;
  process.env = { LOG_TOKENS: env.LOG_TOKENS, LOG_STREAM: env.LOG_STREAM };
  try {
    return parse();
  } finally {
    process.env = env;
  }
}

/**
 * A locator that keeps the file's text, not its syntax tree. Trees cost about 20 times the text
 * (issue 16: the trees of 3,000 resources were most of a 289 MB RSS), and positions are only
 * needed for diagnostics, which are few: the tree is parsed again on demand.
 */
export function lazyLocator(src: SourceText, docIndex: number, itemIndex?: number, rootAt?: SourceLocation): Locator {
  return (path) => {
    // The root's own position, when the caller knows it, needs no tree (every resource asks for it).
    if (rootAt && path.length === 0) return { ...rootAt };
    const { docs, lines } = recent?.src === src ? recent.parsed : parseText(src);
    const doc = docs[docIndex]!;
    let root = doc.contents as Node;
    if (itemIndex !== undefined) root = (itemsNode(root)?.items[itemIndex] as Node | undefined) ?? root;
    return makeLocator(root, doc, lines, src.file)(path);
  };
}

/** Offsets where lines start, as yaml's LineCounter records them. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** yaml's LineCounter.linePos over lineStarts(): 1-based line and column. */
export function linePos(starts: readonly number[], offset: number): { line: number; column: number } {
  let low = 0;
  let high = starts.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (starts[mid]! < offset) low = mid + 1;
    else high = mid;
  }
  if (starts[low] === offset) return { line: low + 1, column: 1 };
  return { line: low, column: offset - starts[low - 1]! + 1 };
}

/** Drops the one tree kept for positions (after a load, so an idle process holds none). */
export function forgetParsed(): void {
  recent = undefined;
}

export function itemsNode(root: Node): YAMLSeq | undefined {
  const { isMap, isSeq } = yamlLib();
  const items = isMap(root) ? root.get('items', true) : undefined;
  return isSeq(items) ? items : undefined;
}

const HINTS: Partial<Record<string, string>> = {
  TAB_AS_INDENT: 'indent with spaces: YAML does not allow tabs for indentation',
  BAD_INDENT: 'align this line with its siblings, using spaces',
  DUPLICATE_KEY: 'remove or rename the repeated key',
  MISSING_CHAR: 'close the quote or bracket opened before this point',
  BLOCK_AS_IMPLICIT_KEY: 'put a space after each ":" and keep keys on one line',
  MULTILINE_IMPLICIT_KEY: 'put a space after each ":" and keep keys on one line',
  UNEXPECTED_TOKEN: 'look for a missing ":" after a key, a stray character, or a value that needs quotes',
  BAD_SCALAR_START: 'quote values that start with @ or `',
  BAD_ALIAS: 'define the anchor (&name) before using it (*name)',
  BAD_DQ_ESCAPE: 'fix the backslash escape, or use single quotes',
};

export const STACK_OVERFLOW_MESSAGE = 'collections are nested too deeply to read here (the parser ran out of stack)';

export function syntaxDiagnostic(err: YAMLError, lines: LineCounter, file: string, level: 'error' | 'warning' = 'error'): Diagnostic {
  const { line, col } = lines.linePos(err.pos[0]);
  // yaml's message repeats the position and a source excerpt after the first line; we carry both.
  let message = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  let hint = HINTS[err.code] ?? 'fix the YAML syntax here (JSON files are read as YAML too)';
  // yaml reports the JavaScript stack running out (deep nesting) as a syntax error of that text.
  if (/Maximum call stack size exceeded|Stack overflow/.test(message)) {
    message = STACK_OVERFLOW_MESSAGE;
    hint = 'flatten the nesting: no Istio or Gateway API resource needs more than a few dozen levels';
  }
  return { code: CODES.YamlSyntaxError.code, level, message, hint, file, line, column: col };
}
