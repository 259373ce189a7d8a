// A strict PROXY protocol v2 header parser (haproxy proxy-protocol.txt §2.2), for the sandwich
// waypoint: ztunnel terminates HBONE and writes one header per connection — command PROXY, TCP over
// IPv4 or IPv6, the client's address as source, the HBONE target (a VIP:port or a service address)
// as destination, TLV 0xD0 with the client's SPIFFE ID and, from newer ztunnel, TLV 0xD1 with the
// service hostname (ztunnel src/proxy.rs write_proxy_protocol). Anything else is refused with a code
// from a closed set, which becomes a metric label. The parser is pure and incremental: it is called
// with all bytes read so far and says whether it needs more, and it never throws.
import { parseSpiffe, type Identity } from '../model/identity.ts';

export interface ProxyAddress {
  /** IPv4 dotted or IPv6 (RFC 5952 text); an IPv4-mapped IPv6 address is given as IPv4. */
  readonly ip: string;
  readonly port: number;
}

export interface ProxyHeader {
  readonly source: ProxyAddress;
  readonly destination: ProxyAddress;
  /** TLV 0xD0: the identity ztunnel verified; undefined when the TLV is absent. */
  readonly identity: Identity | undefined;
  /** TLV 0xD1: the destination service's hostname, lower-cased. */
  readonly hostname: string | undefined;
  /** Header bytes; what follows them is the client's data. */
  readonly length: number;
}

/** Why a header was refused: a closed set, used as the `reason` metric label. */
export type ProxyHeaderError =
  | 'bad_signature' | 'v1_header' | 'bad_version' | 'local_command' | 'bad_command'
  | 'unsupported_family' | 'bad_address' | 'too_long' | 'bad_tlv' | 'duplicate_tlv'
  | 'bad_identity' | 'bad_hostname';

export type ProxyParse =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'header'; readonly header: ProxyHeader }
  | { readonly kind: 'error'; readonly code: ProxyHeaderError; readonly message: string };

export const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
export const TLV_PEER_IDENTITY = 0xd0;
export const TLV_SERVICE_HOSTNAME = 0xd1;

/**
 * A header ztunnel writes is 16 + 36 (IPv6) + 3 + a SPIFFE ID (at most 2048 bytes by the SPIFFE
 * spec) + 3 + a hostname (at most 253): under 2400 bytes. Anything longer is refused before it is
 * buffered, so a peer cannot make us hold the 64 KiB the length field allows.
 */
export const MAX_HEADER = 4096;

const V1_PREFIX = Buffer.from('PROXY ');
const INCOMPLETE: ProxyParse = { kind: 'incomplete' };
const HOSTNAME_RE = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
// SPIFFE ID characters (SPIFFE-ID §2), in Istio's four-segment shape; the ID ends up in metric labels
// and access-log lines, so nothing else gets through.
const SPIFFE_RE = /^spiffe:\/\/[a-z0-9._-]{1,255}\/ns\/[A-Za-z0-9._-]{1,253}\/sa\/[A-Za-z0-9._-]{1,253}$/;

function fail(code: ProxyHeaderError, message: string): ProxyParse {
  return { kind: 'error', code, message };
}

/** Parses the header at the start of `buf` (all bytes received so far). */
export function parseProxyHeader(buf: Uint8Array, max = MAX_HEADER): ProxyParse {
  const sig = checkSignature(buf);
  if (sig) return sig;
  if (buf.length < 16) return INCOMPLETE;
  const version = buf[12]! >> 4;
  const command = buf[12]! & 0x0f;
  if (version !== 2) return fail('bad_version', `PROXY protocol version ${version} (only version 2 is accepted)`);
  // LOCAL carries no client: it is a health check by the proxy itself, which has nothing to route.
  if (command === 0) return fail('local_command', 'a LOCAL header names no client or destination to route (ztunnel sends PROXY)');
  if (command !== 1) return fail('bad_command', `PROXY v2 command ${command} is neither LOCAL nor PROXY`);
  const family = buf[13]!;
  const addrLen = family === 0x11 ? 12 : family === 0x21 ? 36 : 0;
  if (addrLen === 0) return fail('unsupported_family', `address family/transport 0x${hex(family)} (only TCP over IPv4 0x11 or IPv6 0x21)`);
  const len = (buf[14]! << 8) | buf[15]!;
  if (16 + len > max) return fail('too_long', `the header claims ${16 + len} bytes; at most ${max} are accepted`);
  if (len < addrLen) return fail('bad_address', `the header's ${len} bytes cannot hold the ${addrLen}-byte address block of family 0x${hex(family)}`);
  if (buf.length < 16 + len) return INCOMPLETE;
  const body = buf.subarray(16, 16 + len);
  const source = family === 0x11 ? v4(body, 0, 8) : v6(body, 0, 32);
  const destination = family === 0x11 ? v4(body, 4, 10) : v6(body, 16, 34);
  if (destination.port === 0) return fail('bad_address', 'the destination port is 0');
  const tlvs = parseTlvs(body.subarray(addrLen));
  if ('kind' in tlvs) return tlvs;
  return { kind: 'header', header: { source, destination, ...tlvs, length: 16 + len } };
}

