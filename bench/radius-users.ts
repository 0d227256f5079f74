/**
 * The users of the RADIUS benchmark, shared by the harness (bench/radius.ts) and the load generator
 * (bench/radius-load.ts): names, TOTP secrets, FreeRADIUS passwords and TOTP codes, all derived
 * from the user's index so that neither process has to send the other 200,000 secrets.
 */
import { createHmac } from 'node:crypto';

export const userName = (i: number): string => `ruser${String(i).padStart(6, '0')}`;

/** The user's TOTP secret (20 octets, SHA-1), as seeded into Countersign. */
export const totpSecretOf = (name: string): Buffer => createHmac('sha1', 'countersign-bench-radius-totp').update(name).digest();

/** The user's cleartext password in the FreeRADIUS users file (16 characters). */
export const papPasswordOf = (name: string): string => createHmac('sha1', 'countersign-bench-radius-pap').update(name).digest('base64url').slice(0, 16);

/** The local password of the users that have one (append mode); they share it, so one argon2 hash is seeded. */
export const LOCAL_PASSWORD = 'Bench-local-password-1';

/** The 6-digit TOTP code (RFC 6238: HMAC-SHA1, 30-second steps, dynamic truncation of RFC 4226) at `timeMs`. */
export function totpCode(secret: Uint8Array, timeMs: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(timeMs / 30_000)));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[19]! & 0x0f;
  const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(binary % 1_000_000).padStart(6, '0');
}
