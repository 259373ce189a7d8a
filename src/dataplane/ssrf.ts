// SSRF guard, beyond Istio (smokescreen does this): which addresses may be dialled, decided on the
// address actually dialled (after DNS), so DNS rebinding cannot slip past it.
//  - Loopback, link-local (cloud metadata 169.254.169.254 included) and unspecified addresses are
//    never dialled for a destination whose address came from DNS.
//  - Private, CGNAT and unique-local ranges are also refused when the host came from the request
//    (wildcard / DYNAMIC_DNS entries, resolution NONE, ALLOW_ANY passthrough).
//  - IPs a ServiceEntry names itself (STATIC endpoints, IP endpoints) are trusted.
//  - --deny-cidr always refuses; --allow-cidr exempts an address from the rules above.
// Uses node:net BlockList for CIDR matching: well-kept, handles IPv4/IPv6 and mapped addresses.
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** Where the dialled address came from, most trusted first. */
export type AddressOrigin = 'registry' | 'dns' | 'request';

export interface DialPolicyOptions {
  readonly allowCidrs?: readonly string[];
  readonly denyCidrs?: readonly string[];
}

export interface DialRefusal {
  readonly rule: string;
  readonly reason: string;
}

const ALWAYS: readonly [string, string][] = [
  ['127.0.0.0/8', 'loopback'], ['::1/128', 'loopback'],
  ['169.254.0.0/16', 'link-local'], ['fe80::/10', 'link-local'],
  ['0.0.0.0/8', 'unspecified'], ['::/128', 'unspecified'],
];
const FROM_REQUEST: readonly [string, string][] = [
  ['10.0.0.0/8', 'private'], ['172.16.0.0/12', 'private'], ['192.168.0.0/16', 'private'],
  ['100.64.0.0/10', 'cgnat'], ['fc00::/7', 'unique-local'],
];

function addCidr(list: BlockList, cidr: string): void {
  const [ip, bits] = cidr.split('/');
  const family = isIPv6(ip!) ? 'ipv6' : 'ipv4';
  if (bits === undefined) list.addAddress(ip!, family);
  else list.addSubnet(ip!, Number(bits), family);
}

/** Validates a CIDR or IP for the flags; returns an error message or undefined. */
export function checkCidr(cidr: string): string | undefined {
  const [ip, bits, extra] = cidr.split('/');
  if (extra !== undefined || !ip || !(isIPv4(ip) || isIPv6(ip))) return `"${cidr}" is not an IP or CIDR`;
  const max = isIPv4(ip) ? 32 : 128;
  if (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max)) return `"${cidr}" has an invalid prefix length`;
  return undefined;
}

export class DialPolicy {
  #always = new Map<string, BlockList>();
  #fromRequest = new Map<string, BlockList>();
  #allow = new BlockList();
  #deny = new BlockList();
  #hasDeny = false;

  constructor(opts: DialPolicyOptions = {}) {
    for (const [cidr, rule] of ALWAYS) addCidr(this.#listFor(this.#always, rule), cidr);
    for (const [cidr, rule] of FROM_REQUEST) addCidr(this.#listFor(this.#fromRequest, rule), cidr);
    for (const c of opts.allowCidrs ?? []) addCidr(this.#allow, c);
    for (const c of opts.denyCidrs ?? []) addCidr(this.#deny, c);
    this.#hasDeny = (opts.denyCidrs ?? []).length > 0;
  }

  #listFor(m: Map<string, BlockList>, rule: string): BlockList {
    let l = m.get(rule);
    if (!l) m.set(rule, (l = new BlockList()));
    return l;
  }

  /** undefined when `address` may be dialled; else the rule that refuses it. */
  check(address: string, origin: AddressOrigin, host: string): DialRefusal | undefined {
    // Fast path: registry IPs with no --deny-cidr need no address parsing at all.
    if (origin === 'registry' && !this.#hasDeny) return undefined;
    const ip = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
    const family = isIPv6(ip) ? 'ipv6' : 'ipv4';
    if (this.#deny.check(ip, family)) return { rule: 'deny-cidr', reason: `${ip} (for ${host}) is in --deny-cidr` };
    if (origin === 'registry' || this.#allow.check(ip, family)) return undefined;
    const refuse = (rules: Map<string, BlockList>, why: string) => {
      for (const [rule, list] of rules) {
        if (list.check(ip, family)) return { rule, reason: `${host} resolved to ${ip}, a ${rule} address, which is never dialled ${why}; if this is intended, pass --allow-cidr ${ip}/${family === 'ipv4' ? 32 : 128}` };
      }
      return undefined;
    };
    return refuse(this.#always, 'for a DNS-resolved destination')
      ?? (origin === 'request' ? refuse(this.#fromRequest, 'for a host taken from the request') : undefined);
  }
}
