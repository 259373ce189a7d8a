// The parsed form of one YAML/JSON document. Wire types (config/kinds/*) describe `spec`; only
// compile/ turns resources into snapshot types.
import type { Diagnostic } from '../model/diagnostic.ts';

export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface Metadata {
  readonly name: string;
  /** Defaults to `default`, as kubectl does. Cluster-scoped kinds (Namespace, GatewayClass) use ''. */
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly creationTimestamp?: string;
}

export interface Resource<Spec = unknown> {
  readonly apiVersion: string;
  /** API group, '' for the core group (Namespace). */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly metadata: Metadata;
  readonly spec: Spec;
  readonly status?: unknown;
  /** Where the document starts. */
  readonly source: SourceLocation;
  /** Where a field path (relative to the document root) is; the nearest existing ancestor if absent. */
  locate(path: readonly (string | number)[]): SourceLocation;
}

export interface LoadResult {
  readonly resources: readonly Resource[];
  readonly diagnostics: readonly Diagnostic[];
  /** Every file read, for the watcher. */
  readonly files: readonly string[];
  /**
   * Known resources that failed a validation rule but have a well-formed spec: never compiled,
   * only `analyze` reads them (cross-resource references, as istioctl keeps invalid objects).
   */
  readonly rejected?: readonly Resource[];
}
