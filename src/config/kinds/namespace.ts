// core/v1 Namespace. Only its labels matter to Egressway: `istio.io/use-waypoint` enrols every
// ServiceEntry in it, and `kubernetes.io/metadata.name` and others feed allowedRoutes selectors.
import type { Diagnostic } from '../../model/diagnostic.ts';
import type { Resource } from '../resource.ts';
import { s } from '../schema.ts';
import { validateKind } from './common.ts';

export interface NamespaceSpec {
  readonly finalizers?: readonly string[];
}

export interface NamespaceStatus {
  readonly phase?: string;
}

const shape = {
  spec: s.object({ finalizers: s.array(s.string()) }),
  status: s.object({ phase: s.string() }, { open: true }),
};

export function validateNamespace(r: Resource): Diagnostic[] {
  // Name and label syntax (checked for every kind) is all there is to a Namespace.
  return validateKind<NamespaceSpec>(r, shape, () => {});
}

/**
 * The labels a Namespace selector matches. The API server sets `kubernetes.io/metadata.name` on
 * every Namespace (and overwrites any other value); files rarely carry it, so it is added here.
 */
export function namespaceSelectorLabels(ns: Resource): Readonly<Record<string, string>> {
  return { ...ns.metadata.labels, 'kubernetes.io/metadata.name': ns.metadata.name };
}
