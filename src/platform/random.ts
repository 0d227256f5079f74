import { randomBytes, randomInt } from 'node:crypto';
import type { Random } from '../core/ports.ts';

const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

/** Draws from a pooled CSPRNG buffer: ids are minted on the hot path, one syscall per 4 KiB. */
function take(n: number): Buffer {
  if (n > POOL_SIZE / 4) return randomBytes(n);
  if (offset + n > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + n));
  pool.fill(0, offset, offset + n);
  offset += n;
  return out;
}

/**
 * Identifiers: 48-bit millisecond time prefix then 80 random bits, base64url (22 characters),
 * so ids sort by creation time and never collide in practice.
 */
function id(now: number = Date.now()): string {
  const buf = Buffer.allocUnsafe(16);
  buf.writeUIntBE(now, 0, 6);
  take(10).copy(buf, 6);
  return buf.toString('base64url');
}

export const systemRandom: Random = {
  bytes: (n) => new Uint8Array(take(n)),
  id: () => id(),
  int: (max) => randomInt(max),
};
