/**
 * The user portal (/portal): server-rendered pages, no JavaScript, a strict Content-Security-Policy.
 * Pages translate forms into core calls and back; they never touch storage.
 *
 *   sign-in  ─first factor─▶  verify (code, or security questions where offered) ─▶ account
 *                         ╰▶  enroll (first authenticator) ─▶ [backup codes] ─▶ [security questions] ─▶ account
 *                         ╰▶  account (trusted network or one-time bypass, where allowed)
 *
 * Sessions (the core's, kind 'portal') live in the `__Host-cs_portal` cookie: Secure, HttpOnly,
 * SameSite=Strict, renewed under a new token when sign-in completes. Every form carries the
 * session's anti-forgery token (`_csrf`); the sign-in form, which comes before any session, uses a
 * double-submit token in the `__Host-cs_portal_form` cookie. Changes to authenticators need a second
 * factor no older than `sessions.reauthSeconds`. Every sign-in failure reads the same.
 */
import formbody from '@fastify/formbody';
import QRCode from 'qrcode';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Actor, AuthenticationOutcome, Core, MethodView, PhoneInput, SessionView } from '../../../core/api.ts';
import { isCoreError, type ErrorCode } from '../../../core/errors.ts';
import type { Clock, FirstFactorProvider } from '../../../core/ports.ts';
import { QUESTION_IDS, QUESTIONS_PER_USER, type QuestionId } from '../../../core/methods/questions.ts';
import type { AuditEvent, PhoneWhich, Settings } from '../../../core/types.ts';
import { systemRandom } from '../../../platform/random.ts';
import { CODE, CSS_VERSION, field, MAX_CODE_ATTEMPTS, PAGE_HEADERS, sameToken, waitingOf, type Waiting } from '../pages.ts';
import { PORTAL_CSS } from './assets.ts';
import { LANGUAGE_CODES, LANGUAGES, fromAcceptLanguage, supported, translator, type PortalLanguage, type Translate } from './i18n.ts';
import type { PortalKey } from './locales/en.ts';
import { createViews, type PageName } from './views.ts';

export interface PortalOptions {
  readonly core: Core;
  readonly firstFactor: FirstFactorProvider;
  readonly clock: Clock;
  /** Served over HTTPS (cookies are Secure either way; behind a TLS proxy the browser sees HTTPS). */
  readonly https: boolean;
  /** Sign-in attempts per minute per client address (default 20). */
  readonly signInPerMinute?: number;
}

const SESSION_COOKIE = '__Host-cs_portal';
const FORM_COOKIE = '__Host-cs_portal_form';
const LANG_COOKIE = '__Host-cs_lang';
const COOKIE_OPTIONS = { path: '/', secure: true, httpOnly: true, sameSite: 'strict' } as const;
/** A user's phones, as the core and the portal's routes name them. */
const PHONES = ['phone', 'backupPhone'] as const satisfies readonly PhoneWhich[];
/** An answer was sent already. */
const SENT = Symbol('sent');

type Notice = { kind: 'ok' | 'bad'; text: string };
type Form = Record<string, string | undefined>;

interface Page {
  readonly request: FastifyRequest;
  readonly lang: PortalLanguage;
  readonly t: Translate;
  readonly session: SessionView | undefined;
}

/** Who records refusals that come before anyone is known. */
const PORTAL_ACTOR: Actor = { kind: 'system', name: 'portal', role: 'self' };
const actorOf = (session: SessionView): Actor => ({ kind: 'user', name: session.user.username, role: 'self' });

