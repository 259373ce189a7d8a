// Gateway API ReferenceGrant (gateway.networking.k8s.io v1beta1): lets resources of the `from`
// kinds in the `from` namespaces reference objects of the `to` kinds in the grant's own namespace.
// At the waypoint it gates cross-namespace HTTPRoute backendRefs, as istiod's BackendAllowed does.
import type { Diagnostic } from '../../model/diagnostic.ts';
import type { Resource } from '../resource.ts';
import { s } from '../schema.ts';
import { validateKind } from './common.ts';
import type { Rules } from './common.ts';

export interface ReferenceGrantFrom {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
}

export interface ReferenceGrantTo {
  readonly group: string;
  readonly kind: string;
  /** Absent: every object of the kind in the grant's namespace. */
  readonly name?: string;
}

export interface ReferenceGrantSpec {
  readonly from?: readonly ReferenceGrantFrom[];
  readonly to?: readonly ReferenceGrantTo[];
}

const shape = {
  spec: s.object({
    from: s.array(s.object({ group: s.string(), kind: s.string(), namespace: s.string() }, { required: ['group', 'kind', 'namespace'] })),
    to: s.array(s.object({ group: s.string(), kind: s.string(), name: s.string() }, { required: ['group', 'kind'] })),
  }, { required: ['from', 'to'] }),
  status: s.object({}, { open: true }),
};

// The CRD's bounds: 1..16 entries on each side.
const rules: Rules<ReferenceGrantSpec> = (spec, _r, report) => {
  for (const side of ['from', 'to'] as const) {
    const n = spec[side]?.length ?? 0;
    if (n < 1 || n > 16) report.error(['spec', side], `spec.${side} must have between 1 and 16 items, found ${n}`, n ? 'split the grant' : `add a ${side} entry`);
  }
  spec.from?.forEach((f, i) => { if (!f.kind) report.error(['spec', 'from', i, 'kind'], 'kind must not be empty', 'name the referring kind, e.g. HTTPRoute'); });
  spec.to?.forEach((t, i) => { if (!t.kind) report.error(['spec', 'to', i, 'kind'], 'kind must not be empty', 'name the referenced kind, e.g. Service'); });
};

export function validateReferenceGrant(r: Resource): Diagnostic[] {
  return validateKind<ReferenceGrantSpec>(r, shape, rules);
}
