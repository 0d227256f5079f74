import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { hash, verify, type Algorithm } from '@node-rs/argon2';
import type { KeyedHasher, PasswordHasher } from '../core/ports.ts';

/** argon2id with OWASP's second recommended profile (19 MiB, 2 passes). */
export function argon2Hasher(opts: { memoryCost?: number; timeCost?: number } = {}): PasswordHasher {
  const params = { algorithm: 2 as Algorithm /* Argon2id */, memoryCost: opts.memoryCost ?? 19_456, timeCost: opts.timeCost ?? 2, parallelism: 1 };
  return {
    hash: (plain) => hash(plain, params),
    verify: async (digest, plain) => {
      try {
        return await verify(digest, plain);
      } catch {
        return false;
      }
    },
  };
}

/** HMAC-SHA-256 under a server-side pepper, for high-entropy secrets such as API keys. */
export function hmacHasher(pepper: Uint8Array): KeyedHasher {
  const key = createSecretKey(Buffer.from(pepper));
  const digestBuf = (value: string): Buffer => createHmac('sha256', key).update(value, 'utf8').digest();
  return {
    digest: (value) => digestBuf(value).toString('hex'),
    matches: (value, expectedHex) => {
      const expected = Buffer.from(expectedHex, 'hex');
      const actual = digestBuf(value);
      return expected.length === actual.length && timingSafeEqual(actual, expected);
    },
  };
}
