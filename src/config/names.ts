// Name and address syntax shared by every kind: Kubernetes object names and labels, DNS hosts, IPs.
// The rules are Kubernetes' and Istio's (`pkg/config/labels`, `validation/agent`), so a file that passes
// here passes admission there. Each check returns an error message or undefined, so callers attach
// their own field path.
import { isIP } from 'node:net';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// Istio accepts upper case in host labels (it lower-cases later); Kubernetes names do not.
const HOST_LABEL = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
// First label of a wildcard host: `*`, `*foo` or `*-foo` (the last two are "partial" wildcards).
const WILDCARD_LABEL = /^(\*|(\*|\*-)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

export function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && value.split('.').every((l) => DNS1123_LABEL.test(l));
}

/** Label and annotation keys: `[prefix/]name`, prefix a DNS subdomain, name at most 63 characters. */
export function checkQualifiedName(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix === '' || !isDns1123Subdomain(prefix))) {
    return `invalid key ${JSON.stringify(key)}: the prefix must be a lower-case DNS subdomain`;
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return `invalid key ${JSON.stringify(key)}: the name must be 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
  }
  return undefined;
}

export function checkLabelValue(value: string): string | undefined {
  if (value === '' || (value.length <= 63 && QUALIFIED_NAME.test(value))) return undefined;
  return `invalid label value ${JSON.stringify(value)}: must be at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
}

export function isIpAddress(value: string): boolean {
  return isIP(value) !== 0;
}

/** Istio's ValidateIPSubnet: an IP, or an IP/prefix with a prefix in range for its family. */
export function checkIpOrCidr(value: string): string | undefined {
  const parts = value.split('/');
  if (parts.length === 1) return isIpAddress(value) ? undefined : `${value} is not a valid IP`;
  const family = parts.length === 2 ? isIP(parts[0]) : 0;
  const bits = /^\d{1,3}$/.test(parts[1] ?? '') ? Number(parts[1]) : -1;
  if (family === 0 || bits < 0 || bits > (family === 4 ? 32 : 128)) {
    return `${JSON.stringify(value)} is not a valid CIDR block`;
  }
  return undefined;
}

function checkDomainPreconditions(domain: string): string | undefined {
  if (domain.length === 0) return 'empty domain name not allowed';
  if (domain.length > 255) return `domain name ${JSON.stringify(domain)} too long (max 255)`;
  return undefined;
}

function checkHostLabels(domain: string, labels: string): string | undefined {
  const parts = labels.split('.');
  // Istio's ValidateDNS1123Labels: an all-numeric top-level label would make an IP look like a name.
  const tld = parts[parts.length - 1];
  if (/^[+-]?\d+$/.test(tld)) return `domain name ${JSON.stringify(domain)} invalid (top level domain ${JSON.stringify(tld)} cannot be all-numeric)`;
  for (const [i, label] of parts.entries()) {
    // A trailing dot (absolute name) leaves an empty last label, which DNS allows.
    if (label === '' && i === parts.length - 1 && i > 0) continue;
    if (label.length > 63 || !HOST_LABEL.test(label)) {
      return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(label)} invalid)`;
    }
  }
  return undefined;
}

/** Istio's ValidateFQDN: DNS labels only, no wildcard. */
export function checkFqdn(domain: string): string | undefined {
  return checkDomainPreconditions(domain) ?? checkHostLabels(domain, domain);
}

/** Istio's ValidateWildcardDomain: a wildcard is allowed only in the first label. */
export function checkWildcardDomain(domain: string): string | undefined {
  const pre = checkDomainPreconditions(domain);
  if (pre) return pre;
  const dot = domain.indexOf('.');
  const first = dot < 0 ? domain : domain.slice(0, dot);
  if (first.length > 63 || !WILDCARD_LABEL.test(first)) {
    return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(first)} invalid)`;
  }
  return dot < 0 ? undefined : checkHostLabels(domain, domain.slice(dot + 1));
}

/** `*foo.com` or `*-foo.com`: a wildcard that is not a whole leading label. */
export function isPartialWildcard(host: string): boolean {
  return host.includes('*') && host !== '*' && !host.startsWith('*.');
}

/** Hostnames in Gateway API fields (`listeners[].hostname`): a DNS name, optionally `*.`-prefixed. */
export function checkGatewayHostname(host: string): string | undefined {
  if (isIpAddress(host)) return `hostname ${JSON.stringify(host)} must be a DNS name, not an IP address`;
  const name = host.startsWith('*.') ? host.slice(2) : host;
  if (name.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name)) {
    return `hostname ${JSON.stringify(host)} must be a lower-case DNS name, optionally prefixed with "*."`;
  }
  return undefined;
}

/**
 * Istio's ValidateWildcardDomainForVirtualServiceBoundToGateway: as checkWildcardDomain, but an SNI
 * host may be the name Envoy generates for AUTO_PASSTHROUGH, `outbound_.<port>_._.<host>`, whose
 * labels hold underscores.
 */
export function checkGatewayBoundDomain(sni: boolean, domain: string): string | undefined {
  const pre = checkDomainPreconditions(domain);
  if (pre) return pre;
  if (!sni || !domain.startsWith('outbound_')) return checkWildcardDomain(domain);
  const parts = domain.split('_');
  const format = 'outbound_.<port>_._.<hostname>';
  if (parts.length < 4) return `domain name ${domain} invalid, should follow '${format}' format`;
  const port = parts[1].replace(/^\.+|\.+$/g, '');
  const host = parts[3].replace(/^\.+|\.+$/g, '');
  if (!/[0-9]/.test(port)) return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(port)} invalid). should follow ${format} format`;
  if (!/[a-zA-Z]/.test(host)) return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(host)} invalid). should follow ${format} format`;
  return undefined;
}
