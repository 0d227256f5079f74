/**
 * What the server-rendered pages share (the user portal, the gateway's sign-in pages): security
 * headers with a strict Content-Security-Policy (no script at all), the stylesheet's version, the
 * format of a code, and form helpers.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuthenticationOutcome } from '../../core/api.ts';
import { PORTAL_CSS } from './portal/assets.ts';

export const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
export const PAGE_HEADERS = {
  'content-security-policy': PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'x-frame-options': 'DENY',
};
/** Cache-busting version of the stylesheet (served immutable). */
export const CSS_VERSION = createHash('sha256').update(PORTAL_CSS).digest('hex').slice(0, 12);
/** Codes per sign-in before it ends (each wrong one also counts toward the account lockout). */
export const MAX_CODE_ATTEMPTS = 5;

/** What a waiting page shows while an app or a phone call answers a sign-in. */
export interface Waiting {
  /** The number to select in the app (push). */
  readonly match?: number;
  /** The phone called, masked. */
  readonly sentTo: string;
}

/** For a sign-in waiting for the app or a call: what its page shows, as session data (`{ waiting }`); `{}` otherwise. */
export function waitingOf(outcome: AuthenticationOutcome): { waiting?: Waiting } {
  if (outcome.view.state !== 'pending') return {};
  return { waiting: { ...(outcome.match !== undefined ? { match: outcome.match } : {}), sentTo: outcome.sentTo ?? '' } };
}
/** A code from an authenticator (6 to 8 digits) or a backup code (10 digits, maybe split 5-5). */
export const CODE = /^(?:[0-9]{6,8}|[0-9]{5}[ -]?[0-9]{5})$/;

/** A form or query field as text (cut at `max`), or '' when absent or not text. */
export function field(body: unknown, name: string, max = 1024): string {
  const v = (body as Record<string, string | undefined> | undefined)?.[name];
  return typeof v === 'string' ? v.slice(0, max) : '';
}

/** Constant-time comparison of an anti-forgery token with the expected one (never equal when empty). */
export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (typeof a !== 'string' || typeof b !== 'string' || a.length === 0) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
