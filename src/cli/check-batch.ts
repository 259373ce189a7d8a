// `egressway check --requests FILE`: one JSON request per line in, one JSON result per line out, in one
// process (the config is loaded and compiled once). Every line is parsed before any is checked, so a
// typo on line 300 fails the run at once (exit 2) instead of after 299 results.
// Exit: 0 all checked (and every `expect` met), 1 some `expect` not met, 2 a bad line.
import type { Snapshot } from '../model/snapshot.ts';
import type { ExtAuthzMode } from './check-ext-authz.ts';
import { explain } from './check-explain.ts';
import { parseRequest, SPEC_FIELDS, type CheckRequest, type RequestSpec } from './check-request.ts';

export interface BatchLine {
  /** 1-based line number in the input. */
  readonly line: number;
  readonly input: Readonly<Record<string, unknown>>;
  readonly request: CheckRequest;
}

/** Blank lines and lines starting with # are skipped; anything else must be one request object. */
export function parseBatch(text: string): BatchLine[] | { readonly error: string } {
  const out: BatchLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const at = `line ${i + 1}`;
    let input: unknown;
    try {
      input = JSON.parse(raw);
    } catch (err) {
      return { error: `${at}: not JSON (${(err as Error).message}); each line is one object such as {"url":"http://api.example.com/v1","method":"POST","from":"spiffe://cluster.local/ns/shop/sa/cart","expect":"allow"}` };
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return { error: `${at}: must be a JSON object with at least "url"` };
    const unknown = Object.keys(input).find((k) => !(SPEC_FIELDS as readonly string[]).includes(k));
    if (unknown !== undefined) return { error: `${at}: unknown field "${unknown}"; the fields are ${SPEC_FIELDS.join(', ')}` };
    const request = parseRequest(input as RequestSpec, (f) => `"${f}"`);
    if ('error' in request) return { error: `${at}: ${request.error}` };
    out.push({ line: i + 1, input: input as Record<string, unknown>, request });
  }
  if (out.length === 0) return { error: 'no requests: give one JSON object per line' };
  return out;
}

/** Checks every line in order and writes one JSON result per line; returns the exit code. */
export async function runBatch(snap: Snapshot, lines: readonly BatchLine[], mode: ExtAuthzMode, write: (s: string) => void, warn: (s: string) => void): Promise<number> {
  let failed = 0;
  for (const l of lines) {
    const report = await explain(snap, l.request, mode);
    const expect = l.request.expect;
    const met = expect === undefined ? undefined : (expect === 'allow') === report.decision.allow;
    if (met === false) {
      failed++;
      warn(`line ${l.line}: expected ${expect}, got ${report.decision.allow ? 'allow' : 'deny'}: ${report.decision.reason}\n`);
    }
    write(`${JSON.stringify({ line: l.line, input: l.input, ...report, ...(expect !== undefined ? { expectation: { expect, met } } : {}) })}\n`);
  }
  if (failed > 0) warn(`${failed} of ${lines.length} requests did not get what they expect\n`);
  return failed > 0 ? 1 : 0;
}
