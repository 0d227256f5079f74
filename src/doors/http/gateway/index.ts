/**
 * The web gateway's forward-auth door (/gateway): reverse proxies people already run ask here
 * whether a request may pass, and send people without a session to the sign-in page here.
 *
 *   GET /gateway/auth           nginx auth_request: 200 (pass, identity in Remote-* headers),
 *                               401 with the sign-in address in Location, or 403 (denied)
 *   GET /gateway/forward-auth   Traefik ForwardAuth, Caddy forward_auth, HAProxy: the same
 *                               decision, with 302 to the sign-in page instead of 401
 *   /gateway/sign-in, /verify   first factor, then second factor, then back to where the user was
 *   /gateway/sign-out           ends the session: every site's next request needs a new sign-in
 *
 * Decisions are asked only by the configured proxies (`gateway.proxies`); anything else gets 403.
 * The original request comes from `X-Original-URL` (/auth) or `X-Forwarded-Proto/-Host/-Uri`
 * (/forward-auth), never the other (a proxy passes on headers it does not set); its origin
 * picks the site (unknown origins are denied), its raw path the public-path rules (ambiguous paths
 * are never public, see targets.ts). The client address is the last `X-Forwarded-For` entry the
 * proxy added. A session is one core session of kind 'gateway' in a cookie (`__Host-cs_gateway`,
 * or `__Secure-cs_gateway` scoped to `gateway.cookieDomain`); each site remembers its second factor
 * for its `cacheSeconds`. Redirects go only to configured site origins.
 */
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Actor, AuthenticationOutcome, AuthenticationView, Core, SessionView } from '../../../core/api.ts';
import { NetworkList } from '../../../core/auth/networks.ts';
import { isCoreError } from '../../../core/errors.ts';
import type { Clock, FirstFactorProvider } from '../../../core/ports.ts';
import { systemRandom } from '../../../platform/random.ts';
import { CODE, CSS_VERSION, field, MAX_CODE_ATTEMPTS, PAGE_HEADERS, sameToken, waitingOf, type Waiting } from '../pages.ts';
import { PORTAL_CSS } from '../portal/assets.ts';
import { fromAcceptLanguage, supported, translator, type Translate } from '../portal/i18n.ts';
import type { PortalKey } from '../portal/locales/en.ts';
import { approvals, clientAddress, createSessionMemo, identityHeaders, passes, sessionCookie, type SessionMemo } from './common.ts';
import { compileSites, originalTarget, type GatewaySiteConfig, type Site, type SiteTable } from './sites.ts';
import { normalizePath, safeRedirect } from './targets.ts';
import { createGatewayViews, type GatewayPage } from './views.ts';

export interface GatewayOptions {
  readonly core: Core;
  readonly firstFactor: FirstFactorProvider;
  readonly clock: Clock;
  readonly sites: readonly GatewaySiteConfig[];
  /**
   * Public base URL of the sign-in pages when they are served on one host for every site
   * (`https://auth.example.com`, with `cookieDomain`). Absent: each site's own origin, where the
   * proxy forwards /gateway/ to Countersign.
   */
  readonly url?: string | undefined;
  /** Domain the session cookie is shared under (`example.com`); absent: a host-only `__Host-` cookie. */
  readonly cookieDomain?: string | undefined;
  /** Addresses or CIDRs of the reverse proxies: only they get decisions, and only their X-Forwarded-For is believed. */
  readonly proxies: readonly string[];
  /** Sign-in attempts per minute per client address (default 20). */
  readonly signInPerMinute?: number | undefined;
  /** How long a decision may reuse a session read from the store, in milliseconds (default 1000; 0: every decision reads it). */
  readonly decisionCacheMs?: number | undefined;
  /** Observes every forward-auth decision (metrics): the site's name ('' when none matched) and what was decided. */
  readonly onDecision?: ((site: string, decision: GatewayDecisionKind) => void) | undefined;
  /** Whether a user is a member of a directory group (for sites' `groups`); throws when the directory cannot be asked. */
  readonly membership?: ((directory: string, username: string, group: string) => Promise<boolean>) | undefined;
  /** The session memory to share with the built-in proxy of the same site (so a sign-out here is forgotten there too). */
  readonly sessionMemo?: SessionMemo | undefined;
}

