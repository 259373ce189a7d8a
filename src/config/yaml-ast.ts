// The YAML side of parsing: turning field paths into line:column through the document's AST, and
// syntax errors into diagnostics with a hint.
import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node, YAMLError } from 'yaml';
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

export function syntaxDiagnostic(err: YAMLError, lines: LineCounter, file: string, level: 'error' | 'warning' = 'error'): Diagnostic {
  const { line, col } = lines.linePos(err.pos[0]);
  // yaml's message repeats the position and a source excerpt after the first line; we carry both.
  const message = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  const hint = HINTS[err.code] ?? 'fix the YAML syntax here (JSON files are read as YAML too)';
  return { code: CODES.YamlSyntaxError.code, level, message, hint, file, line, column: col };
}
