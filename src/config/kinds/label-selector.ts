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

/**
 * Istio's validateWorkloadSelector (and ValidateAlphaWorkloadSelector): no empty keys, no `*`, label
 * syntax, and a warning when no label is given, since the selector then picks every workload.
 * `what` prefixes the warning as Istio does for ServiceEntry ("service entry: ...").
 */
export function checkWorkloadSelector(labels: Readonly<Record<string, string>> | undefined, path: Path, report: Reporter, field = 'matchLabels', what?: string): void {
  const entries = Object.entries(labels ?? {});
  for (const [k, v] of entries) {
    const p = [...path, field, k];
    if (k === '') report.error(p, `empty key is not supported in selector: "${k}=${v}"`, 'remove the empty key');
    else if (k.includes('*') || v.includes('*')) report.error(p, `wildcard is not supported in selector: "${k}=${v}"`, 'select exact label values');
    else {
      const problem = checkQualifiedName(k) ?? checkLabelValue(v);
      if (problem) report.error(p, problem, 'fix the label key or value syntax');
    }
  }
  if (entries.length === 0) {
    const message = what ? `${what}: workload selector specified without labels, will be applied to all services in namespace` : 'workload selector specified without labels';
    report.warn(path, message, `add ${field}, or remove the selector`);
  }
}