/** Compares what has arrived with the signature, so a client that is not a proxy is refused at once. */
function checkSignature(buf: Uint8Array): ProxyParse | undefined {
  const n = Math.min(buf.length, SIGNATURE.length);
  for (let i = 0; i < n; i++) {
    if (buf[i] === SIGNATURE[i]) continue;
    const m = Math.min(buf.length, V1_PREFIX.length);
    if (Buffer.from(buf.buffer, buf.byteOffset, m).equals(V1_PREFIX.subarray(0, m))) {
      return m < V1_PREFIX.length ? INCOMPLETE : fail('v1_header', 'a PROXY v1 (text) header; ztunnel sends v2 (binary) and only v2 is accepted');
    }
    return fail('bad_signature', `the connection does not start with the PROXY v2 signature (first bytes ${hex(buf.subarray(0, Math.min(8, buf.length)))})`);
  }
  return undefined;
}

type Tlvs = { identity: Identity | undefined; hostname: string | undefined };

/** TLVs fill the rest of the header exactly: type (1), length (2, big-endian), value. */
function parseTlvs(b: Uint8Array): Tlvs | ProxyParse {
  let identity: Identity | undefined;
  let hostname: string | undefined;
  let pos = 0;
  while (pos < b.length) {
    if (b.length - pos < 3) return fail('bad_tlv', `${b.length - pos} stray byte(s) after the last TLV`);
    const type = b[pos]!;
    const len = (b[pos + 1]! << 8) | b[pos + 2]!;
    if (pos + 3 + len > b.length) return fail('bad_tlv', `TLV 0x${hex(type)} claims ${len} bytes but only ${b.length - pos - 3} remain in the header`);
    const value = b.subarray(pos + 3, pos + 3 + len);
    pos += 3 + len;
    if (type === TLV_PEER_IDENTITY) {
      if (identity) return fail('duplicate_tlv', 'TLV 0xD0 (peer identity) appears twice');
      const id = decodeIdentity(value);
      if (typeof id === 'string') return fail('bad_identity', id);
      identity = id;
    } else if (type === TLV_SERVICE_HOSTNAME) {
      if (hostname !== undefined) return fail('duplicate_tlv', 'TLV 0xD1 (service hostname) appears twice');
      const h = Buffer.from(value.buffer, value.byteOffset, value.length).toString('latin1').toLowerCase();
      if (!HOSTNAME_RE.test(h)) return fail('bad_hostname', `TLV 0xD1 "${printable(h)}" is not a DNS hostname`);
      hostname = h;
    }
    // Other TLVs (ALPN, authority, CRC32C, SSL, NOOP...) are well-formed and ignored, as Envoy does
    // for types it has no rule for.
  }
  return { identity, hostname };
}

/** SPIFFE_RE admits ASCII only, so latin1 decoding is exact for every ID that passes. */
function decodeIdentity(value: Uint8Array): Identity | string {
  const text = Buffer.from(value.buffer, value.byteOffset, value.length).toString('latin1');
  const id = SPIFFE_RE.test(text) ? parseSpiffe(text) : undefined;
  return id ?? `TLV 0xD0 "${printable(text)}" is not spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`;
}

function v4(b: Uint8Array, at: number, portAt: number): ProxyAddress {
  return { ip: `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`, port: (b[portAt]! << 8) | b[portAt + 1]! };
}

function v6(b: Uint8Array, at: number, portAt: number): ProxyAddress {
  return { ip: formatIpv6(b.subarray(at, at + 16)), port: (b[portAt]! << 8) | b[portAt + 1]! };
}

/** RFC 5952 text: lower-case hex, the longest run (2+) of zero groups as `::`, the first on a tie. */
export function formatIpv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hexes = g.map((x) => x.toString(16));
  if (best < 0) return hexes.join(':');
  return `${hexes.slice(0, best).join(':')}::${hexes.slice(best + bestLen).join(':')}`;
}

function hex(v: number | Uint8Array): string {
  if (typeof v === 'number') return v.toString(16).padStart(2, '0').toUpperCase();
  return Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex');
}

/** For messages: control and non-ASCII characters escaped, long values cut. */
function printable(s: string): string {
  const cut = s.length > 120 ? `${s.slice(0, 120)}...` : s;
  return cut.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
