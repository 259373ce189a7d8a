// Kubernetes label selectors (matchLabels AND matchExpressions), as allowedRoutes and
// serviceEntryVisibility use them. An empty selector matches everything, as in Kubernetes.
import type { LabelSelector } from '../config/kinds/label-selector.ts';

export type { LabelSelector };

export function matchSelector(sel: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const inValues = has && (e.values ?? []).includes(labels[e.key]!);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
