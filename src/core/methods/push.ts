/**
 * The push method: a mobile device (the Countersign Authenticator app) holding a P-256 key pair.
 * A sign-in shows a number; the device lists its pending requests, the user picks the number they
 * see among three, and the device signs its answer. The method's sealed secret holds, while the
 * device is being activated, the keyed hash of its activation code; once active, the device's
 * public key and its Web Push subscription (which only wakes the app; requests are always fetched
 * by the device itself, signed).
 */
import type { PushSubscription } from '../ports.ts';
import type { MethodRecord } from '../types.ts';
import type { MethodDefinition } from './method.ts';
import { noCodeOfItsOwn } from './phone.ts';

export interface DeviceSecret {
  /** While pending: keyed hash of the activation code's secret part. */
  readonly activation?: string;
  /** Once active: the device's ECDSA P-256 public key, SPKI DER, base64url. */
  readonly publicKey?: string;
  readonly subscription?: PushSubscription | null;
}

export function encodeDevice(secret: DeviceSecret): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(secret));
}

export function decodeDevice(method: MethodRecord): DeviceSecret {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(method.secret)) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as DeviceSecret) : {};
  } catch {
    return {};
  }
}

/** The lowest and highest number shown for matching. */
export const MATCH_MIN = 10;
export const MATCH_MAX = 99;

export const push: MethodDefinition = {
  type: 'push',
  displayName: 'Mobile app (push)',
  description: 'Countersign Authenticator on a phone: the user approves each sign-in by picking the number shown where they sign in.',
  answer: 'out-of-band',
  consume: 'exact',
  enrollableFrom: ['admin', 'portal'],
  enrollFields: [],
  legacy: false,
  numberMatching: true,
  fallbackOnly: false,
  verify: noCodeOfItsOwn,
};
