// Istio ServiceEntry (networking.istio.io v1, v1beta1, v1alpha3). The wire type mirrors the YAML;
// defaults (location MESH_EXTERNAL, resolution NONE) are exported rather than filled in, so what was
// written stays distinguishable from what was implied. The rules live in service-entry-rules.ts.
import type { Diagnostic } from '../../model/diagnostic.ts';
import type { Resource } from '../resource.ts';
import { s } from '../schema.ts';
import { validateKind } from './common.ts';
import type { ValidationOptions } from './common.ts';
import { serviceEntryRules } from './service-entry-rules.ts';

export type Location = 'MESH_EXTERNAL' | 'MESH_INTERNAL';
export type Resolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'DYNAMIC_DNS';

export const LOCATIONS: readonly Location[] = ['MESH_EXTERNAL', 'MESH_INTERNAL'];
export const RESOLUTIONS: readonly Resolution[] = ['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS'];
/** Proto3 enum zero values: what an unset field means to Istio. */
export const DEFAULT_LOCATION: Location = 'MESH_EXTERNAL';
export const DEFAULT_RESOLUTION: Resolution = 'NONE';

export interface ServiceEntrySpec {
  readonly hosts?: readonly string[];
  readonly addresses?: readonly string[];
  readonly ports?: readonly ServicePort[];
  readonly location?: Location;
  readonly resolution?: Resolution;
  readonly endpoints?: readonly WorkloadEntry[];
  readonly workloadSelector?: { readonly labels?: Readonly<Record<string, string>> };
  readonly exportTo?: readonly string[];
  readonly subjectAltNames?: readonly string[];
}

export interface ServicePort {
  readonly number: number;
  /** Case-insensitive; empty means "sniff". See parseProtocol. */
  readonly protocol?: string;
  readonly name: string;
  /** Defaults to `number`. */
  readonly targetPort?: number;
}

/** An inline endpoint (Istio's WorkloadEntry message). */
export interface WorkloadEntry {
  /** IP, DNS name (DNS resolutions) or unix:///path (STATIC). */
  readonly address?: string;
  /** Port name (of the ServiceEntry) -> port on this endpoint. */
  readonly ports?: Readonly<Record<string, number>>;
  readonly labels?: Readonly<Record<string, string>>;
  readonly network?: string;
  readonly locality?: string;
  readonly weight?: number;
  readonly serviceAccount?: string;
}

const portSchema = s.object({ number: s.integer(), protocol: s.string(), name: s.string(), targetPort: s.integer() });

const endpointSchema = s.object({
  address: s.string(),
  ports: s.map(s.integer()),
  labels: s.map(s.string()),
  network: s.string(),
  locality: s.string(),
  weight: s.integer(),
  serviceAccount: s.string(),
});

const shape = {
  spec: s.object({
    hosts: s.array(s.string()),
    addresses: s.array(s.string()),
    ports: s.array(portSchema),
    location: s.string(LOCATIONS),
    resolution: s.string(RESOLUTIONS),
    endpoints: s.array(endpointSchema),
    workloadSelector: s.object({ labels: s.map(s.string()) }),
    exportTo: s.array(s.string()),
    subjectAltNames: s.array(s.string()),
  }),
  status: s.object({}, { open: true }),
};

export function validateServiceEntry(r: Resource, options: ValidationOptions = {}): Diagnostic[] {
  return validateKind<ServiceEntrySpec>(r, shape, serviceEntryRules, options);
}
