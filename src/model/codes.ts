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
} as const satisfies Record<string, CodeInfo>;

export type CodeName = keyof typeof CODES;
