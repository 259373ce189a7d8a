// Gateway API Gateway and GatewayClass (gateway.networking.k8s.io). A waypoint is a Gateway of class
// `istio-waypoint`; what Egressway reads from it is its listeners' allowedRoutes, its labels
// (`istio.io/waypoint-for`) and status.addresses (ready once non-empty). Rules follow the Gateway API
// CRD's validation (CEL) so that a file accepted here is accepted by the API server.
import type { Diagnostic } from '../../model/diagnostic.ts';
import type { Reporter } from '../diag.ts';
import { checkGatewayHostname, isDns1123Subdomain, isIpAddress } from '../names.ts';
import type { Resource } from '../resource.ts';
import { isPlainObject, s } from '../schema.ts';
import type { Path } from '../schema.ts';
import { portInRange, portRangeMessage, validateKind } from './common.ts';
import { labelSelectorSchema, validateLabelSelector } from './label-selector.ts';
import type { LabelSelector } from './label-selector.ts';

export interface GatewaySpec {
  readonly gatewayClassName: string;
  readonly listeners: readonly Listener[];
  readonly addresses?: readonly GatewayAddress[];
  readonly infrastructure?: {
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly parametersRef?: { readonly group: string; readonly kind: string; readonly name: string };
  };
}

export interface Listener {
  readonly name: string;
  readonly port: number;
  /** HTTP, HTTPS, TLS, TCP, UDP, or an implementation's own (Istio: HBONE). */
  readonly protocol: string;
  readonly hostname?: string;
  readonly tls?: { readonly mode?: 'Terminate' | 'Passthrough'; readonly certificateRefs?: readonly unknown[]; readonly options?: Readonly<Record<string, string>> };
  readonly allowedRoutes?: AllowedRoutes;
}

export interface AllowedRoutes {
  readonly namespaces?: { readonly from?: 'Same' | 'All' | 'Selector'; readonly selector?: LabelSelector };
  readonly kinds?: readonly { readonly group?: string; readonly kind: string }[];
}

/** spec.addresses and status.addresses entries; `type` defaults to IPAddress. */
export interface GatewayAddress {
  readonly type?: string;
  readonly value: string;
}

export interface GatewayStatus {
  readonly addresses?: readonly GatewayAddress[];
  readonly conditions?: readonly unknown[];
  readonly listeners?: readonly unknown[];
}

export interface GatewayClassSpec {
  readonly controllerName: string;
  readonly parametersRef?: { readonly group: string; readonly kind: string; readonly name: string; readonly namespace?: string };
  readonly description?: string;
}

const addressSchema = s.object({ type: s.string(), value: s.string() }, { required: ['value'] });

const listenerSchema = s.object(
  {
    name: s.string(),
    hostname: s.string(),
    port: s.integer(),
    protocol: s.string(),
    tls: s.object({ mode: s.string(['Terminate', 'Passthrough']), certificateRefs: s.array(s.any()), options: s.map(s.string()), frontendValidation: s.any() }),
    allowedRoutes: s.object({
      namespaces: s.object({ from: s.string(['All', 'Same', 'Selector']), selector: labelSelectorSchema }),
      kinds: s.array(s.object({ group: s.string(), kind: s.string() }, { required: ['kind'] })),
    }),
  },
  { required: ['name', 'port', 'protocol'] },
);

const gatewayShape = {
  spec: s.object(
    {
      gatewayClassName: s.string(),
      listeners: s.array(listenerSchema),
      addresses: s.array(addressSchema),
      infrastructure: s.object({ labels: s.map(s.string()), annotations: s.map(s.string()), parametersRef: s.object({ group: s.string(), kind: s.string(), name: s.string() }) }),
      backendTLS: s.any(),
      allowedListeners: s.any(),
    },
    { required: ['gatewayClassName', 'listeners'] },
  ),
  status: s.object({ addresses: s.array(addressSchema), conditions: s.any(), listeners: s.any() }, { open: true }),
};

const gatewayClassShape = {
  spec: s.object(
    { controllerName: s.string(), parametersRef: s.object({ group: s.string(), kind: s.string(), name: s.string(), namespace: s.string() }), description: s.string() },
    { required: ['controllerName'] },
  ),
  status: s.object({}, { open: true }),
};

export function validateGateway(r: Resource): Diagnostic[] {
  return validateKind<GatewaySpec>(r, gatewayShape, (spec, _r, report) => {
    if (spec.gatewayClassName === '') report.error(['spec', 'gatewayClassName'], 'gatewayClassName must not be empty', 'set it, e.g. istio-waypoint for a waypoint');
    checkListeners(spec.listeners, report);
    (spec.addresses ?? []).forEach((a, i) => checkAddress(a, ['spec', 'addresses', i], report));
    const status = r.status;
    if (isPlainObject(status) && Array.isArray(status.addresses)) {
      (status.addresses as GatewayAddress[]).forEach((a, i) => checkAddress(a, ['status', 'addresses', i], report));
    }
  });
}

export function validateGatewayClass(r: Resource): Diagnostic[] {
  return validateKind<GatewayClassSpec>(r, gatewayClassShape, (spec, _r, report) => {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/.test(spec.controllerName)) {
      report.error(['spec', 'controllerName'], `controllerName ${JSON.stringify(spec.controllerName)} must be a domain-prefixed path`, 'use e.g. istio.io/mesh-controller');
    }
  });
}

