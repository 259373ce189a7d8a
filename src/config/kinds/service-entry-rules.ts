// ServiceEntry rules: Istio's ValidateServiceEntry (pkg/config/validation) plus the CRD's CEL rules
// and the DYNAMIC_DNS rules, as listed in the reference spec §6.1. Messages are Istio's where Istio
// has one, so users can search them. An empty list is treated like an absent one, as proto3 does.
import { CODES } from '../../model/codes.ts';
import type { Reporter } from '../diag.ts';
import { checkWorkloadSelector as checkSelectorLabels } from './label-selector.ts';
import { checkFqdn, checkIpOrCidr, checkLabelValue, checkQualifiedName, checkWildcardDomain, isDns1123Label, isIpAddress, isPartialWildcard } from '../names.ts';
import type { Resource } from '../resource.ts';
import { suggest } from '../schema.ts';
import type { Path } from '../schema.ts';
import { portInRange, portRangeMessage } from './common.ts';
import type { Rules, ValidationOptions } from './common.ts';
import { isHttpProtocol, isTcpProtocol, isTlsProtocol, parseProtocol } from './protocol.ts';
import type { Resolution, ServiceEntrySpec, WorkloadEntry } from './service-entry.ts';

const UNIX_PREFIX = 'unix://';
const USE_WAYPOINT = 'istio.io/use-waypoint';
const AUTOALLOCATE = 'networking.istio.io/enable-autoallocate-ip';
const DYNAMIC_DNS_PROTOCOLS = ['HTTP', 'HTTP2', 'GRPC', 'TLS'];
const PROTOCOL_NAMES = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-Web', 'HTTP2', 'HTTP_PROXY', 'TCP', 'TLS', 'UDP', 'Mongo', 'Redis', 'MySQL'];

export const serviceEntryRules: Rules<ServiceEntrySpec> = (spec, r, report, options) => {
  const resolution = spec.resolution ?? 'NONE';
  checkWorkloadSelector(spec, report);
  checkHosts(spec, resolution, report);
  checkAddresses(spec, resolution, report);
  const portNames = checkPorts(spec, report);
  checkResolution(spec, resolution, portNames, r, report);
  checkMultipleHosts(spec, resolution, report);
  checkExportTo(spec.exportTo ?? [], r.metadata.namespace, report);
  warnAddressesRequired(spec, resolution, r, report, options);
  warnSharedAddress(spec, resolution, report);
};

const has = (list: readonly unknown[] | undefined): boolean => (list?.length ?? 0) > 0;

function checkWorkloadSelector(spec: ServiceEntrySpec, report: Reporter): void {
  if (spec.workloadSelector == null) return;
  checkSelectorLabels(spec.workloadSelector.labels, ['spec', 'workloadSelector'], report, 'labels', 'service entry');
  if (has(spec.endpoints)) {
    report.error(['spec', 'endpoints'], 'only one of WorkloadSelector or Endpoints is allowed in Service Entry', 'remove endpoints, or remove workloadSelector');
  }
}

function checkHosts(spec: ServiceEntrySpec, resolution: Resolution, report: Reporter): void {
  const hosts = spec.hosts ?? [];
  if (hosts.length === 0) report.error(['spec', 'hosts'], 'service entry must have at least one host', 'add hosts, e.g. [api.example.com]');
  if (hosts.length > 256) report.error(['spec', 'hosts'], `too many hosts: ${hosts.length} (max 256)`, 'split the hosts across ServiceEntries');
  hosts.forEach((host, i) => {
    const path = ['spec', 'hosts', i];
    if (host === '*') return report.error(path, 'invalid host *', 'list the hosts; "*.example.com" covers a domain');
    const problem = checkWildcardDomain(host);
    if (problem) report.error(path, problem, 'use a DNS name, optionally with a leading "*." label');
    // DYNAMIC_DNS rejects any host that is not "*."-prefixed (checkDynamicDns), so no warning there.
    else if (isPartialWildcard(host) && resolution !== 'DYNAMIC_DNS') {
      report.warn(path, `partial wildcard ${JSON.stringify(host)} not allowed: "*" must be a whole leading label`, `use "*.${host.replace(/^\*-?/, '')}" or list the hosts`);
    }
  });
}

function checkAddresses(spec: ServiceEntrySpec, resolution: Resolution, report: Reporter): void {
  const addresses = spec.addresses ?? [];
  addresses.forEach((address, i) => {
    const problem = checkIpOrCidr(address);
    if (problem) report.error(['spec', 'addresses', i], problem, 'use an IP (240.240.0.10) or a CIDR block (10.0.0.0/24)');
  });
  const cidr = addresses.findIndex((a) => a.includes('/'));
  if (cidr >= 0 && resolution !== 'NONE' && resolution !== 'STATIC') {
    report.error(['spec', 'addresses', cidr], 'CIDR addresses are allowed only for NONE/STATIC resolution types', 'use single IPs, or resolution NONE or STATIC');
  }
}

