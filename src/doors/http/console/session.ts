/**
 * Sign-in to the admin console: a password, then a second factor, always. JSON in and out.
 *
 *   POST   /admin/session            {username, password}  ─▶ {next: 'passcode'}            stage second_factor
 *                                                          ╰▶ {next: 'enroll', enrollment}  stage enroll (no method yet)
 *   POST   /admin/session/passcode   {passcode}            ─▶ the session view              stage complete (renewed)
 *   POST   /admin/session/enroll     {code}                ─▶ the session view              stage complete (renewed)
 *   GET    /admin/session                                  ─▶ the session view of a signed-in session
 *   DELETE /admin/session            x-csrf-token          ─▶ 204, signed out
 *
 * Every refusal is the same `401 unauthenticated` "authentication failed", whatever the reason;
 * the reason goes to the audit trail (the core records second-factor decisions itself; refusals
 * before them are recorded with `core.sessions.refused`) and the log. Trusted networks, cached
 * approvals and one-time bypasses never apply here. The session token lives in the
 * `__Host-cs_console` cookie and changes when sign-in completes, so a token seen before sign-in is
 * worthless after it. Sign-in bodies must be application/json: with SameSite=Strict, that is the
 * defence against login CSRF (an HTML form cannot send JSON).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { Type } from 'typebox';
import type { Actor, Core, SessionView } from '../../../core/api.ts';
import { CoreError, isCoreError } from '../../../core/errors.ts';
import type { FirstFactorProvider, SessionStage } from '../../../core/ports.ts';
import { ProblemError, problem } from '../errors.ts';
import { NoContent, Passcode } from '../schemas.ts';
import type { Api } from '../schemas.ts';
import { CONSOLE_COOKIE, CONSOLE_COOKIE_OPTIONS, CSRF_HEADER, csrfMatches } from './cookie.ts';

export interface ConsoleSessionOptions {
  readonly core: Core;
  readonly firstFactor: FirstFactorProvider;
}

/** The one answer to every failed sign-in. */
const FAILED = 'authentication failed';
/** Wrong codes accepted while setting up the first authenticator before the sign-in starts over. */
export const MAX_ENROLL_ATTEMPTS = 5;
/** Sign-in attempts (POST /admin/session) per minute per client address. */
const SIGN_INS_PER_MINUTE = 30;
const ENROLL_LABEL = 'Countersign console';
/** Who records refusals that come before anyone is known. */
const CONSOLE_ACTOR: Actor = { kind: 'system', name: 'console', role: 'self' };
const self = (username: string): Actor => ({ kind: 'user', name: username, role: 'self' });

const SignInBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 256 }),
    password: Type.String({ minLength: 1, maxLength: 4096 }),
  },
  { additionalProperties: false },
);
const PasscodeBody = Type.Object({ passcode: Passcode }, { additionalProperties: false });
const EnrollCodeBody = Type.Object({ code: Passcode }, { additionalProperties: false });

const SessionViewSchema = Type.Object({
  username: Type.String(),
  displayName: Type.Union([Type.String(), Type.Null()]),
  role: Type.Enum(['admin', 'helpdesk', 'auditor']),
  csrf: Type.String({ description: 'Echo in x-csrf-token on every API call that changes something, and to sign out' }),
  expiresAt: Type.Integer({ description: 'When the session ends unless used again (epoch ms)' }),
});

const SignInResult = Type.Object({
  next: Type.Enum(['passcode', 'enroll']),
  enrollment: Type.Optional(
    Type.Object({
      secret: Type.String({ description: 'Base32, shown once' }),
      otpauthUri: Type.String(),
      qrSvg: Type.String({ description: 'QR code of the otpauth URI, as an SVG document' }),
    }),
  ),
});

const failed = (): ProblemError => new ProblemError(problem('unauthenticated', FAILED));

/** onRequest: only application/json bodies, refused before any parsing. */
async function requireJson(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new ProblemError(problem('unsupported_media_type', 'Send the body as application/json.'));
}

function sessionView(session: SessionView) {
  // The core never resolves a console session of a user without a console role.
  const role = session.user.consoleRole;
  if (role === null) throw failed();
  return {
    username: session.user.username,
    displayName: session.user.displayName,
    role,
    csrf: session.csrf,
    expiresAt: session.expiresAt,
  };
}