/** status.addresses of a Gateway; empty until a waypoint pod is ready. */
export function gatewayStatus(r: Resource): GatewayStatus {
  return isPlainObject(r.status) ? (r.status as GatewayStatus) : {};
}

function checkListeners(listeners: readonly Listener[], report: Reporter): void {
  if (listeners.length === 0) report.error(['spec', 'listeners'], 'at least one listener is required', 'add a listener, e.g. {name: mesh, port: 15008, protocol: HBONE}');
  if (listeners.length > 64) report.error(['spec', 'listeners'], `too many listeners: ${listeners.length} (max 64)`, 'split the listeners across Gateways');
  const names = new Map<string, number>();
  const combos = new Map<string, number>();
  listeners.forEach((l, i) => {
    const path = ['spec', 'listeners', i];
    const first = names.get(l.name);
    if (first !== undefined) report.error([...path, 'name'], `Listener name must be unique within the Gateway: "${l.name}" is also listeners[${first}]`, 'rename one of the listeners');
    else names.set(l.name, i);
    const combo = `${l.port}/${l.protocol}/${l.hostname ?? ''}`;
    const same = combos.get(combo);
    if (same !== undefined) report.error(path, `Combination of port, protocol and hostname must be unique for each listener (same as listeners[${same}])`, 'change the port or hostname of one listener');
    else combos.set(combo, i);
    checkListener(l, path, report);
  });
}

const STANDARD_PROTOCOL = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const PREFIXED_PROTOCOL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$/;

function checkListener(l: Listener, path: Path, report: Reporter): void {
  if (!isDns1123Subdomain(l.name)) report.error([...path, 'name'], `invalid listener name ${JSON.stringify(l.name)}: must be a lower-case DNS name`, 'use lower-case letters, digits and dashes');
  if (!portInRange(l.port)) report.error([...path, 'port'], portRangeMessage(l.port), 'use a port between 1 and 65535 (a waypoint uses 15008)');
  if (l.protocol.length > 255 || !(STANDARD_PROTOCOL.test(l.protocol) || PREFIXED_PROTOCOL.test(l.protocol))) {
    report.error([...path, 'protocol'], `invalid protocol ${JSON.stringify(l.protocol)}`, 'use HTTP, HTTPS, TLS, TCP, UDP or HBONE');
  }
  checkHostnameAndTls(l, path, report);
  checkAllowedRoutes(l.allowedRoutes, [...path, 'allowedRoutes'], report);
}

function checkHostnameAndTls(l: Listener, path: Path, report: Reporter): void {
  if (l.hostname !== undefined) {
    if (l.protocol === 'TCP' || l.protocol === 'UDP') {
      report.error([...path, 'hostname'], "hostname must not be specified for protocols ['TCP', 'UDP']", 'remove hostname');
    } else {
      const problem = checkGatewayHostname(l.hostname);
      if (problem) report.error([...path, 'hostname'], problem, 'use a DNS name such as api.example.com or *.example.com');
    }
  }
  if (l.tls && ['HTTP', 'TCP', 'UDP'].includes(l.protocol)) {
    report.error([...path, 'tls'], "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']", 'remove tls, or use protocol HTTPS or TLS');
  }
  if (!l.tls && l.protocol === 'HTTPS') report.error(path, "tls must be specified for protocols ['HTTPS']", 'add tls with certificateRefs');
  if (l.tls?.mode === 'Passthrough' && l.protocol === 'HTTPS') {
    report.error([...path, 'tls', 'mode'], 'tls mode must be Terminate for protocol HTTPS', 'use mode Terminate, or protocol TLS for passthrough');
  }
}

function checkAllowedRoutes(routes: AllowedRoutes | undefined, path: Path, report: Reporter): void {
  const ns = routes?.namespaces;
  if (!ns) return;
  const nsPath = [...path, 'namespaces'];
  if (ns.from === 'Selector' && !ns.selector) {
    report.error([...nsPath, 'from'], 'selector must be specified when from is Selector', 'add selector.matchLabels, e.g. {kubernetes.io/metadata.name: app-ns}');
  }
  if (ns.selector && ns.from !== 'Selector') {
    report.warn([...nsPath, 'selector'], `selector is ignored because from is ${ns.from ?? 'Same (the default)'}`, 'set from: Selector, or remove selector');
  }
  if (ns.selector) validateLabelSelector(ns.selector, [...nsPath, 'selector'], report);
}

function checkAddress(a: GatewayAddress, path: Path, report: Reporter): void {
  const type = a.type ?? 'IPAddress';
  if (type === 'IPAddress' && !isIpAddress(a.value)) {
    report.error([...path, 'value'], `${JSON.stringify(a.value)} is not an IP address (type IPAddress)`, 'use an IP, or set type: Hostname');
  } else if (type === 'Hostname' && checkGatewayHostname(a.value)) {
    report.error([...path, 'value'], `${JSON.stringify(a.value)} is not a valid hostname (type Hostname)`, 'use a DNS name, or set type: IPAddress');
  } else if (!['IPAddress', 'Hostname', 'NamedAddress'].includes(type) && !PREFIXED_PROTOCOL.test(type)) {
    report.error([...path, 'type'], `unsupported address type ${JSON.stringify(type)}`, 'use IPAddress, Hostname, NamedAddress or a domain-prefixed type');
  }
}
