/**
 * What the forward-auth door and the built-in reverse proxy share: the session cookie, whether a
 * session may reach a site, the client's address, and the identity passed to applications.
 */
import type { FastifyRequest } from 'fastify';
import type { Core, SessionView } from '../../../core/api.ts';
import type { Clock } from '../../../core/ports.ts';
import type { NetworkList } from '../../../core/auth/networks.ts';
import type { Site } from './sites.ts';

/** Identity headers a proxy copies to the application; any copy sent by a client must be replaced or removed. */
export const IDENTITY_HEADERS = ['remote-user', 'remote-email', 'remote-name', 'remote-groups'] as const;
/** Header values are sent only when plain printable ASCII (no header injection, no encoding ambiguity). */
const HEADER_SAFE = /^[\x20-\x7e]{1,512}$/;

/** The session cookie: host-only `__Host-` by default, `__Secure-` when shared under a domain. */
export function sessionCookie(cookieDomain: string | undefined) {
  return {
    name: cookieDomain ? '__Secure-cs_gateway' : '__Host-cs_gateway',
    // Lax: people arrive from the protected sites by top-level navigation; forms carry their own tokens.
    options: { path: '/', secure: true, httpOnly: true, sameSite: 'lax' as const, ...(cookieDomain ? { domain: cookieDomain } : {}) },
  };
}

/** The sites a session has passed the second factor for, with when. */
export function approvals(session: SessionView): Record<string, number> {
  const sites = session.data['sites'];
  return typeof sites === 'object' && sites !== null ? (sites as Record<string, number>) : {};
}

/** Whether the session may reach the site now: signed in, and the site's second factor still remembered. */
export function passes(session: SessionView | undefined, site: Site, now: number): boolean {
  if (session?.stage !== 'complete') return false;
  const at = approvals(session)[site.name];
  return typeof at === 'number' && now - at < site.cacheSeconds * 1000;
}

/** The client: the last X-Forwarded-For entry when a trusted proxy relays the request, else the peer. */
export function clientAddress(request: FastifyRequest, proxies: NetworkList): string | null {
  const peer = request.socket.remoteAddress ?? null;
  if (!proxies.contains(peer)) return peer;
  const forwarded = request.headers['x-forwarded-for'];
  const list = typeof forwarded === 'string' ? forwarded.split(',') : [];
  const last = list.at(-1)?.trim();
  return last === undefined || last === '' ? peer : last;
}

/** The groups of the session's user passed to one site (found at that site's sign-in). */
export function siteGroups(session: SessionView, siteName: string): string[] {
  const all = session.data['groups'];
  const mine = typeof all === 'object' && all !== null ? (all as Record<string, unknown>)[siteName] : undefined;
  return Array.isArray(mine) ? mine.filter((g): g is string => typeof g === 'string') : [];
}

/** The identity headers of a session for a site, every one present (empty when unknown or unsafe). */
export function identityHeaders(session: SessionView, siteName: string): Record<(typeof IDENTITY_HEADERS)[number], string> {
  const user = session.user;
  const groups = siteGroups(session, siteName);
  const values: Record<string, string | null> = {
    'remote-user': user.username,
    'remote-email': user.email,
    'remote-name': user.displayName,
    'remote-groups': groups.join(','),
  };
  const out = {} as Record<(typeof IDENTITY_HEADERS)[number], string>;
  for (const name of IDENTITY_HEADERS) {
    const v = values[name];
    out[name] = typeof v === 'string' && HEADER_SAFE.test(v) ? v : '';
  }
  return out;
}

/** At most this many sessions are remembered by one process; past it the memory starts over. */
const MEMO_LIMIT = 10_000;

/**
 * Gateway sessions as decisions read them: a session read from the store is reused for `ttlMs`
 * (by the core's clock), so the many requests of one page load cost one read. A sign-out through
 * this process forgets it at once; any other change (a sign-out on another node, a blocked or
 * disabled account) applies within `ttlMs`. 0 reads the store every time.
 */
export function createSessionMemo(core: Pick<Core, 'sessions'>, clock: Clock, ttlMs: number) {
  const memo = new Map<string, { readonly session: SessionView | undefined; readonly at: number }>();
  return {
    async resolve(token: string | undefined): Promise<SessionView | undefined> {
      if (ttlMs <= 0 || token === undefined) return core.sessions.resolve('gateway', token);
      const now = clock.now();
      const hit = memo.get(token);
      if (hit && now - hit.at < ttlMs && now >= hit.at) return hit.session;
      const session = await core.sessions.resolve('gateway', token);
      if (memo.size >= MEMO_LIMIT) memo.clear();
      memo.set(token, { session, at: now });
      return session;
    },
    forget(token: string | undefined): void {
      if (token !== undefined) memo.delete(token);
    },
  };
}

export type SessionMemo = ReturnType<typeof createSessionMemo>;