const FORM_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** What a forward-auth decision was, for metrics. */
export type GatewayDecisionKind = 'allowed' | 'public' | 'sign_in' | 'refused' | 'not_a_proxy' | 'unknown_site';

type Decision = { readonly kind: GatewayDecisionKind; readonly siteName?: string } & (
  | { readonly status: 200; readonly session?: SessionView; readonly site?: Site }
  | { readonly status: 401; readonly location: string }
  | { readonly status: 403 }
);

const GATEWAY_ACTOR: Actor = { kind: 'system', name: 'gateway', role: 'self' };
const actorOf = (session: SessionView): Actor => ({ kind: 'user', name: session.user.username, role: 'self' });

export async function gatewayDoor(app: FastifyInstance, opts: GatewayOptions): Promise<void> {
  const { core, firstFactor, clock } = opts;
  const table: SiteTable = compileSites(opts.sites);
  const proxies = new NetworkList(opts.proxies);
  const views = createGatewayViews();
  const signInLimit = new RateLimiterMemory({ points: opts.signInPerMinute ?? 20, duration: 60, keyPrefix: 'gateway-sign-in' });
  const { name: cookieName, options: cookieOptions } = sessionCookie(opts.cookieDomain);
  const formCookie = '__Host-cs_gateway_form';
  const formCookieOptions = { path: '/', secure: true, httpOnly: true, sameSite: 'strict' as const };
  const base = opts.url?.replace(/\/+$/, '');

  await app.register(formbody, { bodyLimit: 16 * 1024 });
  app.addHook('onRoute', (route) => {
    route.schema = { ...(route.schema ?? {}), hide: true };
  });

  // ---- Who is asking, from where ----------------------------------------------------------------

  const fromProxy = (request: FastifyRequest): boolean => proxies.contains(request.socket.remoteAddress);
  const clientIp = (request: FastifyRequest): string | null => clientAddress(request, proxies);
  const memo = opts.sessionMemo ?? createSessionMemo(core, clock, opts.decisionCacheMs ?? 1000);

  function signInUrl(siteOrigin: string, target: string): string {
    return `${base ?? siteOrigin}/gateway/sign-in?rd=${encodeURIComponent(target)}`;
  }

  const passesNow = (session: SessionView | undefined, site: Site): boolean => passes(session, site, clock.now());

  // ---- Decisions ------------------------------------------------------------------------------

  async function decide(request: FastifyRequest, convention: 'original-url' | 'forwarded'): Promise<Decision> {
    if (!fromProxy(request)) return { status: 403, kind: 'not_a_proxy' };
    const target = originalTarget(request.headers, convention);
    const site = target ? table.byOrigin(target.origin) : undefined;
    if (!target || !site) return { status: 403, kind: 'unknown_site' };
    const siteName = site.name;
    const path = normalizePath(target.rawPath);
    if (site.refuses(path, clientIp(request))) return { status: 403, kind: 'refused', siteName };
    if (site.isPublic(path)) return { status: 200, kind: 'public', siteName };
    const session = await memo.resolve(request.cookies[cookieName]);
    if (session && passesNow(session, site)) return { status: 200, kind: 'allowed', siteName, session, site };
    return { status: 401, kind: 'sign_in', siteName, location: signInUrl(target.origin, target.url) };
  }

  /** The decision, counted. */
  async function decided(request: FastifyRequest, convention: 'original-url' | 'forwarded'): Promise<Decision> {
    const d = await decide(request, convention);
    opts.onDecision?.(d.siteName ?? '', d.kind);
    return d;
  }

  /** Every identity header, always set (empty when unknown), so a proxy copying it replaces whatever the client sent. */
  function identity(reply: FastifyReply, session: SessionView, site: Site): void {
    reply.headers(identityHeaders(session, site.name));
  }

  // A decision is made for every request of every protected page: no request log line for each
  // (warnings and errors still are logged; sign-ins and their second factors are audited).
  const decisionRoute = { logLevel: 'warn' as const };

  app.get('/auth', decisionRoute, async (request, reply) => {
    const d = await decided(request, 'original-url');
    reply.header('cache-control', 'no-store');
    if (d.status === 200 && d.session && d.site) identity(reply, d.session, d.site);
    if (d.status === 401) reply.header('location', d.location);
    return reply.code(d.status).send();
  });

  app.get('/forward-auth', decisionRoute, async (request, reply) => {
    const d = await decided(request, 'forwarded');
    reply.header('cache-control', 'no-store');
    if (d.status === 200 && d.session && d.site) identity(reply, d.session, d.site);
    if (d.status === 401) return reply.code(302).header('location', d.location).send();
    return reply.code(d.status).send();
  });

  // ---- Pages ----------------------------------------------------------------------------------

  function t(request: FastifyRequest): { t: Translate; lang: string } {
    const lang = fromAcceptLanguage(request.headers['accept-language']) ?? supported('en') ?? 'en';
    return { t: translator(lang), lang };
  }

  function render(request: FastifyRequest, reply: FastifyReply, page: GatewayPage, title: string, data: Record<string, unknown>, status = 200): FastifyReply {
    const { t: tr, lang } = t(request);
    const html = views.render(`@${page}`, { t: tr, lang, title, cssVersion: CSS_VERSION, notice: null, csrf: '', ...data });
    return reply.code(status).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(html);
  }

  const go = (reply: FastifyReply, to: string): FastifyReply => reply.code(303).headers(PAGE_HEADERS).header('location', to).send();

  /** The destination of a sign-in and its site, when it is a configured site's address. */
  function destination(raw: string): { url: string; site: Site } | undefined {
    const url = safeRedirect(raw, table.allowed);
    const site = url ? table.byOrigin(url.origin) : undefined;
    return url && site ? { url: url.href, site } : undefined;
  }

  function noDestination(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const { t: tr } = t(request);
    return render(request, reply, 'message', tr('signIn.title'), { notice: { kind: 'bad', text: tr('gateway.noDestination') } }, 400);
  }

  function signInForm(
    request: FastifyRequest,
    reply: FastifyReply,
    dest: { url: string; site: Site },
    username: string,
    notice: PortalKey | null,
    status = 200,
  ): FastifyReply {
    const { t: tr } = t(request);
    // One token per browser, kept across page loads: a sign-in page loaded meanwhile (a favicon or
    // an image redirected here by the proxy) must not invalidate the form on screen.
    const kept = request.cookies[formCookie];
    const token = kept !== undefined && FORM_TOKEN.test(kept) ? kept : Buffer.from(systemRandom.bytes(32)).toString('base64url');
    reply.setCookie(formCookie, token, formCookieOptions);
    return render(
      request,
      reply,
      'signIn',
      tr('gateway.title', { site: dest.site.name }),
      { csrf: token, rd: dest.url, username, notice: notice ? { kind: 'bad', text: tr(notice) } : null },
      status,
    );
  }

  function verifyForm(request: FastifyRequest, reply: FastifyReply, session: SessionView, site: Site, notice: PortalKey | null, status = 200): FastifyReply {
    const { t: tr } = t(request);
    return render(
      request,
      reply,
      'verify',
      tr('gateway.title', { site: site.name }),
      { csrf: session.csrf, site: site.name, notice: notice ? { kind: 'bad', text: tr(notice) } : null },
      status,
    );
  }

  /**
   * Opens the second factor for a site: the core decides (trusted networks of the site's
   * application, a one-time bypass, or a challenge). Approved: the site is remembered and the user
   * goes on. Challenge: the verify page.
   */
  async function secondFactor(request: FastifyRequest, reply: FastifyReply, session: SessionView, dest: { url: string; site: Site }): Promise<FastifyReply> {
    // The user's default method: a code, or an approval in the app or by phone that the page waits for.
    const outcome = await core.authentications.create(
      {
        username: session.user.username,
        application: dest.site.application,
        clientIp: clientIp(request),
        exemptions: { trustedIp: true, cache: false, bypass: true },
      },
      actorOf(session),
    );
    if (outcome.view.state === 'approved') return approve(reply, session, dest);
    if (outcome.view.state !== 'challenge' && outcome.view.state !== 'pending') return denied(request, reply, session, dest);
    const waiting = waitingOf(outcome);
    const pending = await core.sessions.update(session, {
      data: { ...session.data, pending: { authenticationId: outcome.view.id, site: dest.site.name, rd: dest.url, attempts: 0, ...waiting } },
    });
    return waiting.waiting ? waitingPage(request, reply, pending, waiting.waiting) : verifyForm(request, reply, pending, dest.site, null);
  }

  function waitingPage(request: FastifyRequest, reply: FastifyReply, session: SessionView, waiting: Waiting): FastifyReply {
    const { t: tr } = t(request);
    return render(request, reply, 'waiting', tr('waiting.title'), {
      ...waiting,
      refresh: { seconds: 3, url: '/gateway/verify' },
      codeAction: '/gateway/verify/code',
      csrf: session.csrf,
    });
  }

  /** The site's groups the user belongs to; a group whose directory cannot be asked is left out (and logged). */
  async function groupsOf(username: string, site: Site): Promise<string[]> {
    const out: string[] = [];
    for (const g of site.groups ?? []) {
      if (!opts.membership) break;
      try {
        if (await opts.membership(g.directory, username, g.group)) out.push(g.name);
      } catch (e) {
        app.log.warn({ err: e, site: site.name, group: g.name, username }, 'gateway: group membership could not be checked; the group is left out');
      }
    }
    return out;
  }

  /** A sign-in denied for good: the session ends; the site's own denial page, or the sign-in form saying it failed. */
  async function denied(request: FastifyRequest, reply: FastifyReply, session: SessionView, dest: { url: string; site: Site }): Promise<FastifyReply> {
    await core.sessions.end(session.token);
    memo.forget(session.token);
    reply.clearCookie(cookieName, cookieOptions);
    if (dest.site.denialHtml !== undefined) return reply.code(403).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(dest.site.denialHtml);
    return signInForm(request, reply, dest, '', 'signIn.failed', 401);
  }

  /** The site's second factor passed: a new session token (renewed at every sign-in), then back to the site. */
  async function approve(reply: FastifyReply, session: SessionView, dest: { url: string; site: Site }): Promise<FastifyReply> {
    const { pending: _pending, ...rest } = session.data;
    const groups = {
      ...(typeof rest['groups'] === 'object' && rest['groups'] !== null ? (rest['groups'] as Record<string, unknown>) : {}),
      [dest.site.name]: await groupsOf(session.user.username, dest.site),
    };
    const done = await core.sessions.renew(session, {
      stage: 'complete',
      data: { ...rest, groups, sites: { ...approvals(session), [dest.site.name]: clock.now() } },
    });
    reply.setCookie(cookieName, done.token, cookieOptions);
    return go(reply, dest.url);
  }

  app.get('/assets/gateway.css', async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=31536000, immutable').type('text/css; charset=utf-8').send(PORTAL_CSS),
  );

  app.get('/sign-in', async (request, reply) => {
    const dest = destination(field(request.query, 'rd', 4096));
    if (!dest) return noDestination(request, reply);
    const session = await core.sessions.resolve('gateway', request.cookies[cookieName]);
    if (passesNow(session, dest.site)) return go(reply, dest.url);
    // Signed in already (another site, or this site's second factor has expired): only the second factor.
    if (session?.stage === 'complete') return secondFactor(request, reply, session, dest);
    return signInForm(request, reply, dest, '', null);
  });

  app.post('/sign-in', async (request, reply) => {
    const dest = destination(field(request.body, 'rd', 4096));
    if (!dest) return noDestination(request, reply);
    const username = field(request.body, 'username', 256).trim();
    const password = field(request.body, 'password', 4096);
    if (!sameToken(field(request.body, '_csrf', 128), request.cookies[formCookie])) return signInForm(request, reply, dest, username, 'error.csrf', 403);
    const ip = clientIp(request);
    try {
      await signInLimit.consume(ip ?? 'unknown');
    } catch (e) {
      if (e instanceof RateLimiterRes) return signInForm(request, reply, dest, username, 'signIn.tooMany', 429);
      throw e;
    }
    const old = request.cookies[cookieName];
    if (old) await core.sessions.end(old);
    memo.forget(old);
    reply.clearCookie(cookieName, cookieOptions);

    const first = await firstFactor.verify(username, password);
    if (!first.ok) {
      await core.sessions.refused(
        { kind: 'gateway', application: dest.site.application, username, reason: `first_factor_${first.reason}`, clientIp: ip },
        GATEWAY_ACTOR,
      );
      return signInForm(request, reply, dest, username, 'signIn.failed', 401);
    }
    let session: SessionView;
    try {
      const user = await core.users.get(username);
      session = await core.sessions.start({ kind: 'gateway', userId: user.id, stage: 'second_factor', clientIp: ip });
    } catch (e) {
      if (!isCoreError(e, 'user_not_found') && !isCoreError(e, 'forbidden')) throw e;
      await core.sessions.refused(
        {
          kind: 'gateway',
          application: dest.site.application,
          username,
          reason: isCoreError(e, 'forbidden') ? 'account_cannot_sign_in' : 'user_not_imported',
          clientIp: ip,
        },
        GATEWAY_ACTOR,
      );
      return signInForm(request, reply, dest, username, 'signIn.failed', 401);
    }
    reply.setCookie(cookieName, session.token, cookieOptions);
    return secondFactor(request, reply, session, dest);
  });

  /** The open second factor of the request's session, with its site and destination. */
  async function pendingOf(
    request: FastifyRequest,
  ): Promise<{ session: SessionView; id: string; attempts: number; dest: { url: string; site: Site }; waiting?: Waiting } | undefined> {
    const session = await core.sessions.resolve('gateway', request.cookies[cookieName]);
    const pending = session?.data['pending'] as { authenticationId?: unknown; site?: unknown; rd?: unknown; attempts?: unknown; waiting?: Waiting } | undefined;
    if (!session || !pending || typeof pending.authenticationId !== 'string' || typeof pending.rd !== 'string') return undefined;
    const dest = destination(pending.rd);
    if (!dest || dest.site.name !== pending.site) return undefined;
    return { session, id: pending.authenticationId, attempts: Number(pending.attempts ?? 0), dest, ...(pending.waiting ? { waiting: pending.waiting } : {}) };
  }

  app.get('/verify', async (request, reply) => {
    const p = await pendingOf(request);
    if (!p) return noDestination(request, reply);
    if (p.waiting) {
      // Waiting for the app or the call: the page reloads itself until the answer comes.
      let view: AuthenticationView | undefined;
      try {
        view = await core.authentications.get(p.id);
      } catch (e) {
        if (!isCoreError(e, 'authentication_not_found')) throw e;
      }
      const mine = view?.username.toLowerCase() === p.session.user.username.toLowerCase();
      if (mine && view?.state === 'pending') return waitingPage(request, reply, p.session, p.waiting);
      return mine && view?.state === 'approved' ? approve(reply, p.session, p.dest) : denied(request, reply, p.session, p.dest);
    }
    return verifyForm(request, reply, p.session, p.dest.site, null);
  });

  /** From the waiting page: a code instead of the app or the call. */
  app.post('/verify/code', async (request, reply) => {
    const p = await pendingOf(request);
    if (!p) return noDestination(request, reply);
    if (!sameToken(field(request.body, '_csrf', 128), p.session.csrf)) return go(reply, '/gateway/verify');
    await core.authentications.withdraw(p.id, actorOf(p.session));
    const next = await codeChallenge(request, p, p.attempts);
    return next ? verifyForm(request, reply, next, p.dest.site, null) : denied(request, reply, p.session, p.dest);
  });

  /**
   * A new challenge for a typed code, with no shortcut, as the session's pending sign-in to the same
   * destination; undefined when the core decided at once (denied).
   */
  async function codeChallenge(
    request: FastifyRequest,
    p: { session: SessionView; dest: { url: string; site: Site } },
    attempts: number,
  ): Promise<SessionView | undefined> {
    const retry = await core.authentications.create(
      {
        codeOnly: true,
        username: p.session.user.username,
        application: p.dest.site.application,
        clientIp: clientIp(request),
        exemptions: { trustedIp: false, cache: false, bypass: false },
      },
      actorOf(p.session),
    );
    if (retry.view.state !== 'challenge') return undefined;
    return core.sessions.update(p.session, {
      data: { ...p.session.data, pending: { authenticationId: retry.view.id, site: p.dest.site.name, rd: p.dest.url, attempts } },
    });
  }

  app.post('/verify', async (request, reply) => {
    const p = await pendingOf(request);
    if (!p) return noDestination(request, reply);
    if (!sameToken(field(request.body, '_csrf', 128), p.session.csrf)) return verifyForm(request, reply, p.session, p.dest.site, 'error.csrf', 403);
    const code = field(request.body, 'code', 64).trim();
    if ((await answer(p.session, p.id, code)) === 'approved') return approve(reply, p.session, p.dest);
    // Another try on a new challenge, up to MAX_CODE_ATTEMPTS; the core's lockout counts each failure.
    const attempts = p.attempts + 1;
    const next = attempts < MAX_CODE_ATTEMPTS ? await codeChallenge(request, p, attempts) : undefined;
    if (!next) return denied(request, reply, p.session, p.dest);
    return verifyForm(request, reply, next, p.dest.site, 'verify.failed', 401);
  });

  async function answer(session: SessionView, id: string, code: string): Promise<'approved' | 'denied'> {
    if (!CODE.test(code)) return 'denied';
    let outcome: AuthenticationOutcome;
    try {
      outcome = await core.authentications.answer(id, code, actorOf(session));
    } catch (e) {
      if (isCoreError(e, 'authentication_closed') || isCoreError(e, 'authentication_not_found') || isCoreError(e, 'validation_failed')) return 'denied';
      throw e;
    }
    return outcome.view.state === 'approved' && outcome.view.username.toLowerCase() === session.user.username.toLowerCase() ? 'approved' : 'denied';
  }

  app.get('/sign-out', async (request, reply) => {
    const { t: tr } = t(request);
    const session = await core.sessions.resolve('gateway', request.cookies[cookieName]);
    if (!session) return render(request, reply, 'message', tr('gateway.signOutTitle'), { notice: { kind: 'ok', text: tr('gateway.signedOut') } });
    return render(request, reply, 'signOut', tr('gateway.signOutTitle'), { csrf: session.csrf });
  });

  app.post('/sign-out', async (request, reply) => {
    const { t: tr } = t(request);
    const session = await core.sessions.resolve('gateway', request.cookies[cookieName]);
    if (session && !sameToken(field(request.body, '_csrf', 128), session.csrf))
      return render(request, reply, 'signOut', tr('gateway.signOutTitle'), { csrf: session.csrf, notice: { kind: 'bad', text: tr('error.csrf') } }, 403);
    if (session) await core.sessions.end(session.token);
    memo.forget(request.cookies[cookieName]);
    reply.clearCookie(cookieName, cookieOptions);
    return render(request, reply, 'message', tr('gateway.signOutTitle'), { notice: { kind: 'ok', text: tr('gateway.signedOut') } });
  });
}
