// The SNI of a TLS ClientHello, read without terminating TLS (Envoy's tls_inspector): what a
// waypoint knows as `connection.sni` for a tunnel to a TLS port. The parser is PURE; peekClientHello
// reads from a stream and puts every byte back for the upstream.
import type { Duplex } from 'node:stream';

/**
 * What the bytes so far say: more needed (and how many bytes in all before another parse can tell
 * more), not TLS, too large to read (Envoy's client_hello_too_large: the connection is closed), or the
 * ClientHello's server_name (if any).
 */
export type HelloResult =
  | { readonly kind: 'more'; readonly need: number }
  | { readonly kind: 'not-tls' }
  | { readonly kind: 'too-large' }
  | { readonly kind: 'hello'; readonly sni?: string };

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
/** Envoy's tls_inspector max_client_hello_size (64 KiB): a ClientHello that needs more is refused. */
export const MAX_HELLO_BYTES = 64 * 1024;
/** A ClientHello of 64 KiB fits in 5 records of 16 KiB; a peer that sends many tiny ones is refused. */
const MAX_RECORDS = 64;

/** Joins the handshake bytes of the TLS records in `buf` (a ClientHello may span records). */
function handshakeBytes(buf: Buffer): { hs: Buffer; need: number } | 'not-tls' | 'too-large' {
  const parts: Buffer[] = [];
  let off = 0;
  let records = 0;
  while (off + 5 <= buf.length) {
    if (buf[off] !== HANDSHAKE || buf[off + 1] !== 3) return 'not-tls';
    if (++records > MAX_RECORDS) return 'too-large';
    const len = buf.readUInt16BE(off + 3);
    parts.push(buf.subarray(off + 5, Math.min(off + 5 + len, buf.length)));
    off += 5 + len;
  }
  if (buf.length > 0 && buf[0] !== HANDSHAKE) return 'not-tls';
  // The end of the record under way, or of the next record's header.
  const need = off > buf.length ? off : off + 5;
  return { hs: parts.length === 1 ? parts[0]! : Buffer.concat(parts), need };
}

export function parseClientHello(buf: Buffer): HelloResult {
  const joined = handshakeBytes(buf);
  if (typeof joined === 'string') return { kind: joined };
  const { hs, need } = joined;
  if (hs.length < 4) return need > 2 * MAX_HELLO_BYTES ? { kind: 'too-large' } : { kind: 'more', need };
  if (hs[0] !== CLIENT_HELLO) return { kind: 'not-tls' };
  const len = hs.readUIntBE(1, 3);
  if (hs.length < 4 + len) return 4 + len > MAX_HELLO_BYTES || need > 2 * MAX_HELLO_BYTES ? { kind: 'too-large' } : { kind: 'more', need };
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

/** What the peek found: the SNI (undefined: none to be had), or why the tunnel must be closed. */
export type PeekResult =
  | { readonly kind: 'sni'; readonly sni?: string }
  | { readonly kind: 'refuse'; readonly reason: string };

/**
 * Reads from `stream` until a ClientHello is complete (or the bytes are not TLS, or `timeoutMs`
 * passes, or the stream ends), then pauses it and puts back everything read. A ClientHello past
 * MAX_HELLO_BYTES, or one begun and not finished within `timeoutMs`, is refused: letting it through
 * unread would let a client dodge a connection.sni DENY (Envoy closes the first; Istio's waypoint
 * sets no timeout, so the second would never get through). A client that sends nothing at all in
 * `timeoutMs` (a server-first protocol) goes on without an SNI.
 */
export function peekClientHello(stream: Duplex, timeoutMs: number): Promise<PeekResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let need = 1;
    let done = false;
    const finish = (r: PeekResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.pause();
      if (chunks.length && !stream.destroyed) stream.unshift(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      resolve(r);
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      total += c.length;
      // Parse again only once the record under way is complete: tiny chunks cost no re-copying.
      if (total < need && total <= 2 * MAX_HELLO_BYTES) return;
      if (chunks.length > 1) chunks.splice(0, chunks.length, Buffer.concat(chunks));
      const r = parseClientHello(chunks[0]!);
      if (r.kind === 'more') need = r.need;
      else if (r.kind === 'too-large') finish({ kind: 'refuse', reason: `ClientHello too large (over ${MAX_HELLO_BYTES} bytes)` });
      else finish({ kind: 'sni', ...(r.kind === 'hello' && r.sni !== undefined ? { sni: r.sni } : {}) });
    };
    const onEnd = () => finish({ kind: 'sni' });
    const timer = setTimeout(() => finish(total === 0
      ? { kind: 'sni' }
      : { kind: 'refuse', reason: `ClientHello not complete within ${timeoutMs} ms` }), timeoutMs);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.resume();
  });
}