/** Returns the declared port names, which endpoint `ports` keys must use. */
function checkPorts(spec: ServiceEntrySpec, report: Reporter): Set<string> {
  const names = new Set<string>();
  const numbers = new Set<number>();
  (spec.ports ?? []).forEach((port, i) => {
    const path = ['spec', 'ports', i];
    const name = port.name ?? '';
    const number = port.number ?? 0;
    if (names.has(name)) report.error([...path, 'name'], `service entry port name ${JSON.stringify(name)} already defined`, 'give each port a unique name');
    if (numbers.has(number)) report.error([...path, 'number'], `service entry port ${number} already defined`, 'declare each port number once');
    names.add(name);
    numbers.add(number);
    if (!isDns1123Label(name)) report.error([...path, 'name'], `invalid port name: ${name}`, 'use a lower-case DNS label such as http or https-443');
    if (parseProtocol(port.protocol) === 'UNSUPPORTED') {
      const guess = suggest(port.protocol ?? '', PROTOCOL_NAMES);
      report.error([...path, 'protocol'], `unsupported protocol: ${port.protocol}`, guess ? `did you mean "${guess}"?` : `use one of ${PROTOCOL_NAMES.join(', ')}, or omit it`);
    }
    if (!portInRange(number)) report.error([...path, 'number'], portRangeMessage(number), 'use a port between 1 and 65535');
    if (port.targetPort != null && !portInRange(port.targetPort)) {
      report.error([...path, 'targetPort'], portRangeMessage(port.targetPort), 'use a port between 1 and 65535, or omit it to use number');
    }
  });
  return names;
}

function checkResolution(spec: ServiceEntrySpec, resolution: Resolution, portNames: Set<string>, r: Resource, report: Reporter): void {
  switch (resolution) {
    case 'NONE':
      if (has(spec.endpoints)) report.error(['spec', 'endpoints'], 'no endpoints should be provided for resolution type none', 'remove endpoints, or use resolution STATIC or DNS');
      if (spec.workloadSelector != null) report.warn(['spec', 'workloadSelector'], 'workloadSelector should not be set when resolution mode is NONE', 'use resolution STATIC to send traffic to the selected workloads');
      return;
    case 'STATIC':
      return checkEndpoints(spec, resolution, portNames, report);
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      checkDnsHosts(spec, resolution, report);
      if ((spec.endpoints?.length ?? 0) > 1 && resolution === 'DNS_ROUND_ROBIN') {
        report.error(['spec', 'endpoints', 1], 'DNS_ROUND_ROBIN mode cannot have multiple endpoints', 'keep one endpoint, or use resolution DNS');
      }
      return checkEndpoints(spec, resolution, portNames, report);
    case 'DYNAMIC_DNS':
      return checkDynamicDns(spec, r, report);
  }
}

function checkDnsHosts(spec: ServiceEntrySpec, resolution: Resolution, report: Reporter): void {
  if (has(spec.endpoints)) return;
  (spec.hosts ?? []).forEach((host, i) => {
    if (checkFqdn(host) === undefined) return;
    report.error(['spec', 'hosts', i], `hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode ${resolution}`, 'a wildcard host cannot be resolved: use resolution NONE or DYNAMIC_DNS, or add endpoints');
  });
}

function checkEndpoints(spec: ServiceEntrySpec, resolution: Resolution, portNames: Set<string>, report: Reporter): void {
  let unix = false;
  (spec.endpoints ?? []).forEach((e, i) => {
    const path = ['spec', 'endpoints', i];
    const isUnix = resolution === 'STATIC' && (e.address ?? '').startsWith(UNIX_PREFIX);
    unix ||= isUnix;
    if (isUnix) checkUnixEndpoint(e, path, report);
    else {
      checkEndpointAddress(e, resolution, path, report);
      checkEndpointPorts(e, portNames, path, report);
    }
    for (const [key, value] of Object.entries(e.labels ?? {})) {
      const problem = checkQualifiedName(key) ?? checkLabelValue(value);
      if (problem) report.error([...path, 'labels', key], problem, 'fix the label key or value syntax');
    }
  });
  if (unix && (spec.ports ?? []).length !== 1) report.error(['spec', 'ports'], 'exactly 1 service port required for unix endpoints', 'declare exactly one port');
}