export async function portalDoor(app: FastifyInstance, opts: PortalOptions): Promise<void> {
  const { core, firstFactor, clock } = opts;
  const views = createViews();
  const signInLimit = new RateLimiterMemory({ points: opts.signInPerMinute ?? 20, duration: 60, keyPrefix: 'portal-sign-in' });
  const languages = LANGUAGE_CODES.map((code) => ({ code, name: LANGUAGES[code]['lang.name'] }));

  await app.register(formbody, { bodyLimit: 16 * 1024 });

  app.addHook('onRequest', async (_request, reply) => {
    reply.headers(PAGE_HEADERS);
  });
  // Pages, not API: kept out of the OpenAPI document.
  app.addHook('onRoute', (route) => {
    route.schema = { ...(route.schema ?? {}), hide: true };
  });

  // ---- Context of a page: language and session ----------------------------------------------

  async function page(request: FastifyRequest, reply: FastifyReply): Promise<Page> {
    const session = await core.sessions.resolve('portal', request.cookies[SESSION_COOKIE]);
    const asked = supported((request.query as Form | undefined)?.['lang']);
    if (asked) reply.setCookie(LANG_COOKIE, asked, { ...COOKIE_OPTIONS, maxAge: 31_536_000 });
    const settings = await core.settings.get();
    const lang =
      asked ??
      (session ? supported(session.user.language) : undefined) ??
      supported(request.cookies[LANG_COOKIE]) ??
      fromAcceptLanguage(request.headers['accept-language']) ??
      supported(settings.defaultLanguage) ??
      'en';
    return { request, lang, t: translator(lang), session };
  }

  function render(reply: FastifyReply, p: Page, name: PageName, title: PortalKey, data: Record<string, unknown>, status = 200): FastifyReply {
    const html = views.render(`@${name}`, {
      t: p.t,
      lang: p.lang,
      languages,
      title: p.t(title),
      path: p.request.url.split('?')[0],
      cssVersion: CSS_VERSION,
      signedIn: p.session?.stage === 'complete',
      csrf: p.session?.csrf ?? '',
      notice: null,
      ...data,
    });
    return reply.code(status).type('text/html; charset=utf-8').send(html);
  }

  const go = (reply: FastifyReply, to: string): FastifyReply => reply.code(303).header('location', to).send();
  const withNotice = (to: string, key: PortalKey): string => `${to}${to.includes('?') ? '&' : '?'}notice=${encodeURIComponent(key)}`;

  function setSession(reply: FastifyReply, session: SessionView): void {
    reply.setCookie(SESSION_COOKIE, session.token, COOKIE_OPTIONS);
  }

  function endSession(reply: FastifyReply): void {
    reply.clearCookie(SESSION_COOKIE, COOKIE_OPTIONS);
  }

  /** A notice named in the query (after a redirect), if it is one the page may show. */
  function noticeFrom(p: Page, kind: 'ok' | 'bad' = 'ok'): Notice | null {
    const key = (p.request.query as Form | undefined)?.['notice'];
    if (!key || !(key in LANGUAGES.en)) return null;
    const bad =
      key.endsWith('failed') ||
      key.endsWith('Failed') ||
      key.endsWith('Invalid') ||
      key.startsWith('error.') ||
      key === 'signIn.expired' ||
      key === 'signIn.blocked' ||
      key === 'account.lastMethod' ||
      key === 'account.phoneTooSoon';
    return { kind: bad ? 'bad' : kind, text: p.t(key as PortalKey) };
  }

  /** Checks the form's anti-forgery token against the session's. */
  function csrfOk(request: FastifyRequest, session: SessionView): boolean {
    return sameToken(field(request.body, '_csrf', 128), session.csrf);
  }

  /**
   * The signed-in session of a request, or SENT when the answer (a redirect to sign-in, a refused
   * form) was already sent. A Fastify reply is a thenable, so helpers never return one to be awaited.
   */
  async function signedIn(request: FastifyRequest, reply: FastifyReply): Promise<{ p: Page; session: SessionView } | typeof SENT> {
    const p = await page(request, reply);
    const session = p.session;
    if (!session || session.stage !== 'complete') {
      endSession(reply);
      go(reply, withNotice('/portal/sign-in', 'signIn.expired'));
      return SENT;
    }
    if (request.method === 'POST' && !csrfOk(request, session)) {
      render(reply, p, 'message', 'error.title', { notice: { kind: 'bad', text: p.t('error.csrf') }, link: { href: '/portal/account', text: p.t('error.back') } }, 403);
      return SENT;
    }
    return { p, session };
  }

  // ---- Assets ---------------------------------------------------------------------------------

  app.get('/assets/portal.css', async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=31536000, immutable').type('text/css; charset=utf-8').send(PORTAL_CSS),
  );

  app.get('/', async (request, reply) => {
    const p = await page(request, reply);
    if (p.session?.stage === 'complete') return go(reply, '/portal/account');
    if (p.session?.stage === 'second_factor') return go(reply, '/portal/verify');
    if (p.session?.stage === 'enroll') return go(reply, '/portal/enroll');
    return go(reply, '/portal/sign-in');
  });

  // ---- Sign-in: first factor ------------------------------------------------------------------

  app.get('/sign-in', async (request, reply) => {
    const p = await page(request, reply);
    if (p.session?.stage === 'complete') return go(reply, '/portal/account');
    const token = Buffer.from(systemRandom.bytes(32)).toString('base64url');
    reply.setCookie(FORM_COOKIE, token, COOKIE_OPTIONS);
    return render(reply, p, 'signIn', 'signIn.title', { csrf: token, username: '', notice: noticeFrom(p) });
  });

  app.post('/sign-in', async (request, reply) => {
    const p = await page(request, reply);
    const username = field(request.body, 'username', 256).trim();
    const password = field(request.body, 'password', 4096);
    const token = Buffer.from(systemRandom.bytes(32)).toString('base64url');
    const again = (key: PortalKey, status: number): FastifyReply => {
      reply.setCookie(FORM_COOKIE, token, COOKIE_OPTIONS);
      return render(reply, { ...p, session: undefined }, 'signIn', 'signIn.title', { csrf: token, username, notice: { kind: 'bad', text: p.t(key) } }, status);
    };
    if (!sameToken(field(request.body, '_csrf', 128), request.cookies[FORM_COOKIE])) return again('error.csrf', 403);
    try {
      await signInLimit.consume(request.ip);
    } catch (e) {
      if (e instanceof RateLimiterRes) return again('signIn.tooMany', 429);
      throw e;
    }
    if (p.session) await core.sessions.end(p.session.token);
    endSession(reply);

    // 1. First factor: the user's directory or local password. One failure for every reason.
    const first = await firstFactor.verify(username, password);
    if (!first.ok) {
      await core.sessions.refused({ kind: 'portal', username, reason: `first_factor_${first.reason}`, clientIp: request.ip }, PORTAL_ACTOR);
      return again('signIn.failed', 401);
    }
    const user = await core.users.get(username);
    const settings = await core.settings.get();

    // 2. No usable method: first enrollment, where allowed.
    // Security questions are a fallback: on their own they do not sign anyone in.
    const usable = (await core.methods.list(user.username)).filter((m) => !m.pending && m.type !== 'questions');
    if (usable.length === 0) {
      if (!settings.portal.allowEnrollment || enrollable(settings).length === 0) {
        return render(reply, p, 'message', 'enroll.title', { notice: { kind: 'bad', text: p.t('enroll.notAllowed') } }, 403);
      }
      const session = await core.sessions.start({ kind: 'portal', userId: user.id, stage: 'enroll', clientIp: request.ip });
      setSession(reply, session);
      return go(reply, '/portal/enroll');
    }

    // 3. Second factor: a challenge, unless a trusted network (where allowed) or a bypass applies.
    // The user's default method: a code, or an approval in the app or by phone that the page waits for.
    const outcome = await core.authentications.create(
      { username: user.username, application: 'portal', clientIp: request.ip, exemptions: { trustedIp: settings.portal.trustedIpsSkipSecondFactor, cache: false, bypass: true } },
      { kind: 'user', name: user.username, role: 'self' },
    );
    if (outcome.view.state === 'approved') {
      const session = await core.sessions.start({ kind: 'portal', userId: user.id, stage: 'complete', clientIp: request.ip, data: { reauthAt: 0 } });
      setSession(reply, session);
      return go(reply, '/portal/account');
    }
    if (outcome.view.state !== 'challenge' && outcome.view.state !== 'pending') return again('signIn.failed', 401);
    const waiting = waitingOf(outcome);
    const session = await core.sessions.start({ kind: 'portal', userId: user.id, stage: 'second_factor', clientIp: request.ip, data: { authenticationId: outcome.view.id, attempts: 0, ...waiting } });
    setSession(reply, session);
    return go(reply, '/portal/verify');
  });

  // ---- Sign-in: second factor -----------------------------------------------------------------

  app.get('/verify', async (request, reply) => {
    const p = await page(request, reply);
    if (p.session?.stage !== 'second_factor') return go(reply, '/portal');
    const waiting = p.session.data['waiting'] as Waiting | undefined;
    if (waiting) {
      // Waiting for the app or the call: the page reloads itself until the answer comes.
      const pendingId = p.session.data['authenticationId'];
      const id = typeof pendingId === 'string' ? pendingId : '';
      const state = await settle(p.session, async () => ({ view: await core.authentications.get(id), reason: 'challenge_issued' }), true);
      if (state === 'pending') return render(reply, p, 'waiting', 'waiting.title', { ...waiting, refresh: { seconds: 3, url: '/portal/verify' }, codeAction: '/portal/verify/code', csrf: p.session.csrf, signedIn: false });
      const { waiting: _, ...rest } = p.session.data;
      const next = await afterSecondFactor(reply, await core.sessions.update(p.session, { data: rest }), state);
      if (next === SENT) return reply;
      return renderVerify(reply, p, next, { kind: 'bad', text: p.t('verify.failed') }, 401);
    }
    return renderVerify(reply, p, p.session, noticeFrom(p));
  });

  /** From the waiting page: a code instead of the app or the call. */
  app.post('/verify/code', async (request, reply) => {
    const p = await page(request, reply);
    const session = p.session;
    if (session?.stage !== 'second_factor') return go(reply, '/portal');
    if (!csrfOk(request, session)) return go(reply, withNotice('/portal/verify', 'error.csrf'));
    const { waiting: _, ...rest } = session.data;
    const previous = session.data['authenticationId'];
    if (typeof previous === 'string') await core.authentications.withdraw(previous, actorOf(session));
    const id = await challenge(session, 'portal', true);
    if (!id) {
      await core.sessions.end(session.token);
      endSession(reply);
      return go(reply, withNotice('/portal/sign-in', 'signIn.failed'));
    }
    await core.sessions.update(session, { data: { ...rest, authenticationId: id } });
    return go(reply, '/portal/verify');
  });

  async function renderVerify(reply: FastifyReply, p: Page, session: SessionView, notice: Notice | null, status = 200): Promise<FastifyReply> {
    const username = session.user.username;
    const [backupHint, questions] = await Promise.all([hasBackupCodes(username), fallbackQuestions(username)]);
    return render(reply, p, 'verify', 'verify.title', { action: '/portal/verify', reauth: false, backupHint, questionsHint: questions.length > 0, notice }, status);
  }

  app.post('/verify', async (request, reply) => {
    const p = await page(request, reply);
    const session = p.session;
    if (session?.stage !== 'second_factor') return go(reply, '/portal');
    if (!csrfOk(request, session)) return go(reply, withNotice('/portal/verify', 'error.csrf'));
    const pending = session.data['authenticationId'];
    const outcome = await answer(session, typeof pending === 'string' ? pending : '', field(request.body, 'code', 64));
    const next = await afterSecondFactor(reply, session, outcome);
    if (next === SENT) return reply;
    return renderVerify(reply, p, next, { kind: 'bad', text: p.t('verify.failed') }, 401);
  });

  /**
   * After an answer at sign-in: approved completes the sign-in (a new session token); denied opens
   * a new challenge for another try, up to MAX_CODE_ATTEMPTS per sign-in (the core's lockout counts
   * each failure), then ends the sign-in. Returns the updated session when the page is to be shown again.
   */
  async function afterSecondFactor(reply: FastifyReply, session: SessionView, outcome: 'approved' | 'denied'): Promise<SessionView | typeof SENT> {
    if (outcome === 'approved') {
      const done = await core.sessions.renew(session, { stage: 'complete', data: { reauthAt: clock.now() } });
      setSession(reply, done);
      go(reply, '/portal/account');
      return SENT;
    }
    const attempts = Number(session.data['attempts'] ?? 0) + 1;
    const retry = attempts < MAX_CODE_ATTEMPTS ? await challenge(session, 'portal', true) : undefined;
    if (!retry) {
      await core.sessions.end(session.token);
      endSession(reply);
      go(reply, withNotice('/portal/sign-in', 'signIn.failed'));
      return SENT;
    }
    return core.sessions.update(session, { data: { ...session.data, authenticationId: retry, attempts } });
  }

  // ---- Sign-in: security questions instead of a code (legacy, where offered) ------------------

  /** The user's security questions when the administrator offers them; otherwise none. */
  async function fallbackQuestions(username: string): Promise<QuestionId[]> {
    return questionsOffered(await core.settings.get()) ? core.methods.questionsOf(username) : [];
  }

  /**
   * The questions this sign-in asks: drawn at random from the user's once, then the same ones for
   * every try of the sign-in (reloading never offers easier ones).
   */
  async function askedQuestions(session: SessionView): Promise<{ session: SessionView; asked: QuestionId[] } | undefined> {
    const own = await fallbackQuestions(session.user.username);
    if (own.length === 0) return undefined;
    const kept = session.data['askedQuestions'];
    if (Array.isArray(kept) && kept.length > 0 && kept.every((q) => own.includes(q as QuestionId))) return { session, asked: kept as QuestionId[] };
    const count = Math.min((await core.settings.get()).portal.questionsAsked, own.length);
    const pool = [...own];
    const asked: QuestionId[] = [];
    while (asked.length < count) asked.push(pool.splice(systemRandom.int(pool.length), 1)[0] as QuestionId);
    return { session: await core.sessions.update(session, { data: { ...session.data, askedQuestions: asked } }), asked };
  }

  function renderAnswerQuestions(reply: FastifyReply, p: Page, asked: readonly QuestionId[], notice: Notice | null, status = 200): FastifyReply {
    return render(reply, p, 'answerQuestions', 'questions.verifyTitle', { asked: asked.map((id) => ({ id, text: p.t(`question.${id}`) })), notice }, status);
  }

  app.get('/verify/questions', async (request, reply) => {
    const p = await page(request, reply);
    if (p.session?.stage !== 'second_factor') return go(reply, '/portal');
    const a = await askedQuestions(p.session);
    if (!a) return go(reply, '/portal/verify');
    return renderAnswerQuestions(reply, { ...p, session: a.session }, a.asked, noticeFrom(p));
  });

  app.post('/verify/questions', async (request, reply) => {
    const p = await page(request, reply);
    const session = p.session;
    if (session?.stage !== 'second_factor') return go(reply, '/portal');
    if (!csrfOk(request, session)) return go(reply, withNotice('/portal/verify/questions', 'error.csrf'));
    const a = await askedQuestions(session);
    if (!a) return go(reply, '/portal/verify');
    const pending = a.session.data['authenticationId'];
    const answers = a.asked.map((question, i) => ({ question, answer: field(request.body, `answer${i + 1}`, 512) }));
    const outcome = await settle(a.session, () => core.authentications.answerQuestions(typeof pending === 'string' ? pending : '', answers, actorOf(a.session)));
    const next = await afterSecondFactor(reply, a.session, outcome);
    if (next === SENT) return reply;
    return renderAnswerQuestions(reply, { ...p, session: next }, a.asked, { kind: 'bad', text: p.t('questions.verifyFailed') }, 401);
  });

  /** Answers a challenge; 'approved' or 'denied' (closed, expired or unknown challenges are denied). */
  async function answer(session: SessionView, authenticationId: string, code: string): Promise<'approved' | 'denied'> {
    if (!CODE.test(code.trim()) || authenticationId === '') return 'denied';
    return settle(session, () => core.authentications.answer(authenticationId, code.trim(), actorOf(session)));
  }

  /** The result of answering a challenge for the session's user; closed, unknown or malformed answers are denied. */
  async function settle(session: SessionView, run: () => Promise<AuthenticationOutcome>): Promise<'approved' | 'denied'>;
  async function settle(session: SessionView, run: () => Promise<AuthenticationOutcome>, open: true): Promise<'approved' | 'denied' | 'pending'>;
  async function settle(session: SessionView, run: () => Promise<AuthenticationOutcome>, open = false): Promise<'approved' | 'denied' | 'pending'> {
    try {
      const outcome = await run();
      const mine = outcome.view.username.toLowerCase() === session.user.username.toLowerCase();
      if (open && mine && outcome.view.state === 'pending') return 'pending';
      return outcome.view.state === 'approved' && mine ? 'approved' : 'denied';
    } catch (e) {
      if (isCoreError(e, 'authentication_closed') || isCoreError(e, 'authentication_not_found') || isCoreError(e, 'validation_failed')) return 'denied';
      throw e;
    }
  }

  /** Opens a challenge for the session's user; its id, or undefined when the core decided at once (denied). */
  async function challenge(session: SessionView, application: string, strict: boolean): Promise<string | undefined> {
    const exemptions = strict ? { trustedIp: false, cache: false, bypass: false } : undefined;
    const outcome = await core.authentications.create({ codeOnly: true, username: session.user.username, application, clientIp: null, ...(exemptions ? { exemptions } : {}) }, actorOf(session));
    return outcome.view.state === 'challenge' ? outcome.view.id : undefined;
  }

  // ---- Enrollment: first authenticator, and adding one later ----------------------------------

  function enrollable(settings: Settings): string[] {
    // Only app-based TOTP can be set up by users themselves today.
    return settings.portal.enrollMethods.filter((m) => m === 'totp');
  }

  const backupOffered = (settings: Settings): boolean => settings.portal.enrollMethods.includes('backup');
  const mobileOffered = (settings: Settings): boolean => settings.portal.enrollMethods.includes('push');
  const questionsOffered = (settings: Settings): boolean => settings.portal.enrollMethods.includes('questions');

  /** Where first enrollment goes after the authenticator (and backup codes): security questions not yet set, where offered. */
  async function afterEnrollment(username: string): Promise<string> {
    if (questionsOffered(await core.settings.get()) && (await core.methods.questionsOf(username)).length === 0) return '/portal/questions';
    return withNotice('/portal/account', 'account.setupNext');
  }

  async function hasBackupCodes(username: string): Promise<boolean> {
    return (await core.methods.list(username)).some((m) => m.type === 'backup' && (m.remaining ?? 0) > 0);
  }

  /** A new set of backup codes, shown on this page only (never stored in clear, never shown again). */
  async function showBackupCodes(reply: FastifyReply, p: Page, session: SessionView, first: boolean): Promise<FastifyReply> {
    const { codes } = await core.methods.createBackupCodes(session.user.username, actorOf(session));
    const continueHref = first ? await afterEnrollment(session.user.username) : '/portal/account';
    return render(reply, p, 'backup', 'backup.title', { codes, continueHref, csrf: session.csrf, signedIn: true });
  }

  /** A fresh pending authenticator for the session's user (earlier unfinished ones are removed). */
  async function startEnrollment(p: Page, reply: FastifyReply, session: SessionView, action: string): Promise<void> {
    for (const m of await core.methods.list(session.user.username)) {
      if (m.pending) await core.methods.remove(session.user.username, m.id, actorOf(session));
    }
    const e = await core.methods.enrollTotp(session.user.username, { confirm: true, label: 'Authenticator app' }, actorOf(session));
    await core.sessions.update(session, { data: { ...session.data, methodId: e.method.id } });
    render(reply, p, 'enroll', 'enroll.title', {
      action,
      qrDataUri: `data:image/svg+xml;base64,${Buffer.from(e.qrSvg).toString('base64')}`,
      secretGroups: e.secret.replace(/(.{4})/g, '$1 ').trim(),
      notice: noticeFrom(p),
    });
  }

  app.get('/enroll', async (request, reply) => {
    const p = await page(request, reply);
    const session = p.session;
    if (session?.stage !== 'enroll') return go(reply, '/portal');
    await startEnrollment(p, reply, session, '/portal/enroll');
    return reply;
  });

  app.post('/enroll', async (request, reply) => {
    const p = await page(request, reply);
    const session = p.session;
    if (session?.stage !== 'enroll') return go(reply, '/portal');
    if (!csrfOk(request, session)) return go(reply, withNotice('/portal/enroll', 'error.csrf'));
    if (!(await confirm(session, field(request.body, 'code', 64)))) return go(reply, withNotice('/portal/enroll', 'enroll.failed'));
    const done = await core.sessions.renew(session, { stage: 'complete', data: { reauthAt: clock.now() } });
    setSession(reply, done);
    // Backup codes come with the first authenticator, where offered: shown once, on this answer only.
    if (backupOffered(await core.settings.get())) return showBackupCodes(reply, { ...p, session: done }, done, true);
    return go(reply, await afterEnrollment(done.user.username));
  });

  async function confirm(session: SessionView, code: string): Promise<boolean> {
    const methodId = session.data['methodId'];
    if (typeof methodId !== 'string' || !CODE.test(code.trim())) return false;
    try {
      await core.methods.confirm(session.user.username, methodId, code.trim(), actorOf(session));
      return true;
    } catch (e) {
      if (isCoreError(e, 'code_rejected') || isCoreError(e, 'method_not_found')) return false;
      throw e;
    }
  }

  // ---- Re-authentication before changes to authenticators -------------------------------------

  async function freshSecondFactor(session: SessionView): Promise<boolean> {
    const at = Number(session.data['reauthAt'] ?? 0);
    const settings = await core.settings.get();
    return at > 0 && clock.now() - at < settings.sessions.reauthSeconds * 1000;
  }

  /** False if the second factor is fresh; else sends the user to enter a code first (`then` runs after it) and answers true. */
  async function reauthNeeded(reply: FastifyReply, session: SessionView, then: string): Promise<boolean> {
    if (await freshSecondFactor(session)) return false;
    const id = await challenge(session, 'portal', true);
    if (!id) {
      go(reply, withNotice('/portal/account', 'verify.failed'));
      return true;
    }
    await core.sessions.update(session, { data: { ...session.data, reauthId: id, then } });
    go(reply, '/portal/reauth');
    return true;
  }

  app.get('/reauth', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    if (typeof r.session.data['reauthId'] !== 'string') return go(reply, '/portal/account');
    return render(reply, r.p, 'verify', 'verify.title', { action: '/portal/reauth', reauth: true });
  });

  app.post('/reauth', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    const { session } = r;
    const { reauthId, then, ...rest } = session.data;
    if (typeof reauthId !== 'string') return go(reply, '/portal/account');
    const outcome = await answer(session, reauthId, field(request.body, 'code', 64));
    if (outcome !== 'approved') {
      await core.sessions.update(session, { data: rest });
      return go(reply, withNotice('/portal/account', 'verify.failed'));
    }
    const updated = await core.sessions.update(session, { data: { ...rest, reauthAt: clock.now() } });
    if (typeof then === 'string' && then.startsWith('remove:')) {
      await removeMethod(reply, updated, then.slice('remove:'.length));
      return reply;
    }
    if (then === 'backup') return showBackupCodes(reply, r.p, updated, false);
    if (then === 'questions') return go(reply, '/portal/questions');
    if (then === 'mobile') return go(reply, '/portal/mobile-app');
    return then === 'add' ? go(reply, '/portal/methods/new') : go(reply, withNotice('/portal/account', 'account.verified'));
  });

  // ---- Account: self-service ------------------------------------------------------------------

  app.get('/account', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    const { p, session } = r;
    const username = session.user.username;
    const [settings, methods, bypass, events] = await Promise.all([
      core.settings.get(),
      core.methods.list(username),
      core.bypass.get(username),
      core.audit.query({ username, kind: 'authentication', limit: 40 }),
    ]);
    const user = await core.users.get(username);
    const date = new Intl.DateTimeFormat(p.lang, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });
    const active = methods.filter((m) => !m.pending && m.type !== 'backup' && m.type !== 'questions');
    const backupSet = methods.find((m) => m.type === 'backup');
    const typeName = (m: MethodView): string => p.t(`method.${m.type}` as PortalKey);
    const codesSent = phoneCodesSent(session);
    const phones = PHONES.flatMap((which) => {
      const phone = which === 'phone' ? user.phone : user.backupPhone;
      if (phone === null) return [];
      const verifiedAt = which === 'phone' ? user.phoneVerifiedAt : user.backupPhoneVerifiedAt;
      const label = p.t(which === 'phone' ? 'account.phone' : 'account.backupPhone');
      return [{ which, label, number: phone.number, verified: verifiedAt !== null, codeSent: codesSent.includes(which) }];
    });
    return render(reply, p, 'account', 'account.title', {
      user,
      phones,
      smsEnabled: core.users.canSendPhoneCodes(),
      portal: settings.portal,
      pinPolicy: settings.pin,
      fraudAllowed: settings.fraud.allowReports,
      canEnroll: enrollable(settings).length > 0,
      mobileOffered: mobileOffered(settings),
      backupOffered: backupOffered(settings),
      questionsOffered: questionsOffered(settings),
      questionsSet: methods.some((m) => m.type === 'questions'),
      backupLeft: backupSet ? backupSet.remaining : null,
      userLanguage: supported(user.language) ?? p.lang,
      methods: active.map((m) => ({
        id: m.id,
        label: m.label,
        typeName: typeName(m),
        meta: [p.t('account.addedOn', { date: date.format(m.createdAt) }), m.lastUsedAt === null ? p.t('account.neverUsed') : p.t('account.lastUsed', { date: date.format(m.lastUsedAt) })].join(', '),
      })),
      defaultChoices: [...new Set(active.map((m) => m.type))].map((type) => ({ value: type, name: p.t(`method.${type}` as PortalKey), selected: user.defaultMethod === type })),
      bypass: bypass && bypass.usedAt === null ? { until: date.format(bypass.expiresAt) } : null,
      recent: recentSignIns(events).map((e) => ({
        when: `${date.format(e.at)} UTC`,
        where: e.clientIp ?? '',
        application: e.application ?? '',
        result: e.result,
        resultText: p.t(`result.${e.result}` as PortalKey),
        authenticationId: e.authenticationId,
      })),
      notice: noticeFrom(p),
    });
  });

  /** Finished sign-ins only (not the challenge step), newest first, at most 10. */
  function recentSignIns(events: readonly AuditEvent[]): AuditEvent[] {
    return events.filter((e) => e.result === 'approved' || e.result === 'denied' || e.result === 'expired').slice(0, 10);
  }

  /**
   * A change made from the account page: signed in with the form's token, allowed by the portal
   * settings, then `run` (which may stop early with a notice); core refusals named in `errors`
   * become that notice. Every answer is a redirect to the account page with a notice.
   */
  function accountChange(spec: {
    readonly allowed?: (settings: Settings) => boolean;
    readonly run: (session: SessionView, request: FastifyRequest, reply: FastifyReply) => Promise<PortalKey | undefined>;
    readonly errors?: Partial<Record<ErrorCode, PortalKey>>;
    readonly done: PortalKey;
  }): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
    return async (request, reply) => {
      const r = await signedIn(request, reply);
      if (r === SENT) return reply;
      if (spec.allowed && !spec.allowed(await core.settings.get())) return go(reply, withNotice('/portal/account', 'error.forbidden'));
      let notice: PortalKey | undefined;
      try {
        notice = await spec.run(r.session, request, reply);
      } catch (e) {
        const mapped = isCoreError(e) ? spec.errors?.[e.code] : undefined;
        if (mapped === undefined) throw e;
        notice = mapped;
      }
      return go(reply, withNotice('/portal/account', notice ?? spec.done));
    };
  }

  app.post(
    '/account/pin',
    accountChange({
      allowed: (settings) => settings.portal.allowPinChange,
      run: async (session, request) => {
        const pin = field(request.body, 'pin', 64);
        if (pin !== field(request.body, 'pinAgain', 64)) return 'account.pinMismatch';
        await core.users.update(session.user.username, { pin }, actorOf(session));
        return undefined;
      },
      errors: { validation_failed: 'account.pinInvalid' },
      done: 'account.saved',
    }),
  );

  app.post(
    '/account/phones',
    accountChange({
      allowed: (settings) => settings.portal.allowPhoneChange,
      run: async (session, request) => {
        const phone = (prefix: string): PhoneInput | null => {
          const number = field(request.body, `${prefix}Number`, 64).trim();
          if (number === '') return null;
          const country = field(request.body, `${prefix}Country`, 2).trim();
          const extension = field(request.body, `${prefix}Extension`, 10).trim();
          return { number, country: country === '' ? null : country, extension: extension === '' ? null : extension };
        };
        await core.users.update(session.user.username, { phone: phone('phone'), backupPhone: phone('backup') }, actorOf(session));
        return undefined;
      },
      errors: { validation_failed: 'account.phoneInvalid' },
      done: 'account.saved',
    }),
  );

  // ---- Phone verification: a code by text message ---------------------------------------------

  /** The phones a code was sent to in this session (their code fields are shown). */
  function phoneCodesSent(session: SessionView): PhoneWhich[] {
    const sent = session.data['phoneCodes'];
    return Array.isArray(sent) ? PHONES.filter((w) => sent.includes(w)) : [];
  }

  function phoneWhich(request: FastifyRequest): PhoneWhich | undefined {
    const which = (request.params as { which: string }).which;
    return (PHONES as readonly string[]).includes(which) ? (which as PhoneWhich) : undefined;
  }

  app.post(
    '/phones/:which/send',
    accountChange({
      run: async (session, request) => {
        const which = phoneWhich(request);
        if (!which) return 'error.generic';
        try {
          await core.users.sendPhoneCode(session.user.username, which, actorOf(session));
        } catch (e) {
          if (isCoreError(e, 'delivery_failed')) request.log.error({ err: e, username: session.user.username }, 'a phone verification code could not be texted');
          throw e;
        }
        await core.sessions.update(session, { data: { ...session.data, phoneCodes: [...new Set([...phoneCodesSent(session), which])] } });
        return undefined;
      },
      errors: { rate_limited: 'account.phoneTooSoon', delivery_failed: 'account.phoneSendFailed', forbidden: 'error.forbidden', validation_failed: 'error.generic' },
      done: 'account.codeSent',
    }),
  );

  app.post(
    '/phones/:which/confirm',
    accountChange({
      run: async (session, request) => {
        const which = phoneWhich(request);
        if (!which) return 'error.generic';
        await core.users.confirmPhoneCode(session.user.username, which, field(request.body, 'code', 16), actorOf(session));
        await core.sessions.update(session, { data: { ...session.data, phoneCodes: phoneCodesSent(session).filter((w) => w !== which) } });
        return undefined;
      },
      errors: { code_rejected: 'account.phoneCodeFailed', validation_failed: 'error.generic' },
      done: 'account.phoneVerified',
    }),
  );

  app.post(
    '/account/language',
    accountChange({
      allowed: (settings) => settings.portal.allowLanguageChange,
      run: async (session, request, reply) => {
        const language = supported(field(request.body, 'language', 35));
        if (!language) return 'error.generic';
        await core.users.update(session.user.username, { language }, actorOf(session));
        reply.setCookie(LANG_COOKIE, language, { ...COOKIE_OPTIONS, maxAge: 31_536_000 });
        return undefined;
      },
      done: 'account.saved',
    }),
  );

  app.post(
    '/account/default-method',
    accountChange({
      allowed: (settings) => settings.portal.allowMethodChange,
      run: async (session, request) => {
        const wanted = field(request.body, 'defaultMethod', 16);
        const types = new Set((await core.methods.list(session.user.username)).filter((m) => !m.pending).map((m) => m.type as string));
        if (!types.has(wanted)) return 'error.generic';
        await core.users.update(session.user.username, { defaultMethod: wanted as MethodView['type'] }, actorOf(session));
        return undefined;
      },
      done: 'account.saved',
    }),
  );

  // ---- Authenticators -------------------------------------------------------------------------

  app.post('/methods/add', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    const settings = await core.settings.get();
    if (!settings.portal.allowMethodChange || enrollable(settings).length === 0) return go(reply, withNotice('/portal/account', 'error.forbidden'));
    return (await reauthNeeded(reply, r.session, 'add')) ? reply : go(reply, '/portal/methods/new');
  });

  app.get('/methods/new', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    if (!(await freshSecondFactor(r.session))) return go(reply, '/portal/account');
    await startEnrollment(r.p, reply, r.session, '/portal/methods/new');
    return reply;
  });

  app.post('/methods/new', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    if (!(await freshSecondFactor(r.session))) return go(reply, '/portal/account');
    if (!(await confirm(r.session, field(request.body, 'code', 64)))) return go(reply, withNotice('/portal/methods/new', 'enroll.failed'));
    return go(reply, withNotice('/portal/account', 'account.added'));
  });

  app.post('/methods/:id/remove', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    if (!(await core.settings.get()).portal.allowMethodChange) return go(reply, withNotice('/portal/account', 'error.forbidden'));
    const id = (request.params as { id: string }).id;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return go(reply, withNotice('/portal/account', 'error.generic'));
    if (await reauthNeeded(reply, r.session, `remove:${id}`)) return reply;
    await removeMethod(reply, r.session, id);
    return reply;
  });

  async function removeMethod(reply: FastifyReply, session: SessionView, id: string): Promise<void> {
    const username = session.user.username;
    const active = (await core.methods.list(username)).filter((m) => !m.pending && m.type !== 'backup' && m.type !== 'questions');
    let notice: PortalKey = 'account.removed';
    if (!active.some((m) => m.id === id)) notice = 'error.generic';
    else if (active.length <= 1) notice = 'account.lastMethod';
    else await core.methods.remove(username, id, actorOf(session));
    go(reply, withNotice('/portal/account', notice));
  }

  // ---- The mobile app (push method) ----------------------------------------------------------

  app.post('/mobile-app', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    const settings = await core.settings.get();
    if (!settings.portal.allowMethodChange || !mobileOffered(settings)) return go(reply, withNotice('/portal/account', 'error.forbidden'));
    return (await reauthNeeded(reply, r.session, 'mobile')) ? reply : go(reply, '/portal/mobile-app');
  });

  /** A new activation code for the user's phone, as a QR code of the app's activation address (shown once). */
  app.get('/mobile-app', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    const settings = await core.settings.get();
    if (!settings.portal.allowMethodChange || !mobileOffered(settings) || !(await freshSecondFactor(r.session))) return go(reply, '/portal/account');
    const activation = await core.devices.startActivation(r.session.user.username, actorOf(r.session));
    const link = `https://${request.host}/mobile/app/#activate=${activation.activationCode}`;
    const svg = await QRCode.toString(link, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    const expires = new Intl.DateTimeFormat(r.p.lang, { timeStyle: 'short', timeZone: 'UTC' }).format(activation.expiresAt);
    return render(reply, r.p, 'mobileApp', 'mobile.title', { qrDataUri: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`, link, expires, signedIn: true, csrf: r.session.csrf });
  });

  app.post('/backup-codes', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    if (!backupOffered(await core.settings.get())) return go(reply, withNotice('/portal/account', 'error.forbidden'));
    if (await reauthNeeded(reply, r.session, 'backup')) return reply;
    return showBackupCodes(reply, r.p, r.session, false);
  });

  // ---- Security questions (legacy, where offered) ---------------------------------------------

  app.post('/questions/edit', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    if (!questionsOffered(await core.settings.get())) return go(reply, withNotice('/portal/account', 'error.forbidden'));
    return (await reauthNeeded(reply, r.session, 'questions')) ? reply : go(reply, '/portal/questions');
  });

  function renderQuestions(reply: FastifyReply, p: Page, selected: readonly string[], notice: Notice | null, status = 200): FastifyReply {
    const choices = QUESTION_IDS.map((id) => ({ id, text: p.t(`question.${id}`) }));
    return render(reply, p, 'questions', 'questions.title', { count: QUESTIONS_PER_USER, choices, selected, notice }, status);
  }

  /** Setting questions is a change to how the user signs in: offered, and a second factor no older than the re-authentication window. */
  async function mayEditQuestions(session: SessionView): Promise<boolean> {
    return questionsOffered(await core.settings.get()) && (await freshSecondFactor(session));
  }

  app.get('/questions', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    if (!(await mayEditQuestions(r.session))) return go(reply, withNotice('/portal/account', 'error.forbidden'));
    const own = await core.methods.questionsOf(r.session.user.username);
    return renderQuestions(reply, r.p, own.length === QUESTIONS_PER_USER ? own : QUESTION_IDS.slice(0, QUESTIONS_PER_USER), noticeFrom(r.p));
  });

  app.post('/questions', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    if (!(await mayEditQuestions(r.session))) return go(reply, withNotice('/portal/account', 'error.forbidden'));
    const numbers = Array.from({ length: QUESTIONS_PER_USER }, (_, i) => i + 1);
    const answers = numbers.map((n) => ({ question: field(request.body, `question${n}`, 64) as QuestionId, answer: field(request.body, `answer${n}`, 512) }));
    try {
      await core.methods.setQuestions(r.session.user.username, answers, actorOf(r.session));
    } catch (e) {
      if (!isCoreError(e, 'validation_failed')) throw e;
      return renderQuestions(reply, r.p, answers.map((a) => a.question), { kind: 'bad', text: r.p.t('questions.invalid') }, 400);
    }
    return go(reply, withNotice('/portal/account', 'questions.saved'));
  });

  // ---- One-time bypass ------------------------------------------------------------------------

  app.post(
    '/bypass',
    accountChange({
      run: async (session, request) => {
        const seconds = Number(field(request.body, 'seconds', 10));
        await core.bypass.issue(session.user.username, { seconds: Number.isInteger(seconds) ? seconds : -1, reason: 'started by the user in the portal' }, actorOf(session));
        return undefined;
      },
      errors: { forbidden: 'error.forbidden', validation_failed: 'error.generic' },
      done: 'account.saved',
    }),
  );

  app.post(
    '/bypass/cancel',
    accountChange({
      run: async (session) => {
        await core.bypass.cancel(session.user.username, actorOf(session));
        return undefined;
      },
      // No bypass to cancel (used or expired meanwhile): the result the user wanted.
      errors: { not_found: 'account.bypassCancelled' },
      done: 'account.bypassCancelled',
    }),
  );

  // ---- Fraud report ("not me") ----------------------------------------------------------------

  app.get('/fraud', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    const settings = await core.settings.get();
    if (!settings.fraud.allowReports) return render(reply, r.p, 'message', 'fraud.title', { notice: { kind: 'bad', text: r.p.t('fraud.off') }, link: { href: '/portal/account', text: r.p.t('error.back') } }, 403);
    const id = field(request.query, 'authentication', 64);
    return render(reply, r.p, 'fraud', 'fraud.title', { authenticationId: /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : '', blocks: settings.fraud.blockUser });
  });

  app.post('/fraud', async (request, reply) => {
    const r = await signedIn(request, reply);
    if (r === SENT) return reply;
    const { p, session } = r;
    const id = field(request.body, 'authentication', 64);
    const note = field(request.body, 'note', 500).trim();
    try {
      const after = await core.users.reportFraud(session.user.username, { authenticationId: /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : null, note: note === '' ? null : note }, actorOf(session));
      // For whoever watches the server log; the console's dashboard lists reports too.
      request.log.warn({ username: after.username, authenticationId: id || null, blocked: after.state === 'blocked' }, 'a user reported a sign-in they did not make');
      if (after.state === 'blocked') {
        endSession(reply);
        return render(reply, { ...p, session: undefined }, 'message', 'fraud.title', { notice: { kind: 'ok', text: p.t('fraud.done') }, text: p.t('signIn.blocked') });
      }
    } catch (e) {
      if (isCoreError(e, 'forbidden')) return go(reply, withNotice('/portal/account', 'fraud.off'));
      throw e;
    }
    return go(reply, withNotice('/portal/account', 'fraud.done'));
  });

  // ---- Sign-out -------------------------------------------------------------------------------

  app.post('/sign-out', async (request, reply) => {
    const p = await page(request, reply);
    if (p.session && csrfOk(request, p.session)) await core.sessions.end(p.session.token);
    else if (p.session) return go(reply, '/portal/account');
    endSession(reply);
    return go(reply, withNotice('/portal/sign-in', 'signIn.signedOut'));
  });

  app.setNotFoundHandler(async (request, reply) => {
    const p = await page(request, reply);
    return render(reply, p, 'message', 'error.title', { notice: { kind: 'bad', text: p.t('error.notFound') }, link: { href: '/portal', text: p.t('error.back') } }, 404);
  });
}