export async function consoleSessionRoutes(app: Api, opts: ConsoleSessionOptions): Promise<void> {
  const { core, firstFactor } = opts;
  const signInLimit = new RateLimiterMemory({ points: SIGN_INS_PER_MINUTE, duration: 60, keyPrefix: 'console-sign-in' });

  const setCookie = (reply: FastifyReply, session: SessionView): void => {
    reply.setCookie(CONSOLE_COOKIE, session.token, CONSOLE_COOKIE_OPTIONS);
  };
  const clearCookie = (reply: FastifyReply): void => {
    reply.clearCookie(CONSOLE_COOKIE, CONSOLE_COOKIE_OPTIONS);
  };

  /** The browser's session, if it is in `stage`. */
  async function sessionIn(request: FastifyRequest, stage: SessionStage): Promise<SessionView | undefined> {
    const session = await core.sessions.resolve('console', request.cookies[CONSOLE_COOKIE]);
    return session?.stage === stage ? session : undefined;
  }

  /** Ends the sign-in: the session goes, the cookie goes, the answer is the one failure. */
  async function endWithFailure(reply: FastifyReply, session: SessionView | undefined): Promise<never> {
    if (session) await core.sessions.end(session.token);
    clearCookie(reply);
    throw failed();
  }

  /** Sign-in done: a new token and anti-forgery token, and the time of this second factor. */
  async function complete(reply: FastifyReply, session: SessionView) {
    const renewed = await core.sessions.renew(session, { stage: 'complete', data: {} });
    const done = await core.sessions.update(renewed, { data: { reauthAt: renewed.lastSeenAt } });
    setCookie(reply, done);
    return sessionView(done);
  }

  /** A refusal before any session: audited with its reason, answered as every other failure. */
  async function refuse(request: FastifyRequest, username: string, reason: string): Promise<never> {
    request.log.info({ username, reason }, 'console sign-in refused');
    await core.sessions.refused({ kind: 'console', username, reason, clientIp: request.ip }, CONSOLE_ACTOR);
    throw failed();
  }

  app.post(
    '/session',
    {
      onRequest: requireJson,
      schema: {
        hide: true,
        body: SignInBody,
        response: { 200: SignInResult },
      },
    },
    async (request, reply) => {
      // 1. Per-address limit on password guessing (the core's lockout limits it per user).
      try {
        await signInLimit.consume(request.ip);
      } catch (e) {
        if (!(e instanceof RateLimiterRes)) throw e;
        const wait = Math.max(1, Math.ceil(e.msBeforeNext / 1000));
        reply.header('retry-after', String(wait));
        throw new ProblemError(problem('rate_limited', `Too many sign-in attempts; retry in ${wait} s.`));
      }
      const { username, password } = request.body;

      // 2. A new sign-in replaces whatever session the browser had.
      const previous = request.cookies[CONSOLE_COOKIE];
      if (previous !== undefined) {
        await core.sessions.end(previous);
        clearCookie(reply);
      }

      // 3. The first factor, then the console role.
      const first = await firstFactor.verify(username, password);
      if (!first.ok) return refuse(request, username, `first_factor_${first.reason}`);
      const user = await core.users.get(username).catch((e: unknown) => {
        if (isCoreError(e, 'user_not_found')) return undefined;
        throw e;
      });
      if (!user) return refuse(request, username, 'first_factor_unknown_user');
      if (user.consoleRole === null) return refuse(request, user.username, 'no_console_role');

      const actor = self(user.username);
      const start = async (stage: SessionStage, data: Record<string, unknown>): Promise<SessionView> => {
        try {
          return await core.sessions.start({ kind: 'console', userId: user.id, stage, data, clientIp: request.ip });
        } catch (e) {
          // Disabled, blocked or without a role since the checks above.
          if (isCoreError(e, 'forbidden')) return refuse(request, user.username, 'session_refused');
          throw e;
        }
      };

      // 4. No usable method yet: set up an authenticator app now (it stays pending until confirmed).
      // Checked before any authentication, so a first sign-in is not recorded as a failed one.
      const methods = await core.methods.list(user.username);
      if (!methods.some((m) => !m.pending)) {
        for (const m of methods) await core.methods.remove(user.username, m.id, actor);
        const enrollment = await core.methods.enrollTotp(user.username, { confirm: true, label: ENROLL_LABEL }, actor);
        setCookie(reply, await start('enroll', { methodId: enrollment.method.id, failures: 0 }));
        return { next: 'enroll' as const, enrollment: { secret: enrollment.secret, otpauthUri: enrollment.otpauthUri, qrSvg: enrollment.qrSvg } };
      }

      // 5. The second factor, with no shortcut (trusted network, cached approval, bypass).
      const outcome = await core.authentications.create(
        { codeOnly: true, username: user.username, application: 'console', clientIp: request.ip, exemptions: { trustedIp: false, cache: false, bypass: false } },
        actor,
      );
      if (outcome.view.state === 'challenge') {
        setCookie(reply, await start('second_factor', { authenticationId: outcome.view.id }));
        return { next: 'passcode' as const };
      }

      // Denied (locked, blocked, no allowed method...): the core recorded why.
      request.log.info({ username: user.username, reason: outcome.reason }, 'console sign-in refused');
      throw failed();
    },
  );

  app.post(
    '/session/passcode',
    { onRequest: requireJson, schema: { hide: true, body: PasscodeBody, response: { 200: SessionViewSchema } } },
    async (request, reply) => {
      const session = await sessionIn(request, 'second_factor');
      const id = session?.data['authenticationId'];
      if (!session || typeof id !== 'string') return endWithFailure(reply, session);
      let approved: boolean;
      try {
        approved = (await core.authentications.answer(id, request.body.passcode, self(session.user.username))).view.state === 'approved';
      } catch (e) {
        // Expired, answered already, or gone: this sign-in is over.
        if (isCoreError(e, 'authentication_closed') || isCoreError(e, 'authentication_not_found')) approved = false;
        else throw e;
      }
      if (!approved) {
        request.log.info({ username: session.user.username }, 'console sign-in refused at the second factor');
        return endWithFailure(reply, session);
      }
      return complete(reply, session);
    },
  );

  app.post(
    '/session/enroll',
    { onRequest: requireJson, schema: { hide: true, body: EnrollCodeBody, response: { 200: SessionViewSchema } } },
    async (request, reply) => {
      const session = await sessionIn(request, 'enroll');
      const methodId = session?.data['methodId'];
      if (!session || typeof methodId !== 'string') return endWithFailure(reply, session);
      const username = session.user.username;
      try {
        await core.methods.confirm(username, methodId, request.body.code, self(username));
      } catch (e) {
        if (!isCoreError(e, 'code_rejected')) {
          if (isCoreError(e, 'method_not_found') || isCoreError(e, 'user_not_found')) return endWithFailure(reply, session);
          throw e;
        }
        // The core audited the wrong code. A few tries for typing errors and clock skew, then start over.
        const failures = Number(session.data['failures'] ?? 0) + 1;
        if (failures >= MAX_ENROLL_ATTEMPTS) {
          await core.methods.remove(username, methodId, self(username)).catch(() => undefined);
          await core.sessions.refused({ kind: 'console', username, reason: 'enroll_attempts_exhausted', clientIp: request.ip }, CONSOLE_ACTOR);
          return endWithFailure(reply, session);
        }
        await core.sessions.update(session, { data: { ...session.data, failures } });
        throw failed();
      }
      return complete(reply, session);
    },
  );

  app.get('/session', { schema: { hide: true, response: { 200: SessionViewSchema } } }, async (request) => {
    const session = await sessionIn(request, 'complete');
    if (!session) throw new CoreError('unauthenticated', 'not signed in');
    return sessionView(session);
  });

  app.delete('/session', { schema: { hide: true, response: { 204: NoContent } } }, async (request, reply) => {
    const session = await core.sessions.resolve('console', request.cookies[CONSOLE_COOKIE]);
    // A signed-in session ends only at the request of the page that holds its anti-forgery token.
    if (session?.stage === 'complete' && !csrfMatches(request.headers[CSRF_HEADER], session.csrf)) {
      throw new ProblemError(problem('forbidden', `missing or wrong ${CSRF_HEADER}`));
    }
    if (session) await core.sessions.end(session.token);
    clearCookie(reply);
    return reply.code(204).send(null);
  });
}
