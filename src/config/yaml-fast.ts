// A hand-written parser for the YAML that Kubernetes manifests are made of, with the `yaml` library
// as the exact fallback. Why hand-written (the dependency rule asks): `yaml` is correct, but builds a
// token stream, a CST and a node tree before toJS(), about 0.2 ms per small document cold; on 10,000
// resources that was 1.2-2.3 s of a 3.1 s time to ready (issue 16). This path reads the common subset
// (block and flow collections, plain and one-line quoted scalars, comments, `---`) straight into JS
// values. On anything else (anchors, tags, block scalars, multi-line scalars, duplicate keys,
// non-string keys, odd indentation, whatever yaml would warn or error about) it answers undefined
// and the caller parses the whole file with `yaml`. test/config/yaml-fast.test.ts proves with
// generated documents that whenever it answers, the values, document texts and root offsets equal
// yaml's (`parseAllDocuments(text, KUBECTL_YAML)` + toJS(): scalars as kubectl reads them, yaml-schema.ts).
//
// One pass, no backtracking beyond the first key of a mapping: linear in the text, recursion bounded
// by MAX_DEPTH, never throws to the caller.

import { escapeAt, resolvePlain } from './yaml-scalars.ts';

export interface FastDocument {
  /** What yaml's `doc.toJS()` gives (null for an empty document). */
  readonly value: unknown;
  /** The document's text as yaml's `doc.range[0]..doc.range[2]` slices it. */
  readonly text: string;
  /** Where the root node starts (yaml's `doc.contents.range[0]`), or -1 for an empty document. */
  readonly rootOffset: number;
}

// Thrown inside, caught at the top: "not in the subset". Not an Error, so no stack is captured.
const FALLBACK = { fallback: true };
const MAX_DEPTH = 64;
// yaml rejects an implicit key whose `:` is more than 1024 characters after its start.
const MAX_KEY = 1000;
// Tabs, CR (CRLF line ends), other control characters, NEL, Unicode line separators, BOMs.
const UNSUPPORTED_CHAR = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/;

const NL = 10, SP = 32, HASH = 35, DQ = 34, SQ = 39, COMMA = 44, DASH = 45, DOT = 46, COLON = 58;
const LBRACKET = 91, RBRACKET = 93, LBRACE = 123, RBRACE = 125, BACKSLASH = 92;

// The parse is synchronous and not re-entrant, so its state lives here rather than in an object
// passed to every function.
let s = '';
let p = 0;
/** Whether the last value read was empty (`key:` or `-` with nothing after), and where it ended. */
let lastEmpty = false;
let emptyEnd = 0;
/** Set by plainBlock(): the scalar ended at a `: ` mapping indicator. */
let indicator = false;

/** The documents of `text` (a leading BOM already removed), or undefined: parse it with yaml. */
export function parseFast(text: string): FastDocument[] | undefined {
  if (UNSUPPORTED_CHAR.test(text)) return undefined;
  s = text;
  p = 0;
  try {
    return stream();
  } catch {
    // FALLBACK, or anything unforeseen: yaml decides.
    return undefined;
  } finally {
    s = '';
  }
}

function stream(): FastDocument[] {
  const docs: FastDocument[] = [];
  for (;;) {
    // Blank and comment lines between documents belong to none of them.
    const ind = nextLine();
    if (p >= s.length) return docs;
    const start = p;
    let markerEnd = -1;
    if (ind < 0) {
      p += 3;
      if (s.charCodeAt(start) === DOT) {
        // `...` with no document open is an empty one, of that line.
        endOfLine(false);
        docs.push({ value: null, text: s.slice(start, p), rootOffset: -1 });
        continue;
      }
      skipSpaces();
      markerEnd = p;
      endOfLine(false);
    }
    docs.push(doc(start, markerEnd));
  }
}