function checkUnixEndpoint(e: WorkloadEntry, path: Path, report: Reporter): void {
  const address = e.address ?? '';
  const socket = address.slice(UNIX_PREFIX.length);
  if (socket === '') report.error([...path, 'address'], 'unix address must not be empty', 'use unix:///absolute/path');
  // '@' names an abstract socket; anything else must be an absolute file path.
  else if (!socket.startsWith('@') && (!socket.startsWith('/') || socket.endsWith('/'))) {
    report.error([...path, 'address'], `${socket} is not an absolute path to a file`, 'use unix:///absolute/path');
  }
  if (e.ports && Object.keys(e.ports).length > 0) report.error([...path, 'ports'], `unix endpoint ${address} must not include ports`, 'remove ports');
}

function checkEndpointAddress(e: WorkloadEntry, resolution: Resolution, path: Path, report: Reporter): void {
  const address = e.address ?? '';
  if (address === '') {
    // An endpoint with only `network` is reached through that network's gateway: Istio accepts it
    // with a warning (validateWorkloadEntry).
    if (!e.network) report.error([...path, 'address'], 'address is required', 'set address');
    else report.warn(path, `address is unset with network ${JSON.stringify(e.network)}`, 'set address, unless the endpoint is reached only through its network gateway');
  } else if (resolution === 'STATIC' && !isIpAddress(address)) {
    report.error([...path, 'address'], `${address} is not a valid IP`, 'STATIC endpoints are IPs; use resolution DNS for host names');
  } else if (resolution !== 'STATIC' && !isIpAddress(address) && checkFqdn(address) !== undefined) {
    report.error([...path, 'address'], `endpoint address ${JSON.stringify(address)} is not a valid FQDN or an IP address`, 'use an IP or a DNS name without wildcards');
  }
}

function checkEndpointPorts(e: WorkloadEntry, portNames: Set<string>, path: Path, report: Reporter): void {
  for (const [name, port] of Object.entries(e.ports ?? {})) {
    const portPath = [...path, 'ports', name];
    if (!portNames.has(name)) {
      report.error(portPath, `endpoint port ${JSON.stringify(name)} (${port}) is not defined by the service entry`, `key endpoint ports by the service entry's port names: ${[...portNames].join(', ')}`);
    }
    if (!portInRange(port)) report.error(portPath, portRangeMessage(port), 'use a port between 1 and 65535');
  }
}

function checkDynamicDns(spec: ServiceEntrySpec, r: Resource, report: Reporter): void {
  (spec.hosts ?? []).forEach((host, i) => {
    if (!host.startsWith('*.')) {
      report.error(['spec', 'hosts', i], `host ${JSON.stringify(host)} must be a wildcard ("*.example.com") for resolution mode DYNAMIC_DNS`, 'use a "*." host, or resolution DNS for a fixed host');
    }
  });
  if (has(spec.addresses)) report.error(['spec', 'addresses'], 'addresses cannot be set for resolution mode DYNAMIC_DNS', 'remove addresses; a VIP is allocated for the wildcard');
  if (has(spec.endpoints)) report.error(['spec', 'endpoints'], 'endpoints cannot be set for resolution mode DYNAMIC_DNS', 'remove endpoints; the requested host name is resolved');
  (spec.ports ?? []).forEach((port, i) => {
    if (!DYNAMIC_DNS_PROTOCOLS.includes(parseProtocol(port.protocol))) {
      report.error(['spec', 'ports', i, 'protocol'], `protocol ${port.protocol || '(unset)'} is not supported for resolution mode DYNAMIC_DNS`, `use ${DYNAMIC_DNS_PROTOCOLS.join(', ')}: the host name comes from the Host header or SNI`);
    }
  });
  // `istio.io/use-waypoint: none` is an explicit opt-out, so only a named waypoint conflicts.
  const waypoint = r.metadata.labels[USE_WAYPOINT];
  if (spec.location === 'MESH_INTERNAL' && waypoint !== undefined && waypoint !== 'none') {
    report.error(['spec', 'location'], `DYNAMIC_DNS with location MESH_INTERNAL cannot use a waypoint (label ${USE_WAYPOINT}: ${waypoint})`, 'use location MESH_EXTERNAL, or remove the label');
  }
}

// Plain TCP carries no host name, so with more than one host and a resolved upstream the proxy
// cannot tell which host a connection is for. NONE forwards to the original destination instead.
function checkMultipleHosts(spec: ServiceEntrySpec, resolution: Resolution, report: Reporter): void {
  if (resolution === 'NONE' || (spec.hosts ?? []).length <= 1) return;
  const i = (spec.ports ?? []).findIndex((p) => {
    const proto = parseProtocol(p.protocol);
    return !isHttpProtocol(proto) && !isTlsProtocol(proto);
  });
  if (i >= 0) report.error(['spec', 'ports', i, 'protocol'], 'multiple hosts provided with non-HTTP, non-TLS ports', 'use one ServiceEntry per host for TCP ports, or resolution NONE');
}

