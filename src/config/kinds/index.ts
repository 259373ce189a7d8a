// The kinds Egressway reads, keyed by `group/Kind`. Anything else is ignored with a warning (a
// directory of manifests usually holds Deployments and Services too); a known kind at a version we
// do not read is an error, because silently ignoring a ServiceEntry would change what is allowed.
import { CODES } from '../../model/codes.ts';
import type { Diagnostic } from '../../model/diagnostic.ts';
import { diagnosticAt } from '../diag.ts';
import type { Resource } from '../resource.ts';
import type { ValidationOptions } from './common.ts';
import { validateAuthorizationPolicy } from './authorization-policy.ts';
import { validateGateway, validateGatewayClass } from './gateway.ts';
import { validateNamespace } from './namespace.ts';
import { validateServiceEntry } from './service-entry.ts';
import { validateVirtualService } from './virtual-service.ts';
import { validateDestinationRule } from './destination-rule.ts';
import { validateHTTPRoute } from './http-route.ts';
import { validateRequestAuthentication } from './request-authentication.ts';
import { validateReferenceGrant } from './reference-grant.ts';

export type { ValidationOptions } from './common.ts';

export interface KindInfo {
  readonly group: string;
  readonly kind: string;
  /** Served versions, newest first. */
  readonly versions: readonly string[];
  readonly clusterScoped: boolean;
  readonly validate: (r: Resource, options: ValidationOptions) => Diagnostic[];
}

const KINDS: readonly KindInfo[] = [
  { group: '', kind: 'Namespace', versions: ['v1'], clusterScoped: true, validate: validateNamespace },
  { group: 'gateway.networking.k8s.io', kind: 'Gateway', versions: ['v1', 'v1beta1'], clusterScoped: false, validate: validateGateway },
  { group: 'gateway.networking.k8s.io', kind: 'GatewayClass', versions: ['v1', 'v1beta1'], clusterScoped: true, validate: validateGatewayClass },
  { group: 'networking.istio.io', kind: 'ServiceEntry', versions: ['v1', 'v1beta1', 'v1alpha3'], clusterScoped: false, validate: validateServiceEntry },
  { group: 'security.istio.io', kind: 'AuthorizationPolicy', versions: ['v1', 'v1beta1'], clusterScoped: false, validate: validateAuthorizationPolicy },
  { group: 'networking.istio.io', kind: 'VirtualService', versions: ['v1', 'v1beta1', 'v1alpha3'], clusterScoped: false, validate: validateVirtualService },
  { group: 'networking.istio.io', kind: 'DestinationRule', versions: ['v1', 'v1beta1', 'v1alpha3'], clusterScoped: false, validate: validateDestinationRule },
  { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', versions: ['v1', 'v1beta1'], clusterScoped: false, validate: validateHTTPRoute },
  { group: 'security.istio.io', kind: 'RequestAuthentication', versions: ['v1', 'v1beta1'], clusterScoped: false, validate: validateRequestAuthentication },
  { group: 'gateway.networking.k8s.io', kind: 'ReferenceGrant', versions: ['v1beta1', 'v1alpha2'], clusterScoped: false, validate: validateReferenceGrant },
];

export const REGISTRY: ReadonlyMap<string, KindInfo> = new Map(KINDS.map((k) => [`${k.group}/${k.kind}`, k]));

export function lookupKind(group: string, kind: string): KindInfo | undefined {
  return REGISTRY.get(`${group}/${kind}`);
}

export interface ValidationResult {
  readonly diagnostics: Diagnostic[];
  /** False for unknown kinds and versions: the resource must not be used. */
  readonly known: boolean;
}

export function validateResource(r: Resource, options: ValidationOptions = {}): ValidationResult {
  const info = lookupKind(r.group, r.kind);
  if (!info) {
    const message = `${r.kind} (${r.apiVersion}) is not a kind Egressway reads; ignored`;
    const hint = `Egressway reads ${[...REGISTRY.keys()].map((k) => k.replace(/^\//, '')).join(', ')}`;
    return { known: false, diagnostics: [at(r, ['kind'], CODES.UnknownKind.code, 'warning', message, hint)] };
  }
  if (!info.versions.includes(r.version)) {
    const message = `${r.kind} version ${r.apiVersion} is not supported (supported: ${info.versions.join(', ')})`;
    const hint = `use apiVersion ${info.group ? `${info.group}/` : ''}${info.versions[0]}`;
    return { known: false, diagnostics: [at(r, ['apiVersion'], CODES.UnsupportedVersion.code, 'error', message, hint)] };
  }
  return { known: true, diagnostics: info.validate(r, options) };
}

function at(r: Resource, path: string[], code: string, level: 'error' | 'warning', message: string, hint: string): Diagnostic {
  return diagnosticAt(r, { code, level, path, message, hint });
}
