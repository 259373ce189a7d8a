// istioctl-compatible presentation: suppression (`--suppress "CODE=Kind ns/name-glob"`), thresholds,
// the three output formats, and the exit code (istioctl: 79 issues found, 65 unparsable input).
import { stringify } from 'yaml';
import { KUBECTL_YAML } from '../config/yaml-schema.ts';
import { CODES } from '../model/codes.ts';
import { formatDiagnostic } from '../model/diagnostic.ts';
import type { Diagnostic, Level } from '../model/diagnostic.ts';

export const EXIT_ANALYZER_FOUND_ISSUES = 79;
export const EXIT_DATA_ERROR = 65;
export const EXIT_INCORRECT_USAGE = 64;
/** Diagnostics about reading files, which istioctl reports as parse errors, not as analysis messages. */
const PARSE_CODES: ReadonlySet<string> = new Set([CODES.YamlSyntaxError.code, CODES.MalformedResource.code, CODES.UnreadablePath.code]);

export interface Suppression {
  readonly code: string;
  readonly kind: string;
  readonly pattern: RegExp;
}

/** `IST0134=ServiceEntry *`, `EGW0011=ServiceEntry istio-egress/*`; the name part may also be istioctl's `name.namespace`. */
export function parseSuppression(v: string): Suppression | string {
  const m = /^([A-Z]{3}\d{4})=(\S+)\s+(\S+)$/.exec(v.trim());
  if (!m) return `--suppress "${v}" is not CODE=Kind name-glob (example: --suppress "IST0134=ServiceEntry istio-egress/*")`;
  const glob = m[3]!.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return { code: m[1]!, kind: m[2]!, pattern: new RegExp(`^${glob}$`) };
}

export function suppressed(d: Diagnostic, rules: readonly Suppression[]): boolean {
  const r = d.resource;
  return rules.some((s) => s.code === d.code && (s.kind === '*' || (r !== undefined && s.kind === r.kind))
    && (r === undefined ? s.pattern.test('') || s.pattern.source === '^.*$' : s.pattern.test(`${r.namespace}/${r.name}`) || s.pattern.test(`${r.name}.${r.namespace}`) || s.pattern.test(r.name)));
}

const RANK: Record<Level, number> = { info: 0, warning: 1, error: 2 };

export function atLeast(level: Level, threshold: Level): boolean {
  return RANK[level] >= RANK[threshold];
}

/** The exit code istioctl would give: issues at or above the failure threshold first, then parse errors. */
export function exitCode(all: readonly Diagnostic[], failure: Level): number {
  if (all.some((d) => !PARSE_CODES.has(d.code) && atLeast(d.level, failure))) return EXIT_ANALYZER_FOUND_ISSUES;
  if (all.some((d) => PARSE_CODES.has(d.code))) return EXIT_DATA_ERROR;
  return 0;
}

function documentationUrl(code: string): string | undefined {
  return code.startsWith('IST') ? `https://istio.io/latest/docs/reference/config/analysis/${code.toLowerCase()}/` : undefined;
}

/** istioctl's JSON message shape (code, level, origin, reference, documentationUrl) plus our fields. */
export function toMessage(d: Diagnostic): Record<string, unknown> {
  const level = d.level === 'error' ? 'Error' : d.level === 'warning' ? 'Warning' : 'Info';
  const origin = d.resource ? `${d.resource.kind} ${d.resource.namespace}/${d.resource.name}` : undefined;
  const reference = d.file ? `${d.file}${d.line ? `:${d.line}` : ''}` : undefined;
  return JSON.parse(JSON.stringify({ code: d.code, level, origin, reference, path: d.path, message: d.message, hint: d.hint, documentationUrl: documentationUrl(d.code) }));
}

export function render(diags: readonly Diagnostic[], format: 'log' | 'json' | 'yaml'): string {
  if (format === 'json') return `${JSON.stringify(diags.map(toMessage), null, '\t')}\n`;
  if (format === 'yaml') return diags.length ? stringify(diags.map(toMessage), KUBECTL_YAML) : '[]\n';
  return diags.map((d) => `${formatDiagnostic(d)}\n`).join('');
}

export function listCodes(): string {
  const rows = Object.values(CODES).sort((a, b) => a.code.localeCompare(b.code));
  return rows.map((c) => `${c.code}  ${c.level.padEnd(7)}  ${c.name}\n    ${c.description}\n`).join('');
}