/** One document from `start` (its `---`, or its first content line when markerEnd is -1). */
function doc(start: number, markerEnd: number): FastDocument {
  const ind = nextLine();
  if (ind < 0) {
    // An explicit document with no content: yaml's range ends after `---` and its spaces, or at the
    // next document when a comment follows.
    if (markerEnd < 0) throw FALLBACK;
    let end = hasHash(markerEnd, p) ? p : markerEnd;
    if (p < s.length && s.charCodeAt(p) === DOT) end = endMarker();
    return { value: null, text: s.slice(start, end), rootOffset: -1 };
  }
  p += ind;
  const rootOffset = p;
  lastEmpty = false;
  const value = node(ind, -1, 0);
  const lineEnd = p;
  if (nextLine() >= 0) throw FALLBACK;
  const regionEnd = p;
  const c = s.charCodeAt(rootOffset);
  const block = value !== null && typeof value === 'object' && c !== LBRACKET && c !== LBRACE;
  let end = regionEnd;
  if (p < s.length && s.charCodeAt(p) === DOT) {
    if (block ? lastEmpty : hasHash(lineEnd, regionEnd)) throw FALLBACK;
    end = endMarker();
  } else if (!block) {
    // A scalar or flow root: yaml's range takes its line and at most one blank line after it.
    if (lineEnd < regionEnd) {
      if (s.charCodeAt(lineEnd) !== NL) throw FALLBACK;
      end = lineEnd + 1;
    }
  } else if (lastEmpty) {
    // A trailing empty value ends the range right after it, unless a comment follows.
    if (hasHash(emptyEnd, regionEnd)) throw FALLBACK;
    end = emptyEnd;
  }
  return { value, text: s.slice(start, end), rootOffset };
}

/** `...` ends the document, its line included. */
function endMarker(): number {
  p += 3;
  endOfLine(false);
  return p;
}

/** Whether a `#` lies in [from, to): a bounded scan, as indexOf would run on to the end of the text. */
function hasHash(from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) === HASH) return true;
  return false;
}

/**
 * From a line start, skips blank and comment lines. Returns the indent of the next content line
 * (p at its start), or -1 at the end of the text or at a `---`/`...` marker (p at the marker).
 */
function nextLine(): number {
  for (;;) {
    let i = p;
    while (s.charCodeAt(i) === SP) i++;
    if (i >= s.length) {
      p = s.length;
      return -1;
    }
    const c = s.charCodeAt(i);
    if (c === NL || c === HASH) {
      const nl = s.indexOf('\n', i);
      p = nl < 0 ? s.length : nl + 1;
      continue;
    }
    if (i === p && (c === DASH || c === DOT) && s.charCodeAt(i + 1) === c && s.charCodeAt(i + 2) === c) {
      if (!blankAt(i + 3)) throw FALLBACK; // `---x` is a plain scalar: rare, leave it to yaml
      return -1;
    }
    return i - p;
  }
}

function blankAt(i: number): boolean {
  return i >= s.length || s.charCodeAt(i) === SP || s.charCodeAt(i) === NL;
}

function skipSpaces(): void {
  while (s.charCodeAt(p) === SP) p++;
}

/** After a value: spaces, an optional comment (after a space), then the line's end. */
function endOfLine(leaf: boolean): void {
  const from = p;
  skipSpaces();
  if (p < s.length && s.charCodeAt(p) === HASH) {
    if (p === from && s.charCodeAt(p - 1) !== SP) throw FALLBACK;
    const nl = s.indexOf('\n', p);
    p = nl < 0 ? s.length : nl;
  }
  if (p < s.length) {
    if (s.charCodeAt(p) !== NL) throw FALLBACK;
    p++;
  }
  if (leaf) lastEmpty = false;
}

/** A block node at p, in column `col`, inside a block collection at column `parent`. */
function node(col: number, parent: number, depth: number): unknown {
  if (depth > MAX_DEPTH) throw FALLBACK;
  const start = p;
  const c = s.charCodeAt(p);
  if (c === DASH && blankAt(p + 1)) return blockSeq(col, depth);
  let value: unknown;
  if (c === LBRACKET || c === LBRACE) {
    value = flow(parent, depth);
  } else if (c === DQ || c === SQ) {
    value = quoted();
    const after = p;
    skipSpaces();
    if (s.charCodeAt(p) === COLON && blankAt(p + 1)) {
      p++;
      return blockMap(col, depth, key(value as string, start));
    }
    p = after;
  } else {
    const text = plainBlock();
    if (indicator) {
      p++;
      return blockMap(col, depth, key(plainKey(text), start));
    }
    value = resolvePlain(text);
  }
  endOfLine(true);
  return value;
}

function blockMap(col: number, depth: number, first: string): Record<string, unknown> {
  const map: Record<string, unknown> = {};
  let k = first;
  for (;;) {
    set(map, k, mapValue(col, depth));
    const ind = nextLine();
    if (ind < col) return map;
    if (ind > col) throw FALLBACK;
    p += ind;
    k = mapKey();
  }
}

