// Request and trace IDs from a pooled CSPRNG buffer: one randomFillSync per 4096 IDs instead of
// one per request (randomBytes per request was 4.5% of proxy CPU under load).
import { randomFillSync, randomUUID } from 'node:crypto';

const POOL = Buffer.allocUnsafe(64 * 1024);
let offset = POOL.length;

// Hot path: hex straight from the pool with toString(enc, start, end): no subarray Buffer per call
// (~20% faster than subarray().toString('hex'); a byte->hex table with string concatenation was
// slower once the result is flattened, and slicing one hex string of the whole pool pins 128 KB).
export function randomHex(bytes: number): string {
  if (offset + bytes > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const s = POOL.toString('hex', offset, offset + bytes);
  offset += bytes;
  return s;
}

/**
 * RFC 9562 version 4 UUID. Hot path: Node's randomUUID keeps its own entropy cache and formats
 * without intermediate strings (~20% faster than hex + five slices + a template).
 */
export function uuid4(): string {
  return randomUUID();
}
