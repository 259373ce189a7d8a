// The SNI of a TLS ClientHello, read without terminating TLS (Envoy's tls_inspector): what a
// waypoint knows as `connection.sni` for a tunnel to a TLS port. The parser is PURE; peekClientHello
// reads from a stream and puts every byte back for the upstream.
import type { Duplex } from 'node:stream';

/**
 * What the bytes so far say: more needed, not TLS, refused (a ClientHello past Envoy's
 * max_client_hello_size: client_hello_too_large, the connection is closed), or the ClientHello's
 * server_name (if any).
 */
export type HelloResult =
  | { readonly kind: 'more' }
  | { readonly kind: 'not-tls' }
  | { readonly kind: 'refuse'; readonly reason: string }
  | { readonly kind: 'hello'; readonly sni?: string };

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
/** Envoy's tls_inspector max_client_hello_size (64 KiB): a ClientHello that needs more is refused. */
export const MAX_HELLO_BYTES = 64 * 1024;
/** BoringSSL's kMaxEmptyRecords: past it the handshake fails, so the peer is not a TLS client we serve. */
const MAX_EMPTY_RECORDS = 32;
const MORE: HelloResult = { kind: 'more' };

/**
 * Reads TLS records as they arrive and collects their handshake bytes until the ClientHello is
 * whole. Each byte is copied a bounded number of times however small the chunks (a peer writing a
 * byte at a time costs no re-parsing), and what it holds is capped at 2 x MAX_HELLO_BYTES.
 */
export class HelloReader {
  #pending: Buffer[] = [];
  #pendingLen = 0;
  #need = 5; // bytes of the record under way: its header, then header + payload
  #hs: Buffer[] = [];
  #hsLen = 0;
  #read = 0;
  #empty = 0;
  #helloLen: number | undefined;

  push(chunk: Buffer): HelloResult {
    if (this.#read === 0 && chunk.length > 0 && chunk[0] !== HANDSHAKE) return { kind: 'not-tls' };
    this.#read += chunk.length;
    this.#pending.push(chunk);
    this.#pendingLen += chunk.length;
    while (this.#pendingLen >= this.#need) {
      const buf = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
      if (buf[0] !== HANDSHAKE || buf[1] !== 3) return { kind: 'not-tls' };
      const len = buf.readUInt16BE(3);
      if (buf.length < 5 + len) {
        this.#pending = [buf];
        this.#need = 5 + len;
        break;
      }
      if (len === 0 && ++this.#empty > MAX_EMPTY_RECORDS) return { kind: 'refuse', reason: `more than ${MAX_EMPTY_RECORDS} empty TLS records before the ClientHello` };
      this.#hs.push(buf.subarray(5, 5 + len));
      this.#hsLen += len;
      const rest = buf.subarray(5 + len);
      this.#pending = rest.length ? [rest] : [];
      this.#pendingLen = rest.length;
      this.#need = 5;
      const r = this.#hello();
      if (r !== MORE) return r;
    }
    return this.#read > 2 * MAX_HELLO_BYTES ? tooLarge() : MORE;
  }

  #hello(): HelloResult {
    if (this.#hsLen < 4) return MORE;
    if (this.#helloLen === undefined) {
      // Once: the handshake header. Later records are joined only when the message is whole.
      const head = this.#hs.length === 1 ? this.#hs[0]! : Buffer.concat(this.#hs);
      this.#hs = [head];
      if (head[0] !== CLIENT_HELLO) return { kind: 'not-tls' };
      this.#helloLen = head.readUIntBE(1, 3);
      if (4 + this.#helloLen > MAX_HELLO_BYTES) return tooLarge();
    }
    if (this.#hsLen < 4 + this.#helloLen) return MORE;
    const hs = this.#hs.length === 1 ? this.#hs[0]! : Buffer.concat(this.#hs);
    try {
      return { kind: 'hello', ...serverName(hs.subarray(4, 4 + this.#helloLen)) };
    } catch {
      return { kind: 'not-tls' }; // a truncated field: not a ClientHello we can read
    }
  }
}

function tooLarge(): HelloResult {
  return { kind: 'refuse', reason: `ClientHello too large (over ${MAX_HELLO_BYTES} bytes)` };
}

/** The answer for the bytes of `buf`, read at once. PURE. */
export function parseClientHello(buf: Buffer): HelloResult {
  return new HelloReader().push(buf);
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
    const reader = new HelloReader();
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
      const r = reader.push(c);
      if (r.kind === 'more') return;
      if (r.kind === 'refuse') finish(r);
      else finish({ kind: 'sni', ...(r.kind === 'hello' && r.sni !== undefined ? { sni: r.sni } : {}) });
    };
    const onEnd = () => finish({ kind: 'sni' });
    const timer = setTimeout(() => finish(chunks.length === 0
      ? { kind: 'sni' }
      : { kind: 'refuse', reason: `ClientHello not complete within ${timeoutMs} ms` }), timeoutMs);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.resume();
  });
}
