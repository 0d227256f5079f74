/**
 * The admin console's session cookie. A `__Host-` cookie: the browser keeps it only when it is
 * Secure, has Path=/ and no Domain, so no other host or path can set or shadow it. SameSite=Strict
 * keeps it off every request another site starts.
 */
import { timingSafeEqual } from 'node:crypto';

export const CONSOLE_COOKIE = '__Host-cs_console';

export const CONSOLE_COOKIE_OPTIONS = { path: '/', secure: true, httpOnly: true, sameSite: 'strict' } as const;

/** The header a console page (or a script holding the cookie) echoes the session's anti-forgery token in. */
export const CSRF_HEADER = 'x-csrf-token';

/** Constant-time comparison of a presented anti-forgery token with the session's. */
export function csrfMatches(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
