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

/** What the lists say about one address; check() combines it with the origin and host. */
interface Verdict {
  /** The address as checked: IPv4-mapped IPv6 unwrapped. */
  readonly ip: string;
  readonly family: 'ipv4' | 'ipv6';
  readonly denied: boolean;
  readonly allowed: boolean;
  /** The first ALWAYS rule, then the first FROM_REQUEST rule, that contains it. */
  readonly always: string | undefined;
  readonly fromRequest: string | undefined;
}

/** Addresses whose verdict is kept; past this the memo starts afresh (DNS answers churn). */
const MAX_VERDICTS = 1024;

export class DialPolicy {
  #always = new Map<string, BlockList>();
  #fromRequest = new Map<string, BlockList>();
  #allow = new BlockList();
  #deny = new BlockList();
  #hasDeny = false;
  // Hot path: each BlockList.check parses the address into a SocketAddress (a native call), and a
  // check runs up to eight of them: ~1-1.5 µs per dial of a DNS or request address, ~15 ns from
  // this memo. The lists never change, so an address's verdict never does.
  #verdicts = new Map<string, Verdict>();

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
    const v = this.#verdict(address);
    if (v.denied) return { rule: 'deny-cidr', reason: `${v.ip} (for ${host}) is in --deny-cidr` };
    if (origin === 'registry' || v.allowed) return undefined;
    if (v.always) return refusal(v, v.always, host, 'for a DNS-resolved destination');
    if (origin === 'request' && v.fromRequest) return refusal(v, v.fromRequest, host, 'for a host taken from the request');
    return undefined;
  }

  #verdict(address: string): Verdict {
    let v = this.#verdicts.get(address);
    if (v) return v;
    const ip = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
    // An IPv6 address always has a ":", an IPv4 one never: no need to run isIPv6's long regex.
    const family = ip.includes(':') ? 'ipv6' : 'ipv4';
    v = {
      ip, family, denied: this.#deny.check(ip, family), allowed: this.#allow.check(ip, family),
      always: firstRule(this.#always, ip, family), fromRequest: firstRule(this.#fromRequest, ip, family),
    };
    if (this.#verdicts.size >= MAX_VERDICTS) this.#verdicts.clear();
    this.#verdicts.set(address, v);
    return v;
  }
}

function refusal(v: Verdict, rule: string, host: string, why: string): DialRefusal {
  const reason = `${host} resolved to ${v.ip}, a ${rule} address, which is never dialled ${why}; if this is intended, pass --allow-cidr ${v.ip}/${v.family === 'ipv4' ? 32 : 128}`;
  return { rule, reason };
}

function firstRule(rules: Map<string, BlockList>, ip: string, family: 'ipv4' | 'ipv6'): string | undefined {
  for (const [rule, list] of rules) if (list.check(ip, family)) return rule;
  return undefined;
}
