// The migration report: resources in -> out, what was created, dropped (and why), not carried over,
// the analysis of the output and, with --verify, the request table.
import { formatDiagnostic } from '../model/diagnostic.ts';
import { CODES } from '../model/codes.ts';
import type { MigrateResult } from './migrate.ts';

export function formatReport(r: MigrateResult): string {
  const lines = [`egressway migrate: ${r.inputCount} resource${r.inputCount === 1 ? '' : 's'} \u2192 ${r.outputCount}`, '', 'Created:'];
  for (const c of r.created) lines.push(`  ${c}`);
  lines.push('', 'Dropped (no longer needed in ambient):');
  for (const d of r.dropped) lines.push(`  ${d.what}: ${d.why}`);
  if (r.dropped.length === 0) lines.push('  (nothing)');
  lines.push('', 'Not carried over:');
  for (const w of r.warnings) lines.push(`  Warning [${CODES.MigrationNotCarriedOver.code}] ${w.what}: ${w.why}`);
  if (r.warnings.length === 0) lines.push('  (nothing)');
  lines.push('', 'Analysis of the output:');
  for (const d of r.analysis) lines.push(`  ${formatDiagnostic(d)}`);
  if (r.analysis.length === 0) lines.push('  \u2714 no errors or warnings');
  if (r.verify) {
    const bad = r.verify.filter((v) => !v.same);
    lines.push('', `Verify: ${r.verify.length} requests, ${bad.length ? `${bad.length} differ` : 'old and new agree on every one'}`);
    for (const v of r.verify) lines.push(`  ${v.same ? 'same' : `Error [${CODES.MigrationVerifyMismatch.code}] differs`}  ${v.target}  from ${v.caller}: old ${v.old}, new ${v.now}`);
  }
  return `${lines.join('\n')}\n`;
}