/**
 * Istio's validateExportTo. Only a ServiceEntry may use "~" (no one); a DestinationRule with a
 * workloadSelector may export to its own namespace only.
 */
export function checkExportTo(exportTo: readonly string[], namespace: string, report: Reporter, kind: 'ServiceEntry' | 'other' | 'selector-DestinationRule' = 'ServiceEntry'): void {
  const seen = new Set<string>();
  exportTo.forEach((entry, i) => {
    const path = ['spec', 'exportTo', i];
    // "." is this namespace, so "." next to the namespace's own name is a duplicate too.
    const key = entry === '.' ? namespace : entry;
    if (seen.has(key)) {
      const message = key !== entry ? `duplicate entries in exportTo: . and current namespace ${namespace}` : `duplicate entries in exportTo for entry ${entry}`;
      report.error(path, message, 'remove the repeated entry');
    } else if (entry === '~' && kind !== 'ServiceEntry') {
      report.error(path, 'exportTo ~ (none) is not allowed for Istio configuration objects', 'use "." to keep it in this namespace');
    } else if (entry !== '*' && entry !== '.' && entry !== '~' && !isDns1123Label(entry)) {
      report.error(path, 'only ., *, ~ or a valid DNS 1123 label is allowed as exportTo entry', 'use "." (this namespace), "*" (all), "~" (none) or a namespace name');
    } else seen.add(key);
  });
  if (kind === 'selector-DestinationRule' && seen.size > 0) {
    if (!seen.has(namespace)) report.error(['spec', 'exportTo'], 'destination rule with workload selector cannot have exportTo beyond current namespace', 'use exportTo: ["."]');
    else if (seen.size > 1) report.error(['spec', 'exportTo'], 'destination rule with workload selector cannot have multiple entries in exportTo', 'use exportTo: ["."]');
  }
  if (seen.has('*') && exportTo.length > 1) {
    report.error(['spec', 'exportTo'], 'cannot have both public (*) and non-public exportTo values for a resource', 'use "*" alone');
  }
  if (seen.has('~') && exportTo.length > 1) report.error(['spec', 'exportTo'], 'cannot export service entry to no one (~) and someone', 'use "~" alone');
}

// IST0134: a TCP port with no address can only be matched by port number. Auto-allocation gives the
// entry a VIP unless it is off, opted out by label, resolution NONE, or every host is a wildcard
// (wildcards get a VIP only with DYNAMIC_DNS).
function warnAddressesRequired(spec: ServiceEntrySpec, resolution: Resolution, r: Resource, report: Reporter, options: ValidationOptions): void {
  if (has(spec.addresses) || autoAllocates(spec, resolution, r, options)) return;
  (spec.ports ?? []).forEach((port, i) => {
    const proto = parseProtocol(port.protocol);
    if (proto !== 'UNSET' && proto !== 'TCP') return;
    report.warn(
      ['spec', 'ports', i],
      `addresses are required for ports serving TCP (or unset) protocol: port ${port.number} is ${proto === 'TCP' ? 'TCP' : 'unset'}, and the entry has no addresses and gets no auto-allocated VIP`,
      'add spec.addresses, or set protocol HTTP or TLS so traffic is matched by host',
      CODES.ServiceEntryAddressesRequired.code,
    );
  });
}

function autoAllocates(spec: ServiceEntrySpec, resolution: Resolution, r: Resource, options: ValidationOptions): boolean {
  // istiod writes the VIPs it allocated to status.addresses; an exported object shows them.
  const status = r.status as { addresses?: unknown } | undefined;
  if (Array.isArray(status?.addresses) && status.addresses.length > 0) return true;
  if (options.ipAutoAllocate === false || resolution === 'NONE') return false;
  if (r.metadata.labels[AUTOALLOCATE]?.toLowerCase() === 'false') return false;
  return (spec.hosts ?? []).some((h) => !h.startsWith('*') || resolution === 'DYNAMIC_DNS');
}

function warnSharedAddress(spec: ServiceEntrySpec, resolution: Resolution, report: Reporter): void {
  if (resolution !== 'DNS' || !has(spec.addresses) || (spec.hosts ?? []).length <= 1) return;
  if ((spec.ports ?? []).some((p) => isTcpProtocol(parseProtocol(p.protocol)))) {
    report.warn(['spec', 'addresses'], 'service entry can not have more than one host specified simultaneously with address and tcp port', 'use one ServiceEntry per host when it has addresses and TCP or TLS ports');
  }
}
