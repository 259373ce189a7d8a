// Request and trace IDs from a pooled CSPRNG buffer: one randomFillSync per 4096 IDs instead of
// one per request (randomBytes per request was 4.5% of proxy CPU under load).
import { randomFillSync } from 'node:crypto';

const POOL = Buffer.allocUnsafe(64 * 1024);
let offset = POOL.length;

function take(n: number): Buffer {
  if (offset + n > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const b = POOL.subarray(offset, offset + n);
  offset += n;
  return b;
}

export function randomHex(bytes: number): string {
  return take(bytes).toString('hex');
}

/** RFC 9562 version 4 UUID. */
export function uuid4(): string {
  const b = take(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