/** A block mapping's key at p; leaves p after its `:`. */
function mapKey(): string {
  const start = p;
  const c = s.charCodeAt(p);
  if (c === DQ || c === SQ) {
    const k = quoted();
    skipSpaces();
    if (s.charCodeAt(p) !== COLON || !blankAt(p + 1)) throw FALLBACK;
    p++;
    return key(k, start);
  }
  if (c === DASH && blankAt(p + 1)) throw FALLBACK; // a sequence item among keys
  const text = plainBlock();
  if (!indicator) throw FALLBACK;
  p++;
  return key(plainKey(text), start);
}

/** The value after a block mapping's `key:` (p after the colon). */
function mapValue(col: number, depth: number): unknown {
  skipSpaces();
  if (p < s.length && s.charCodeAt(p) !== NL && s.charCodeAt(p) !== HASH) return inlineValue(col, depth + 1);
  const at = p;
  endOfLine(false);
  const ind = nextLine();
  if (ind > col) {
    p += ind;
    return node(ind, col, depth + 1);
  }
  // A sequence may sit at its key's own indent.
  if (ind === col && s.charCodeAt(p + ind) === DASH && blankAt(p + ind + 1)) {
    p += ind;
    return blockSeq(col, depth + 1);
  }
  lastEmpty = true;
  emptyEnd = at;
  return null;
}

/** A value on its key's line: a scalar or a flow collection, nothing that opens a block. */
function inlineValue(col: number, depth: number): unknown {
  if (depth > MAX_DEPTH) throw FALLBACK;
  const c = s.charCodeAt(p);
  let value: unknown;
  if (c === LBRACKET || c === LBRACE) value = flow(col, depth);
  else if (c === DQ || c === SQ) value = quoted();
  else {
    value = resolvePlain(plainBlock());
    if (indicator) throw FALLBACK; // `a: b: c`
  }
  endOfLine(true);
  return value;
}

function blockSeq(col: number, depth: number): unknown[] {
  const seq: unknown[] = [];
  for (;;) {
    const lineStart = p - col;
    p++; // the dash
    skipSpaces();
    if (p >= s.length || s.charCodeAt(p) === NL || s.charCodeAt(p) === HASH) {
      const at = p;
      endOfLine(false);
      const ind = nextLine();
      if (ind > col) {
        p += ind;
        seq.push(node(ind, col, depth + 1));
      } else {
        lastEmpty = true;
        emptyEnd = at;
        seq.push(null);
      }
    } else {
      seq.push(node(p - lineStart, col, depth + 1));
    }
    const ind = nextLine();
    if (ind < col) return seq;
    if (ind > col) throw FALLBACK;
    // At this indent, anything but another item belongs to the parent (a mapping whose key holds us).
    if (s.charCodeAt(p + ind) !== DASH || !blankAt(p + ind + 1)) return seq;
    p += ind;
  }
}

function set(map: Record<string, unknown>, k: string, value: unknown): void {
  if (Object.hasOwn(map, k)) throw FALLBACK; // yaml: DUPLICATE_KEY
  // As yaml's addPairToJSMap: an inherited name (`__proto__`, `toString`) becomes an own property.
  if (k in map) Object.defineProperty(map, k, { value, writable: true, enumerable: true, configurable: true });
  else map[k] = value;
}

function key(k: string, start: number): string {
  if (p - start > MAX_KEY || k === '<<') throw FALLBACK; // too long for yaml; a merge key
  return k;
}

/** A plain key must read as the same string in JS (no `80:`, `true:`, `null:` keys). */
function plainKey(text: string): string {
  const v = resolvePlain(text);
  if (typeof v !== 'string') throw FALLBACK;
  return v;
}

/** Whether a plain scalar may start at p (YAML's indicator characters may not start one). */
function plainStart(flow: boolean): void {
  if (p >= s.length) throw FALLBACK;
  const c = s.charCodeAt(p);
  if (c === DASH) {
    const n = s.charCodeAt(p + 1);
    if (blankAt(p + 1) || (flow && isFlowIndicator(n))) throw FALLBACK;
    return;
  }
  // - ? : , [ ] { } # & * ! | > ' " % @ `
  if ('?:,[]{}#&*!|>\'"%@`'.includes(s[p]!) || c === SP || c === NL) throw FALLBACK;
}

function isFlowIndicator(c: number): boolean {
  return c === COMMA || c === LBRACKET || c === RBRACKET || c === LBRACE || c === RBRACE;
}

