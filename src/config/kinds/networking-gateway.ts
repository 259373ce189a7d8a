// Istio's networking Gateway (networking.istio.io v1, v1beta1, v1alpha3): the sidecar-era egress
// gateway configuration (`selector: {istio: egressgateway}` + servers). Egressway's waypoint does not
// read it; `analyze` and `migrate` do, so it is registered only in src/analyze/kinds.ts. The rules are
// Istio's ValidateGateway / validateServer / validateTLSOptions.
import type { Diagnostic } from '../../model/diagnostic.ts';
import type { Reporter } from '../diag.ts';
import { checkWildcardDomain, isDns1123Label } from '../names.ts';
import type { Resource } from '../resource.ts';
import { s } from '../schema.ts';
import type { Path } from '../schema.ts';
import { portInRange, portRangeMessage, validateKind } from './common.ts';
import type { ValidationOptions } from './common.ts';
import { parseProtocol } from './protocol.ts';

export type ServerTLSMode = 'PASSTHROUGH' | 'SIMPLE' | 'MUTUAL' | 'AUTO_PASSTHROUGH' | 'ISTIO_MUTUAL' | 'OPTIONAL_MUTUAL';
const SERVER_TLS_MODES: readonly ServerTLSMode[] = ['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'];

export interface ServerTLSSettings {
  readonly httpsRedirect?: boolean;
  readonly mode?: ServerTLSMode;
  readonly serverCertificate?: string;
  readonly privateKey?: string;
  readonly caCertificates?: string;
  readonly caCrl?: string;
  readonly credentialName?: string;
  readonly credentialNames?: readonly string[];
  readonly subjectAltNames?: readonly string[];
  readonly verifyCertificateSpki?: readonly string[];
  readonly verifyCertificateHash?: readonly string[];
  readonly minProtocolVersion?: string;
  readonly maxProtocolVersion?: string;
  readonly cipherSuites?: readonly string[];
}

export interface Server {
  readonly port: { readonly number: number; readonly protocol: string; readonly name?: string; readonly targetPort?: number };
  readonly bind?: string;
  /** `host`, or `namespace/host` (`*`/`.` namespaces) scoping which VirtualServices bind. */
  readonly hosts: readonly string[];
  readonly tls?: ServerTLSSettings;
  readonly defaultEndpoint?: string;
  readonly name?: string;
}

export interface NetworkingGatewaySpec {
  readonly servers?: readonly Server[];
  readonly selector?: Readonly<Record<string, string>>;
}

const strings = s.array(s.string());
const shape = {
  spec: s.object({
    servers: s.array(s.object({
      port: s.object({ number: s.integer(), protocol: s.string(), name: s.string(), targetPort: s.integer() }, { required: ['number', 'protocol'] }),
      bind: s.string(),
      hosts: strings,
      tls: s.object({
        httpsRedirect: s.boolean(), mode: s.string(SERVER_TLS_MODES), serverCertificate: s.string(), privateKey: s.string(),
        caCertificates: s.string(), caCrl: s.string(), credentialName: s.string(), credentialNames: strings, subjectAltNames: strings,
        verifyCertificateSpki: strings, verifyCertificateHash: strings, minProtocolVersion: s.string(), maxProtocolVersion: s.string(), cipherSuites: strings,
      }),
      defaultEndpoint: s.string(),
      name: s.string(),
    }, { required: ['port', 'hosts'] })),
    selector: s.map(s.string()),
  }),
  status: s.object({}, { open: true }),
};

export function validateNetworkingGateway(r: Resource, options: ValidationOptions = {}): Diagnostic[] {
  return validateKind<NetworkingGatewaySpec>(r, shape, (spec, _r, report) => {
    if (!spec.servers?.length) report.error(['spec', 'servers'], 'gateway must have at least one server', 'add a server, e.g. {port: {number: 80, name: http, protocol: HTTP}, hosts: [httpbin.org]}');
    const names = new Set<string>();
    (spec.servers ?? []).forEach((server, i) => {
      const path = ['spec', 'servers', i];
      checkServer(server, path, report);
      const name = server.port.name;
      if (name) {
        if (names.has(name)) report.error([...path, 'port', 'name'], `port names in servers must be unique: duplicate name ${name}`, 'rename one port');
        names.add(name);
      }
    });
  }, options);
}

function checkServer(server: Server, path: Path, report: Reporter): void {
  if (server.hosts.length === 0) report.error([...path, 'hosts'], 'server config must contain at least one host', 'add hosts, e.g. [httpbin.org] or ["*"]');
  server.hosts.forEach((h, i) => {
    const slash = h.indexOf('/');
    const ns = slash >= 0 ? h.slice(0, slash) : undefined;
    const host = slash >= 0 ? h.slice(slash + 1) : h;
    if (ns !== undefined && ns !== '*' && ns !== '.' && !isDns1123Label(ns)) report.error([...path, 'hosts', i], `invalid namespace value ${JSON.stringify(ns)} in gateway host`, 'use "*", "." or a namespace name before the /');
    const problem = host === '*' ? undefined : checkWildcardDomain(host);
    if (problem) report.error([...path, 'hosts', i], problem, 'use a DNS name, "*.domain" or "*"');
  });
  const n = server.port.number;
  if (!portInRange(n)) report.error([...path, 'port', 'number'], portRangeMessage(n), 'use a port between 1 and 65535');
  const proto = parseProtocol(server.port.protocol);
  if (proto === 'UNSUPPORTED' || proto === 'UNSET') report.error([...path, 'port', 'protocol'], `invalid protocol ${JSON.stringify(server.port.protocol)}`, 'use HTTP, HTTPS, HTTP2, GRPC, TLS or TCP');
  const tls = server.tls;
  if (proto === 'HTTPS' && !tls) report.error([...path, 'tls'], 'server must have TLS settings for HTTPS/TLS protocols', 'add tls: {mode: ISTIO_MUTUAL} for mesh traffic, or SIMPLE with credentialName');
  if (!tls) return;
  const tp = [...path, 'tls'];
  const mode = tls.mode ?? 'PASSTHROUGH';
  if ((mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') && !tls.credentialName && !tls.credentialNames?.length) {
    if (!tls.serverCertificate) report.error([...tp, 'serverCertificate'], `${mode} TLS requires a server certificate`, 'set credentialName, or serverCertificate and privateKey');
    if (!tls.privateKey) report.error([...tp, 'privateKey'], `${mode} TLS requires a private key`, 'set credentialName, or serverCertificate and privateKey');
    if (mode !== 'SIMPLE' && !tls.caCertificates) report.error([...tp, 'caCertificates'], `${mode} TLS requires a client CA bundle`, 'set caCertificates, or credentialName');
  }
  if (mode === 'ISTIO_MUTUAL') {
    for (const f of ['serverCertificate', 'privateKey', 'caCertificates', 'credentialName'] as const) {
      if (tls[f]) report.error([...tp, f], `ISTIO_MUTUAL TLS cannot have associated ${f}`, `remove ${f}`);
    }
  }
  if (tls.httpsRedirect && proto !== 'HTTP') report.warn([...tp, 'httpsRedirect'], 'tls.httpsRedirect should only be used with http servers', 'remove httpsRedirect');
}
