/**
 * Backup codes: ten single-use codes of ten digits, for when the authenticator is out of reach.
 *
 * The method's secret holds a random 16-byte salt followed by the HMAC-SHA-256 (keyed by the salt)
 * of each code; the codes themselves are shown once and never stored. lastStep is the set of used
 * codes as a bit mask (bit i: code i used). A use is consumed by an exact compare-and-set of that
 * mask (consume: 'exact'), so two codes used at the same moment both count, and a code is
 * accepted once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { VerifyResult } from '../oath.ts';
import type { MethodDefinition } from './method.ts';

export const BACKUP_CODE_COUNT = 10;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

/** "12345-67890", "1234567890", "12345 67890" -> "1234567890"; anything else -> undefined. */
export function normalizeBackupCode(code: string): string | undefined {
  const digits = code.replace(/[\s-]/g, '');
  return /^[0-9]{10}$/.test(digits) ? digits : undefined;
}

/** The stored form of a set of codes: salt, then one keyed hash per code. */
export function backupSecret(salt: Uint8Array, codes: readonly string[]): Uint8Array {
  const out = new Uint8Array(SALT_BYTES + codes.length * HASH_BYTES);
  out.set(salt.subarray(0, SALT_BYTES), 0);
  codes.forEach((code, i) => out.set(createHmac('sha256', salt.subarray(0, SALT_BYTES)).update(code).digest(), SALT_BYTES + i * HASH_BYTES));
  return out;
}

/** How many codes of the set are still unused. */
export function backupCodesLeft(secret: Uint8Array, usedMask: number | null): number {
  const count = Math.floor((secret.length - SALT_BYTES) / HASH_BYTES);
  let used = 0;
  for (let i = 0; i < count; i++) if (((usedMask ?? 0) >> i) & 1) used++;
  return count - used;
}

export function verifyBackupCode(secret: Uint8Array, usedMask: number | null, code: string): VerifyResult {
  const digits = normalizeBackupCode(code);
  if (digits === undefined) return { ok: false, reason: 'malformed' };
  const salt = secret.subarray(0, SALT_BYTES);
  const hash = createHmac('sha256', salt).update(digits).digest();
  const count = Math.floor((secret.length - SALT_BYTES) / HASH_BYTES);
  // Compare with every stored hash, in constant time each, whatever matches.
  let found = -1;
  for (let i = 0; i < count; i++) {
    const stored = secret.subarray(SALT_BYTES + i * HASH_BYTES, SALT_BYTES + (i + 1) * HASH_BYTES);
    if (timingSafeEqual(stored, hash) && found === -1) found = i;
  }
  if (found === -1) return { ok: false, reason: 'invalid' };
  const mask = usedMask ?? 0;
  if ((mask >> found) & 1) return { ok: false, reason: 'replayed' };
  return { ok: true, step: mask | (1 << found), drift: 0 };
}

export const backup: MethodDefinition = {
  type: 'backup',
  displayName: 'Backup codes',
  description: 'Ten single-use codes, printed or stored safely, for when the authenticator is out of reach.',
  answer: 'passcode',
  consume: 'exact',
  enrollableFrom: ['admin', 'portal'],
  enrollFields: [],
  legacy: false,
  numberMatching: false,
  fallbackOnly: false,
  verify: ({ method, code }) => verifyBackupCode(method.secret, method.lastStep, code),
};
