// Kubernetes metav1.LabelSelector, as Gateway API's `allowedRoutes.namespaces.selector` uses it.
import type { Reporter } from '../diag.ts';
import { checkLabelValue, checkQualifiedName } from '../names.ts';
import { s } from '../schema.ts';
import type { Path } from '../schema.ts';

export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: LabelSelectorOperator;
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

export const labelSelectorSchema = s.object({
  matchLabels: s.map(s.string()),
  matchExpressions: s.array(
    s.object(
      { key: s.string(), operator: s.string(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: s.array(s.string()) },
      { required: ['key', 'operator'] },
    ),
  ),
});

/** The API server's LabelSelector rules: label syntax, and `values` only (and always) for In/NotIn. */
export function validateLabelSelector(sel: LabelSelector, path: Path, report: Reporter): void {
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) {
    const problem = checkQualifiedName(key) ?? checkLabelValue(value);
    if (problem) report.error([...path, 'matchLabels', key], problem, 'fix the label key or value syntax');
  }
  (sel.matchExpressions ?? []).forEach((expr, i) => validateRequirement(expr, [...path, 'matchExpressions', i], report));
}

function validateRequirement(expr: LabelSelectorRequirement, path: Path, report: Reporter): void {
  const problem = checkQualifiedName(expr.key);
  if (problem) report.error([...path, 'key'], problem, 'use a label key such as kubernetes.io/metadata.name');
  const count = expr.values?.length ?? 0;
  const needsValues = expr.operator === 'In' || expr.operator === 'NotIn';
  if (needsValues && count === 0) {
    report.error([...path, 'values'], `values must be non-empty when operator is ${expr.operator}`, 'list at least one value, or use operator Exists');
  } else if (!needsValues && count > 0) {
    report.error([...path, 'values'], `values must be empty when operator is ${expr.operator}`, 'remove values, or use operator In');
  }
}
