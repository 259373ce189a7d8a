// The one catalogue of diagnostic codes. IST codes mean what istioctl analyze means by them so
// users can search them; EGW codes are Egressway's own.

export interface CodeInfo {
  readonly code: string;
  readonly name: string;
  readonly level: 'error' | 'warning' | 'info';
  readonly description: string;
}

export const CODES = {
  ReferencedResourceNotFound: { code: 'IST0101', name: 'ReferencedResourceNotFound', level: 'error', description: 'A resource references another resource that does not exist.' },
  SchemaValidationError: { code: 'IST0106', name: 'SchemaValidationError', level: 'error', description: 'The resource fails Istio\'s validation rules.' },
  SchemaWarning: { code: 'IST0133', name: 'SchemaWarning', level: 'warning', description: 'The resource passes validation but has a likely mistake.' },
  ConflictingMeshGatewayVirtualServiceHosts: { code: 'IST0109', name: 'ConflictingMeshGatewayVirtualServiceHosts', level: 'error', description: 'Two VirtualServices bound to the mesh define the same host; only one of them is used.' },
  VirtualServiceDestinationPortSelectorRequired: { code: 'IST0112', name: 'VirtualServiceDestinationPortSelectorRequired', level: 'error', description: 'A gateway-bound VirtualService routes to a host with several ports without naming one.' },
  IneffectiveSelector: { code: 'IST0166', name: 'IneffectiveSelector', level: 'warning', description: 'A policy selector picks the pods of a Kubernetes Gateway (or waypoint), which ignores selectors; use targetRefs.' },
  NegativeConditionStatus: { code: 'IST0171', name: 'NegativeConditionStatus', level: 'warning', description: 'A status condition of the resource is False (for example istio.io/WaypointBound).' },
  ServiceEntryAddressesRequired: { code: 'IST0134', name: 'ServiceEntryAddressesRequired', level: 'warning', description: 'A ServiceEntry with TCP ports and no addresses cannot be matched by address.' },
  ConflictingServiceEntryProtocol: { code: 'IST0177', name: 'ConflictingServiceEntryProtocol', level: 'warning', description: 'Two ServiceEntries declare the same host and port with different protocols.' },
  YamlSyntaxError: { code: 'EGW0001', name: 'YamlSyntaxError', level: 'error', description: 'A file is not valid YAML or JSON.' },
  UnknownKind: { code: 'EGW0002', name: 'UnknownKind', level: 'warning', description: 'A document has a kind Egressway does not read; it is ignored.' },
  UnknownField: { code: 'EGW0003', name: 'UnknownField', level: 'warning', description: 'A field is not part of the resource\'s schema; it is ignored.' },
  MalformedResource: { code: 'EGW0004', name: 'MalformedResource', level: 'error', description: 'A document lacks apiVersion, kind or metadata.name.' },
  DuplicateResource: { code: 'EGW0005', name: 'DuplicateResource', level: 'error', description: 'Two documents define the same kind, namespace and name.' },
  WaypointSelection: { code: 'EGW0010', name: 'WaypointSelection', level: 'error', description: 'This process cannot tell which waypoint Gateway it is.' },
  ServiceEntryNotBound: { code: 'EGW0011', name: 'ServiceEntryNotBound', level: 'info', description: 'A ServiceEntry is not bound to any waypoint; its traffic would bypass L7 policy.' },
  DuplicateHostPort: { code: 'EGW0012', name: 'DuplicateHostPort', level: 'warning', description: 'Two ServiceEntries bound to this waypoint claim the same host and port; the first by namespace/name wins.' },
  WildcardWithDnsResolution: { code: 'EGW0013', name: 'WildcardWithDnsResolution', level: 'warning', description: 'A wildcard host cannot be resolved with DNS resolution.' },
  PortClash: { code: 'EGW0020', name: 'PortClash', level: 'error', description: 'Two listeners were asked to use the same port.' },
  UnreadablePath: { code: 'EGW0021', name: 'UnreadablePath', level: 'error', description: 'A config path cannot be read.' },
  UnsupportedVersion: { code: 'EGW0006', name: 'UnsupportedVersion', level: 'error', description: 'A document has a kind Egressway reads but an apiVersion it does not.' },
  NoServerCertificateVerificationDestinationLevel: { code: 'IST0128', name: 'NoServerCertificateVerificationDestinationLevel', level: 'warning', description: 'A DestinationRule originates TLS (SIMPLE/MUTUAL) without caCertificates, so the server certificate is checked only against the system CAs, or not at all.' },
  NoServerCertificateVerificationPortLevel: { code: 'IST0129', name: 'NoServerCertificateVerificationPortLevel', level: 'warning', description: 'A DestinationRule portLevelSettings entry originates TLS without caCertificates.' },
  VirtualServiceUnreachableRule: { code: 'IST0130', name: 'VirtualServiceUnreachableRule', level: 'warning', description: 'A VirtualService rule is never used: an earlier rule matches everything it matches.' },
  VirtualServiceIneffectiveMatch: { code: 'IST0131', name: 'VirtualServiceIneffectiveMatch', level: 'info', description: 'A VirtualService match is never used: an earlier rule matches everything it matches.' },
  DestinationRuleSubsetNotSelectPods: { code: 'IST0173', name: 'DestinationRuleSubsetNotSelectPods', level: 'error', description: 'A DestinationRule subset selects no endpoint of its host, so traffic to it fails with 503 UH.' },
  UnknownDestinationRuleHost: { code: 'IST0174', name: 'UnknownDestinationRuleHost', level: 'warning', description: 'A DestinationRule host matches no ServiceEntry (or Kubernetes Service).' },
  TargetNotBound: { code: 'EGW0014', name: 'TargetNotBound', level: 'warning', description: 'A policy or route targets a ServiceEntry that is bound to no waypoint, so it is never applied.' },
  L7FieldsOnOpaquePort: { code: 'EGW0015', name: 'L7FieldsOnOpaquePort', level: 'warning', description: 'An AuthorizationPolicy rule uses HTTP fields for a TCP or TLS port: in ALLOW it never matches, in DENY it always does.' },
  TargetPortWithoutTlsOrigination: { code: 'EGW0016', name: 'TargetPortWithoutTlsOrigination', level: 'warning', description: 'A ServiceEntry HTTP port has targetPort 443 but no DestinationRule originates TLS, so plain HTTP is sent to a TLS port.' },
  ShadowedRouteRule: { code: 'EGW0017', name: 'ShadowedRouteRule', level: 'warning', description: 'An HTTPRoute rule repeats a match of an earlier rule for the same parent, so it is never used.' },
  VirtualServiceNotForWaypoint: { code: 'EGW0019', name: 'VirtualServiceNotForWaypoint', level: 'warning', description: 'A VirtualService names a host a waypoint serves, but the waypoint does not use it: it is bound only to other gateways (not mesh), or its exportTo hides it from the waypoint\'s namespace.' },
  DenyAll: { code: 'EGW0018', name: 'DenyAll', level: 'warning', description: 'A DENY rule has no condition, so it blocks every request to its target.' },
  MigrationNotCarriedOver: { code: 'EGW0030', name: 'MigrationNotCarriedOver', level: 'warning', description: 'egressway migrate could not carry part of the old config over; the report says what and why.' },
  MigrationVerifyMismatch: { code: 'EGW0031', name: 'MigrationVerifyMismatch', level: 'error', description: 'migrate --verify found a request the old and the new config treat differently.' },
} as const satisfies Record<string, CodeInfo>;

export type CodeName = keyof typeof CODES;
