// The pipeline every kind's validator shares: schema walk, metadata rules, then the kind's own rules.
import type { Diagnostic } from '../../model/diagnostic.ts';
import { createReporter } from '../diag.ts';
import type { Reporter } from '../diag.ts';
import { validateMetadata } from '../metadata.ts';
import type { Resource } from '../resource.ts';
import { checkSchema, RAW_SPEC, withoutNulls } from '../schema.ts';
import type { Issue, Schema } from '../schema.ts';

export interface ValidationOptions {
  /**
   * istiod's PILOT_ENABLE_IP_AUTOALLOCATE (default true): ServiceEntries without `addresses` get a
   * VIP, so TCP ports need no addresses. Only changes the IST0134 warning.
   */
  readonly ipAutoAllocate?: boolean;
}

export interface KindShape {
  readonly spec: Schema;
  readonly status?: Schema;
}

export type Rules<Spec> = (spec: Spec, r: Resource<Spec>, report: Reporter, options: ValidationOptions) => void;

/**
 * Rules run only when the schema walk found no errors, so they can trust the wire types (as an
 * admission webhook only sees objects that passed the CRD's structural schema). Unknown-field
 * warnings do not stop them.
 */
/**
 * Resources whose spec passed the schema walk, so their wire type can be trusted even when a rule
 * failed. `analyze` keeps them for cross-resource checks (a Gateway with a duplicate port name is
 * still a Gateway a VirtualService may name), as istioctl does; compile never sees them.
 */
export const WELL_SHAPED: WeakSet<Resource> = new WeakSet();

export function validateKind<Spec>(r: Resource, shape: KindShape, rules: Rules<Spec>, options: ValidationOptions = {}): Diagnostic[] {
  const report = createReporter(r);
  // An absent spec is walked as an empty one, so its required fields are reported.
  const written = RAW_SPEC.has(r) ? RAW_SPEC.get(r) : r.spec;
  const issues: Issue[] = [...checkSchema(written ?? {}, shape.spec, ['spec']), ...checkSchema(r.status, shape.status ?? { type: 'any' }, ['status'])];
  report.add(issues);
  validateMetadata(r, report);
  if (!issues.some((i) => i.level === 'error')) {
    WELL_SHAPED.add(r);
    // Pruned again: resources may come from elsewhere than parseDocuments (the Kubernetes source).
    const spec = (withoutNulls(r.spec) ?? {}) as Spec;
    rules(spec, r as Resource<Spec>, report, options);
  }
  return report.diagnostics;
}

export function portInRange(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

export function portRangeMessage(n: number): string {
  return `port number ${n} must be in the range 1..65535`;
}
