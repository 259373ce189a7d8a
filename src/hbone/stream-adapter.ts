// node:http's server expects a net.Socket when ProxyListener hands it a tunnel to serve HTTP/1.1
// on (`server.emit('connection', stream)`). An Http2Stream is a Duplex with setTimeout() already;
// what it lacks are the socket's address fields and no-op socket options. They are added on the
// stream object itself: no extra Duplex in the data path, so h2 flow control is the back-pressure.
import type { Duplex } from 'node:stream';

interface Ends {
  readonly local: string;
  readonly remote: string;
}

/** Works on either end's Http2Stream (the agent gives ClientHttp2Streams to http.request). */
export function adaptStream<S extends Duplex>(stream: S, ends: Ends): S {
  const [localAddress, localPort] = split(ends.local);
  const [remoteAddress, remotePort] = split(ends.remote);
  const extra: Record<string, unknown> = {
    localAddress, localPort, remoteAddress, remotePort,
    remoteFamily: remoteAddress.includes(':') ? 'IPv6' : 'IPv4',
    setNoDelay: () => stream, setKeepAlive: () => stream, ref: () => stream, unref: () => stream,
  };
  for (const [k, v] of Object.entries(extra)) {
    if (!(k in stream)) Object.defineProperty(stream, k, { value: v, configurable: true });
  }
  const counts: Counts = { read: 0, written: 0 };
  const proto = Object.getPrototypeOf(stream) as object;
  if (counting.has(proto) || !('bytesRead' in stream)) {
    // A socket's byte counters, which the downstream guard reads to time a connection (idle, request
    // headers, stream idle): without them an HTTP/1.1 request inside an HBONE stream had no timeout.
    countOnPrototype(proto);
    (stream as unknown as Counted)[kCounts] = counts;
  }
  encodeStringWrites(stream as unknown as RawWritable, counts);
  return stream;
}

interface Counts {
  read: number;
  written: number;
}
const kCounts = Symbol('egressway.streamBytes');
type Counted = Duplex & { [kCounts]?: Counts };
const counting = new WeakSet<object>();

/**
 * bytesRead / bytesWritten and the read count on the stream class's prototype, once: per-stream
 * closures (a `push` of its own on every stream) made the call site in node:http2 that pushes every
 * chunk megamorphic, about 5% of the HBONE path's CPU. Streams without counts (not adapted) read 0.
 */
function countOnPrototype(proto: object): void {
  if (counting.has(proto)) return;
  counting.add(proto);
  const push = (proto as Duplex).push;
  Object.defineProperties(proto, {
    push: {
      value: function (this: Counted, chunk: unknown, encoding?: BufferEncoding) {
        const c = this[kCounts];
        if (c && chunk) c.read += (chunk as Buffer).length;
        return push.call(this, chunk, encoding);
      },
      writable: true, configurable: true,
    },
    bytesRead: { get(this: Counted) { return this[kCounts]?.read ?? 0; }, configurable: true },
    bytesWritten: { get(this: Counted) { return this[kCounts]?.written ?? 0; }, configurable: true },
  });
}

type Cb = (err?: Error | null) => void;
interface RawWritable {
  _write(chunk: unknown, encoding: BufferEncoding, cb: Cb): void;
  _writev?(chunks: { chunk: unknown; encoding: BufferEncoding }[], cb: Cb): void;
}

// node:http writes response heads as latin1 strings. An Http2Stream (decodeStrings: false) hands
// those to its native handle's string writers, which corrupt them (node 24: the head arrives as
// garbage). Encoding to a Buffer first costs one copy of the head only; bodies are Buffers already.
function encodeStringWrites(w: RawWritable, counts: Counts): void {
  const write = w._write;
  w._write = function (chunk, encoding, cb) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk as Buffer;
    counts.written += b.length;
    write.call(this, b, typeof chunk === 'string' ? 'buffer' as BufferEncoding : encoding, cb);
  };
  const writev = w._writev;
  if (writev) {
    // The chunk list is built by Writable for this one call: fixed in place, no copy per write.
    w._writev = function (chunks, cb) {
      for (const c of chunks) {
        if (typeof c.chunk === 'string') {
          c.chunk = Buffer.from(c.chunk, c.encoding);
          c.encoding = 'buffer' as BufferEncoding;
        }
        counts.written += (c.chunk as Buffer).length;
      }
      writev.call(this, chunks, cb);
    };
  }
}

function split(a: string): [string, number] {
  const colon = a.lastIndexOf(':');
  if (colon < 0) return [a, 0];
  const host = a.slice(0, colon);
  return [host.startsWith('[') ? host.slice(1, -1) : host, Number(a.slice(colon + 1)) || 0];
}
