// IPv4 and IPv6 addresses and CIDR blocks as bigints: parsed once at compile time (blocks) or once
// per request (addresses), compared with two shifts. IPv4-mapped IPv6 (::ffff:a.b.c.d) is read as
// IPv4, as Envoy does for the peer address of a dual-stack socket.
import { isIP } from 'node:net';

export interface Cidr {
  readonly family: 4 | 6;
  readonly base: bigint;
  readonly bits: number;
}

export interface Ip {
  readonly family: 4 | 6;
  readonly value: bigint;
}

export function parseIp(text: string): Ip | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  const s = mapped ? mapped[1] : text.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(s);
  if (family === 4) return { family: 4, value: s.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  if (family === 6) return { family: 6, value: parseV6(s) };
  return undefined;
}

function parseV6(s: string): bigint {
  let text = s;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = parseIp(v4[1])!.value;
    text = `${text.slice(0, -v4[1].length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

/** An IP is a /32 (or /128) block. Returns undefined for anything else. */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, len, extra] = text.split('/');
  if (extra !== undefined) return undefined;
  const ip = parseIp(addr);
  if (!ip) return undefined;
  const max = ip.family === 4 ? 32 : 128;
  const bits = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : -1;
  if (bits < 0 || bits > max) return undefined;
  const shift = BigInt(max - bits);
  return { family: ip.family, base: (ip.value >> shift) << shift, bits };
}

export function cidrContains(c: Cidr, ip: Ip): boolean {
  if (c.family !== ip.family) return false;
  const shift = BigInt((c.family === 4 ? 32 : 128) - c.bits);
  return (ip.value >> shift) << shift === c.base;
}
