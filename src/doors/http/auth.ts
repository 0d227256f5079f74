/**
 * Access to the REST API: bearer API keys or an admin console session, per-caller and per-address
 * rate limits, and roles.
 *
 * Each route declares the roles that may call it in its config (`config: { roles: HELPDESK }`);
 * admin is in every list. A route without a list refuses everyone (fail closed).
 *
 * For every request under /api/v1 (except the documentation) the steps are, in order:
 *   1. resolve `Authorization: Bearer <key>` to a principal with `core.apiKeys.authenticate`
 *      (the core caches keys and compares in constant time; no other lookup happens here), or,
 *      when the request has no Authorization header but the console's session cookie, resolve the
 *      session with `core.sessions.resolve` (it must be signed in: stage complete);
 *   2. count the request against its key or console user (`perKeyPerMinute`), or, when it carries
 *      neither, against its client address (`perAddressPerMinute`): 429 `rate_limited` with Retry-After;
 *   3. neither: 401 `unauthenticated`;
 *   4. with a console session, a method other than GET, HEAD or OPTIONS must echo the session's
 *      anti-forgery token in `x-csrf-token` (compared in constant time): 403 `forbidden` otherwise;
 *   5. role (the key's, or the user's console role) not in the route's list: 403 `forbidden`;
 *   6. the caller becomes the request's actor (`apikey`, or `operator` for a console user),
 *      recorded in the audit trail by the core.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Actor, Core } from '../../core/api.ts';
import { CoreError } from '../../core/errors.ts';
import type { Role } from '../../core/types.ts';
import { CONSOLE_COOKIE, CSRF_HEADER, csrfMatches } from './console/cookie.ts';
import { problem, sendProblem } from './errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Roles allowed to call the route. Routes under /api/v1 without it refuse every key. */
    roles?: readonly Role[];
  }
  interface FastifyRequest {
    /** The caller, set once the API key and role were checked. */
    actor: Actor | null;
  }
}

/** Every role. */
export const ANY_ROLE: readonly Role[] = ['admin', 'sdk', 'helpdesk'];
/** Administrators only. */
export const ADMIN_ONLY: readonly Role[] = ['admin'];
/** Administrators and the help desk. */
export const HELPDESK: readonly Role[] = ['admin', 'helpdesk'];
/** Reads open to every role, auditors included. */
export const ANY_READER: readonly Role[] = ['admin', 'sdk', 'helpdesk', 'auditor'];
/** Reads for administrators, the help desk and auditors. */
export const HELPDESK_READ: readonly Role[] = ['admin', 'helpdesk', 'auditor'];
/** Reads for administrators and auditors. */
export const ADMIN_READ: readonly Role[] = ['admin', 'auditor'];

/** Methods that change nothing: no anti-forgery token is asked for them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Tokens longer than this are refused without asking the core. */
const MAX_TOKEN_LENGTH = 512;

export interface AccessOptions {
  readonly core: Core;
  readonly rateLimit: { readonly perKeyPerMinute: number; readonly perAddressPerMinute: number };
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length < 8 || header.length > MAX_TOKEN_LENGTH + 7) return undefined;
  if (header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const token = header.slice(7).trim();
  return token === '' ? undefined : token;
}

/** A per-minute limiter, or undefined when the limit is 0 (off). */
function perMinute(points: number, keyPrefix: string): RateLimiterMemory | undefined {
  if (!Number.isInteger(points) || points < 0) throw new Error(`rate limit for ${keyPrefix} must be a non-negative integer, got ${points}`);
  return points === 0 ? undefined : new RateLimiterMemory({ points, duration: 60, keyPrefix });
}

/** Takes one point; returns the seconds to wait when the limit is exceeded, else 0. */
async function take(limiter: RateLimiterMemory | undefined, key: string): Promise<number> {
  if (limiter === undefined) return 0;
  try {
    await limiter.consume(key);
    return 0;
  } catch (e) {
    if (e instanceof RateLimiterRes) return Math.max(1, Math.ceil(e.msBeforeNext / 1000));
    throw e;
  }
}

/** The onRequest hook guarding every API route (see the steps above). */
export function createAccessHook(opts: AccessOptions): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  const core = opts.core;
  const perKey = perMinute(opts.rateLimit.perKeyPerMinute, 'key');
  const perAddress = perMinute(opts.rateLimit.perAddressPerMinute, 'address');

  /** Steps 1 to 6 for a request carrying the console's session cookie and no Authorization header. */
  async function consoleAccess(request: FastifyRequest, reply: FastifyReply, cookie: string): Promise<FastifyReply | undefined> {
    const session = await core.sessions.resolve('console', cookie);
    const signedIn = session !== undefined && session.stage === 'complete' ? session : undefined;
    const wait = signedIn ? await take(perKey, `console:${signedIn.user.id}`) : await take(perAddress, request.ip);
    if (wait > 0) {
      return sendProblem(reply, problem('rate_limited', `Too many requests; retry in ${wait} s.`), { 'retry-after': String(wait) });
    }
    const role = signedIn?.user.consoleRole ?? null;
    if (signedIn === undefined || role === null) {
      return sendProblem(reply, problem('unauthenticated', 'The console session has ended: sign in again (or send "Authorization: Bearer <key>").'));
    }
    if (!SAFE_METHODS.has(request.method) && !csrfMatches(request.headers[CSRF_HEADER], signedIn.csrf)) {
      return sendProblem(reply, problem('forbidden', `missing or wrong ${CSRF_HEADER}`));
    }
    const roles = request.routeOptions.config.roles;
    if (roles === undefined || !roles.includes(role)) {
      return sendProblem(reply, problem('forbidden', `Console users with the role "${role}" may not call this route.`));
    }
    request.actor = { kind: 'operator', name: signedIn.user.username, role };
    return undefined;
  }

  return async function checkAccess(request, reply) {
    // A console session, when the caller sends its cookie and no API key.
    if (request.headers.authorization === undefined) {
      const cookie = request.cookies[CONSOLE_COOKIE];
      if (cookie !== undefined) return consoleAccess(request, reply, cookie);
    }

    // 1. Who is calling.
    const token = bearerToken(request.headers.authorization);
    const principal = token === undefined ? undefined : await core.apiKeys.authenticate(token);

    // 2. Rate limits: per key, or per address for requests without a valid key.
    const wait = principal ? await take(perKey, principal.apiKeyId) : await take(perAddress, request.ip);
    if (wait > 0) {
      return sendProblem(reply, problem('rate_limited', `Too many requests; retry in ${wait} s.`), { 'retry-after': String(wait) });
    }

    // 3. A valid key is required.
    if (principal === undefined) {
      const detail = request.headers.authorization === undefined ? 'An API key is required: send "Authorization: Bearer <key>".' : 'The API key is invalid or revoked.';
      return sendProblem(reply, problem('unauthenticated', detail));
    }

    // 4. The route must allow the key's role.
    const roles = request.routeOptions.config.roles;
    if (roles === undefined || !roles.includes(principal.role)) {
      return sendProblem(reply, problem('forbidden', `API keys with the role "${principal.role}" may not call this route.`));
    }

    // 5. The caller, for the core's audit trail.
    request.actor = { kind: 'apikey', name: principal.name, role: principal.role };
    return undefined;
  };
}

/** The request's actor; throws (fail closed) if access was not checked. */
export function actorOf(request: FastifyRequest): Actor {
  const actor = request.actor;
  if (actor === null) throw new CoreError('unauthenticated', 'No API key was checked for this request.');
  return actor;
}
