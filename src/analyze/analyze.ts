// analyze(): load-time validation findings plus cross-resource analyzers, deduplicated and sorted.
// PURE over already-loaded resources; the CLI does the I/O and the exit code.
import type { Resource } from '../config/resource.ts';
import { CODES } from '../model/codes.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import { analyzeDestinationRules } from './analyzers/destination-rules.ts';
import { analyzeMesh } from './analyzers/mesh.ts';
import { analyzePolicies } from './analyzers/policies.ts';
import { analyzeRoutes } from './analyzers/routes.ts';
import { analyzeServiceEntries } from './analyzers/service-entries.ts';
import { buildContext } from './context.ts';
import type { AnalyzeOptions } from './context.ts';

export const ANALYZERS = [analyzeServiceEntries, analyzeDestinationRules, analyzeRoutes, analyzePolicies, analyzeMesh];

// analyze reports host+port claims across every ServiceEntry itself; compile's view is per waypoint.
const REPORTED_BY_ANALYZERS: ReadonlySet<string> = new Set([CODES.DuplicateHostPort.code, CODES.WaypointSelection.code]);

/**
 * `rejected`: resources that failed a validation rule but are well shaped; analyzers see them (a
 * VirtualService may name a Gateway whose port names clash), compile does not.
 */
export function analyze(resources: readonly Resource[], loadDiagnostics: readonly Diagnostic[], options: AnalyzeOptions = {}, rejected: readonly Resource[] = []): Diagnostic[] {
  const ctx = buildContext(resources, options, rejected);
  const found = [
    ...loadDiagnostics,
    ...ctx.compileDiagnostics.filter((d) => !REPORTED_BY_ANALYZERS.has(d.code)),
    ...ANALYZERS.flatMap((a) => a(ctx)),
  ];
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const d of found) {
    const k = JSON.stringify([d.code, d.resource, d.path, d.message]);
    if (!seen.has(k)) { seen.add(k); out.push(d); }
  }
  return out.sort(byPlace);
}

const LEVEL_ORDER = { error: 0, warning: 1, info: 2 };

function byPlace(a: Diagnostic, b: Diagnostic): number {
  return LEVEL_ORDER[a.level] - LEVEL_ORDER[b.level]
    || (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0) || a.code.localeCompare(b.code);
}