/** A one-line plain scalar in block context; sets `indicator` when a `: ` follows it. */
function plainBlock(): string {
  plainStart(false);
  const start = p;
  indicator = false;
  for (;;) {
    const c = s.charCodeAt(p);
    if (p >= s.length || c === NL) break;
    if (c === COLON && blankAt(p + 1)) {
      indicator = true;
      break;
    }
    if (c === SP && s.charCodeAt(p + 1) === HASH) break;
    p++;
  }
  let end = p;
  while (s.charCodeAt(end - 1) === SP) end--;
  return s.slice(start, end);
}

/** A one-line plain scalar in flow context. */
function plainFlow(): string {
  plainStart(true);
  const start = p;
  for (;;) {
    const c = s.charCodeAt(p);
    if (p >= s.length || c === NL || isFlowIndicator(c)) break;
    if (c === COLON) {
      const n = s.charCodeAt(p + 1);
      if (blankAt(p + 1) || isFlowIndicator(n)) break;
    }
    if (c === SP && s.charCodeAt(p + 1) === HASH) break;
    p++;
  }
  let end = p;
  while (s.charCodeAt(end - 1) === SP) end--;
  return s.slice(start, end);
}

/** A one-line single- or double-quoted scalar at p; leaves p after the closing quote. */
function quoted(): string {
  const q = s.charCodeAt(p);
  let out = '';
  let from = ++p;
  for (;;) {
    if (p >= s.length) throw FALLBACK;
    const c = s.charCodeAt(p);
    if (c === NL) throw FALLBACK; // multi-line: yaml folds it
    if (c === q) {
      if (q === SQ && s.charCodeAt(p + 1) === SQ) {
        out += s.slice(from, p + 1);
        p += 2;
        from = p;
        continue;
      }
      out += s.slice(from, p);
      p++;
      return out;
    }
    if (c === BACKSLASH && q === DQ) {
      const e = escapeAt(s, p);
      if (!e) throw FALLBACK;
      out += s.slice(from, p) + e.text;
      p += e.length;
      from = p;
      continue;
    }
    p++;
  }
}

/** A flow collection at p (`[` or `{`); its lines must be indented past `parent`. */
function flow(parent: number, depth: number): unknown {
  if (depth > MAX_DEPTH) throw FALLBACK;
  const open = s.charCodeAt(p++);
  if (open === LBRACKET) {
    const seq: unknown[] = [];
    for (;;) {
      flowSpace(parent);
      if (s.charCodeAt(p) === RBRACKET) break;
      seq.push(flowNode(parent, depth + 1));
      flowSpace(parent);
      const c = s.charCodeAt(p);
      if (c === RBRACKET) break;
      if (c !== COMMA) throw FALLBACK; // `[a: b]` and the like
      p++;
    }
    p++;
    return seq;
  }
  const map: Record<string, unknown> = {};
  for (;;) {
    flowSpace(parent);
    if (s.charCodeAt(p) === RBRACE) break;
    const start = p;
    const c = s.charCodeAt(p);
    const k = c === DQ || c === SQ ? quoted() : plainKey(plainFlow());
    skipSpaces();
    if (s.charCodeAt(p) !== COLON) throw FALLBACK; // `{a}`, `{a, b}`, a key over two lines
    p++;
    key(k, start);
    flowSpace(parent);
    const v = s.charCodeAt(p);
    if (v === COMMA || v === RBRACE) throw FALLBACK; // `{a: }`
    set(map, k, flowNode(parent, depth + 1));
    flowSpace(parent);
    const e = s.charCodeAt(p);
    if (e === RBRACE) break;
    if (e !== COMMA) throw FALLBACK;
    p++;
  }
  p++;
  return map;
}

function flowNode(parent: number, depth: number): unknown {
  const c = s.charCodeAt(p);
  if (c === LBRACKET || c === LBRACE) return flow(parent, depth);
  if (c === DQ || c === SQ) return quoted();
  return resolvePlain(plainFlow());
}

/** Spaces, line breaks and comments inside a flow collection. */
function flowSpace(parent: number): void {
  for (;;) {
    const c = s.charCodeAt(p);
    if (c === SP) p++;
    else if (c === NL) {
      p++;
      let i = p;
      while (s.charCodeAt(i) === SP) i++;
      if (i < s.length && s.charCodeAt(i) !== NL) {
        if (i - p <= parent) throw FALLBACK;
        if (i === p && (s.startsWith('---', i) || s.startsWith('...', i))) throw FALLBACK;
      }
    } else if (c === HASH) {
      const b = s.charCodeAt(p - 1);
      if (b !== SP && b !== NL) throw FALLBACK;
      const nl = s.indexOf('\n', p);
      p = nl < 0 ? s.length : nl;
    } else return;
  }
}
