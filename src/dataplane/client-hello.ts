// The SNI of a TLS ClientHello, read without terminating TLS (Envoy's tls_inspector): what a
// waypoint knows as `connection.sni` for a tunnel to a TLS port. The parser is PURE; peekClientHello
// reads from a stream and puts every byte back for the upstream.
import type { Duplex } from 'node:stream';

/** What the bytes so far say: more needed, not TLS, or the ClientHello's server_name (if any). */
export type HelloResult =
  | { readonly kind: 'more' }
  | { readonly kind: 'not-tls' }
  | { readonly kind: 'hello'; readonly sni?: string };

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
/** A ClientHello is at most 2^24 bytes by its length field; tls_inspector caps it at 16 KiB + records. */
export const MAX_HELLO_BYTES = 64 * 1024;

/** Joins the handshake bytes of the TLS records in `buf` (a ClientHello may span records). */
function handshakeBytes(buf: Buffer): Buffer | 'not-tls' {
  const parts: Buffer[] = [];
  let off = 0;
  while (off + 5 <= buf.length) {
    if (buf[off] !== HANDSHAKE || buf[off + 1] !== 3) return 'not-tls';
    const len = buf.readUInt16BE(off + 3);
    parts.push(buf.subarray(off + 5, Math.min(off + 5 + len, buf.length)));
    off += 5 + len;
  }
  if (buf.length > 0 && buf[0] !== HANDSHAKE) return 'not-tls';
  return Buffer.concat(parts);
}

export function parseClientHello(buf: Buffer): HelloResult {
  // Record headers count too: a stream of empty records must not grow the buffer without end.
  if (buf.length > 2 * MAX_HELLO_BYTES) return { kind: 'not-tls' };
  const hs = handshakeBytes(buf);
  if (hs === 'not-tls') return { kind: 'not-tls' };
  if (hs.length < 4) return buf.length > MAX_HELLO_BYTES ? { kind: 'not-tls' } : { kind: 'more' };
  if (hs[0] !== CLIENT_HELLO) return { kind: 'not-tls' };
  const len = hs.readUIntBE(1, 3);
  if (hs.length < 4 + len) return 4 + len > MAX_HELLO_BYTES ? { kind: 'not-tls' } : { kind: 'more' };
  try {
    return { kind: 'hello', ...serverName(hs.subarray(4, 4 + len)) };
  } catch {
    return { kind: 'not-tls' }; // a truncated field: not a ClientHello we can read
  }
}

/** Walks version, random, session id, ciphers and compression to the extensions. Throws on overrun. */
function serverName(body: Buffer): { sni?: string } {
  let p = 2 + 32;
  p += 1 + need(body, p, 1).readUInt8(p);
  p += 2 + need(body, p, 2).readUInt16BE(p);
  p += 1 + need(body, p, 1).readUInt8(p);
  if (p >= body.length) return {};
  const end = p + 2 + need(body, p, 2).readUInt16BE(p);
  p += 2;
  while (p + 4 <= end) {
    const type = body.readUInt16BE(p);
    const len = body.readUInt16BE(p + 2);
    p += 4;
    if (type === EXT_SERVER_NAME) {
      // server_name_list: u16 length, then (u8 type, u16 length, name); type 0 is host_name.
      let q = p + 2;
      while (q + 3 <= p + len) {
        const nameLen = body.readUInt16BE(q + 1);
        if (body[q] === 0) return { sni: need(body, q + 3, nameLen).toString('latin1', q + 3, q + 3 + nameLen) };
        q += 3 + nameLen;
      }
      return {};
    }
    p += len;
  }
  return {};
}

function need(b: Buffer, at: number, n: number): Buffer {
  if (at + n > b.length) throw new RangeError('truncated ClientHello');
  return b;
}

/**
 * Reads from `stream` until a ClientHello is complete (or the bytes are not TLS, or `timeoutMs`
 * passes, or the stream ends), then pauses it and puts back everything read. Resolves with the SNI,
 * or undefined when there is none to be had.
 */
export function peekClientHello(stream: Duplex, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (sni: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.pause();
      if (chunks.length && !stream.destroyed) stream.unshift(Buffer.concat(chunks));
      resolve(sni);
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      const r = parseClientHello(chunks.length === 1 ? c : Buffer.concat(chunks));
      if (r.kind !== 'more') finish(r.kind === 'hello' ? r.sni : undefined);
    };
    const onEnd = () => finish(undefined);
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.resume();
  });
}
