/**
 * OATH one-time passwords (RFC 4226 HOTP, RFC 6238 TOTP). Pure functions: no clock, no storage.
 * Codes are node:crypto's HMAC over the 8-byte counter, then RFC 4226's dynamic truncation (5.3);
 * otpauth reads and writes secrets (base32) and otpauth:// URIs. This module adds the replay rule,
 * the strict code format and constant-time comparison that the authentication engine relies on.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { HOTP, Secret, URI, TOTP } from 'otpauth';
import type { OathConfig } from './types.ts';

export type OathAlgorithm = OathConfig['algorithm'];

const HMAC_NAMES: Record<OathAlgorithm, string> = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' };

/**
 * A secret prepared for code generation: a KeyObject made once per secret (a raw-buffer HMAC key
 * costs more per call) and one counter buffer reused for every code.
 */
class OathKey {
  readonly #key: KeyObject;
  readonly #counter = Buffer.alloc(8);
  constructor(secret: Uint8Array) {
    this.#key = createSecretKey(secret);
  }
  code(counter: number, config: Pick<OathConfig, 'algorithm' | 'digits'>): string {
    // The counter as an unsigned 64-bit big-endian integer (a JavaScript number is exact up to 2^53).
    this.#counter.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 0);
    this.#counter.writeUInt32BE(counter >>> 0, 4);
    const mac = createHmac(HMAC_NAMES[config.algorithm], this.#key).update(this.#counter).digest();
    const offset = (mac[mac.length - 1] as number) & 0x0f;
    const binary = ((mac[offset] as number) & 0x7f) * 0x100_0000 + mac.readUIntBE(offset + 1, 3);
    return String(binary % 10 ** config.digits).padStart(config.digits, '0');
  }
}

/** The code for one counter value (HOTP) or time step (TOTP). */
export function generateCode(secret: Uint8Array, counter: number, config: Pick<OathConfig, 'algorithm' | 'digits'>): string {
  return new OathKey(secret).code(counter, config);
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

const ASCII_DIGITS = /^[0-9]+$/;

/**
 * A passcode is exactly `digits` ASCII digits: no spaces, no separators, no other scripts' digits.
 */
export function isWellFormedCode(code: string, digits: number): boolean {
  return code.length === digits && ASCII_DIGITS.test(code);
}

function sameCode(a: string, b: string): boolean {
  // Both are validated ASCII strings of equal length.
  return timingSafeEqual(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
}

export type VerifyResult =
  { readonly ok: true; readonly step: number; readonly drift: number } | { readonly ok: false; readonly reason: 'malformed' | 'invalid' | 'replayed' };

export interface TotpVerifyInput {
  readonly secret: Uint8Array;
  readonly config: Pick<OathConfig, 'algorithm' | 'digits' | 'period'>;
  /** The last accepted time step, or null. Codes for this step or earlier are refused. */
  readonly lastStep: number | null;
  readonly code: string;
  /** Epoch milliseconds. */
  readonly now: number;
  /** Steps accepted either side of the current one (1 = +-30 s at the default period). */
  readonly window: number;
}

/**
 * TOTP verification. Every step in the window is computed and compared in constant time (the loop
 * does not exit early on a match), the current step first in preference. Returns the matched step
 * for the caller to store as the replay guard, and the drift in steps.
 */
export function verifyTotp(input: TotpVerifyInput): VerifyResult {
  const { secret, config, lastStep, code, now, window } = input;
  if (!isWellFormedCode(code, config.digits)) return { ok: false, reason: 'malformed' };
  const current = Math.floor(now / 1000 / config.period);
  const key = new OathKey(secret);
  let matched: number | null = null;
  for (let delta = -window; delta <= window; delta++) {
    const step = current + delta;
    if (step < 0) continue;
    const hit = sameCode(key.code(step, config), code);
    if (hit && (matched === null || Math.abs(delta) < Math.abs(matched - current))) matched = step;
  }
  if (matched === null) return { ok: false, reason: 'invalid' };
  if (lastStep !== null && matched <= lastStep) return { ok: false, reason: 'replayed' };
  return { ok: true, step: matched, drift: matched - current };
}

export interface HotpVerifyInput {
  readonly secret: Uint8Array;
  readonly config: Pick<OathConfig, 'algorithm' | 'digits'>;
  /** The last accepted counter, or null when the token was never used (next expected is 0). */
  readonly lastStep: number | null;
  readonly code: string;
  /** How many counters after the expected one are also accepted. */
  readonly lookAhead: number;
}

/** HOTP verification: counters lastStep+1 .. lastStep+1+lookAhead, compared in constant time. */
export function verifyHotp(input: HotpVerifyInput): VerifyResult {
  const { secret, config, lastStep, code, lookAhead } = input;
  if (!isWellFormedCode(code, config.digits)) return { ok: false, reason: 'malformed' };
  const first = lastStep === null ? 0 : lastStep + 1;
  const key = new OathKey(secret);
  let matched: number | null = null;
  for (let counter = first; counter <= first + lookAhead; counter++) {
    if (sameCode(key.code(counter, config), code) && matched === null) matched = counter;
  }
  if (matched === null) {
    // A code from the recent past is a replay, not a guess: report it as such in the audit trail.
    if (lastStep !== null) {
      for (let counter = Math.max(0, lastStep - 2); counter <= lastStep; counter++) {
        if (sameCode(key.code(counter, config), code)) return { ok: false, reason: 'replayed' };
      }
    }
    return { ok: false, reason: 'invalid' };
  }
  return { ok: true, step: matched, drift: matched - first };
}

/**
 * HOTP resynchronization (RFC 4226 section 7.4): finds two consecutive counters after lastStep,
 * within `searchWindow`, whose codes are code1 then code2. Returns the counter of code2.
 */
export function resyncHotp(input: {
  readonly secret: Uint8Array;
  readonly config: Pick<OathConfig, 'algorithm' | 'digits'>;
  readonly lastStep: number | null;
  readonly code1: string;
  readonly code2: string;
  readonly searchWindow: number;
}): number | null {
  const { secret, config, lastStep, code1, code2, searchWindow } = input;
  if (!isWellFormedCode(code1, config.digits) || !isWellFormedCode(code2, config.digits)) return null;
  const first = lastStep === null ? 0 : lastStep + 1;
  const key = new OathKey(secret);
  let previous = key.code(first, config);
  for (let counter = first + 1; counter <= first + searchWindow; counter++) {
    const next = key.code(counter, config);
    if (sameCode(previous, code1) && sameCode(next, code2)) return counter;
    previous = next;
  }
  return null;
}

export function toBase32(secret: Uint8Array): string {
  return new Secret({ buffer: toArrayBuffer(secret) }).base32;
}

/** Parses a base32 (RFC 4648, case-insensitive, spaces and padding ignored) or 0x-prefixed hex secret. */
export function parseSecret(text: string): Uint8Array | null {
  const t = text.trim();
  if (/^0x[0-9a-fA-F]+$/.test(t) && t.length % 2 === 0) return new Uint8Array(Buffer.from(t.slice(2), 'hex'));
  const b32 = t.replace(/[\s-]/g, '').replace(/=+$/, '').toUpperCase();
  if (b32.length === 0 || !/^[A-Z2-7]+$/.test(b32)) return null;
  try {
    const bytes = Secret.fromBase32(b32).bytes;
    return bytes.length > 0 ? new Uint8Array(bytes) : null;
  } catch {
    return null;
  }
}

export function otpauthUri(input: {
  readonly type: 'totp' | 'hotp';
  readonly issuer: string;
  readonly account: string;
  readonly secret: Uint8Array;
  readonly config: Pick<OathConfig, 'algorithm' | 'digits' | 'period'>;
  readonly counter?: number;
}): string {
  const secret = new Secret({ buffer: toArrayBuffer(input.secret) });
  const common = { issuer: input.issuer, label: input.account, secret, algorithm: input.config.algorithm, digits: input.config.digits };
  const otp = input.type === 'totp' ? new TOTP({ ...common, period: input.config.period }) : new HOTP({ ...common, counter: input.counter ?? 0 });
  return URI.stringify(otp);
}
