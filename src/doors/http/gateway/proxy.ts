/**
 * The built-in reverse proxy: one listener per protected site, for when no other proxy is in front
 * of the application. The gateway's sign-in pages are served on the site's own origin under
 * /gateway/ (so /gateway/ is reserved); everything else goes to the application, after one of:
 *
 *   session  every request needs a gateway session that passed this site's second factor
 *            (public paths excepted); the identity goes to the application in Remote-* headers.
 *   form     the application keeps its own login form. A POST of that form is held back: the
 *            second factor runs for the username it carries (and, if configured, the password is
 *            checked against the directory), then the same POST goes on to the application,
 *            which signs the user in as before. Other requests pass untouched.
 *   basic    the application uses HTTP Basic authentication. A request with credentials passes
 *            only with a session that passed the second factor for that user and those exact
 *            credentials; the first request with new credentials leads to the code page.
 *
 * Every mode strips Remote-* headers a client sends, refuses denied networks, and remembers the
 * second factor per site for its cacheSeconds (the cookie cache). A held-back form POST stays in
 * this process's memory only, for at most the challenge lifetime, and is used once.
 */
import cookie from '@fastify/cookie';
import replyFrom from '@fastify/reply-from';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Core, SessionView } from '../../../core/api.ts';
import { NetworkList } from '../../../core/auth/networks.ts';
import { isCoreError } from '../../../core/errors.ts';
import type { Clock, FirstFactorProvider, KeyedHasher } from '../../../core/ports.ts';
import { systemRandom } from '../../../platform/random.ts';
import { clientAddress, createSessionMemo, IDENTITY_HEADERS, identityHeaders, passes, sessionCookie } from './common.ts';
import { detectLoginForm, type LoginForm } from './form-detect.ts';
import { gatewayDoor } from './index.ts';
import { compileSites, type GatewaySiteConfig, type Site } from './sites.ts';
import { normalizePath } from './targets.ts';

export interface ProxySettings {
  /** Where the proxy listens. */
  readonly host: string;
  readonly port: number;
  /** The application: `http://10.0.0.21:8080`. */
  readonly upstream: string;
  readonly mode: 'session' | 'form' | 'basic';
  /** Form-based interception (mode form). Fields left out are read from the login page's form. */
  readonly form?: {
    readonly loginPath: string;
    readonly submitPath?: string | undefined;
    readonly usernameField?: string | undefined;
    readonly passwordField?: string | undefined;
    readonly domainField?: string | undefined;
    /** Check the password against the directory (the gateway's first factor) before the application sees it. */
    readonly checkFirstFactor: boolean;
  };
  /** Mode basic: check the password against the directory before asking for a code. */
  readonly basicCheckFirstFactor?: boolean;
}

export interface ProxyOptions {
  readonly core: Core;
  readonly firstFactor: FirstFactorProvider;
  readonly clock: Clock;
  /** Keyed hash (its key outside the database) binding a Basic session to its credentials. */
  readonly keyedHasher: KeyedHasher;
  readonly site: GatewaySiteConfig;
  readonly proxy: ProxySettings;
  /** Load balancers in front of this listener whose X-Forwarded-For is believed. */
  readonly proxies: readonly string[];
  readonly signInPerMinute?: number | undefined;
  /** How long a request may reuse a session read from the store, in milliseconds (default 1000). */
  readonly decisionCacheMs?: number | undefined;
  readonly https?: { readonly key: string | Buffer; readonly cert: string | Buffer } | undefined;
  readonly logger?: Logger | false;
  /** Directory group membership for the site's `groups`. */
  readonly membership?: ((directory: string, username: string, group: string) => Promise<boolean>) | undefined;
}

/** A form POST held back until the second factor passes. */
interface HeldPost {
  readonly url: string;
  readonly body: Buffer;
  readonly contentType: string;
  readonly sessionUser: string;
  readonly until: number;
}

const RESUME = '__countersign_resume';
const MAX_FORM_BYTES = 64 * 1024;
const MAX_HELD = 10_000;
const FORM_RETRY_MS = 10_000;

function decodable(target: string): boolean {
  try {
    decodeURIComponent(target);
    return true;
  } catch {
    return false;
  }
}

/**
 * A path as lenient servers match it (IIS and others: any case, trailing dots, spaces and slashes
 * ignored), so every spelling of the login path is intercepted.
 */
function loose(path: string): string {
  return path.toLowerCase().replace(/[. ]+(?=\/|$)/g, '').replace(/\/+$/, '');
}

function readBody(stream: Readable, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // Too long for a login form: the rest is read and dropped, so the client gets its answer.
        stream.removeAllListeners('data');
        stream.resume();
        resolve(undefined);
      } else chunks.push(c);
    });
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** Starts the proxy of one site; resolves once it listens. */
export async function startProxy(opts: ProxyOptions): Promise<FastifyInstance> {
  const { core, clock, proxy } = opts;
  const site: Site = compileSites([opts.site]).sites[0] as Site;
  const origin = site.origins[0] as string;
  const upstream = proxy.upstream.replace(/\/+$/, '');
  const trusted = new NetworkList(opts.proxies);
  const cookieSpec = sessionCookie(undefined);
  const held = new Map<string, HeldPost>();
  const memo = createSessionMemo(core, clock, opts.decisionCacheMs ?? 1000);
  const interceptLimit = new RateLimiterMemory({ points: opts.signInPerMinute ?? 20, duration: 60, keyPrefix: `proxy-${site.name}` });

  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    ...(opts.https ? { https: { key: opts.https.key, cert: opts.https.cert } } : {}),
    trustProxy: false,
  }) as unknown as FastifyInstance;
  await app.register(cookie);
  // The sign-in pages of this site, on its own origin.
  await app.register(gatewayDoor, { prefix: '/gateway', core, firstFactor: opts.firstFactor, clock, sites: [opts.site], proxies: opts.proxies, signInPerMinute: opts.signInPerMinute, sessionMemo: memo, membership: opts.membership });
  await app.register(replyFrom, { base: upstream, undici: { connections: 128, pipelining: 1 } });
  // Bodies go to the application as they came, unparsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  // ---- Forwarding -----------------------------------------------------------------------------

  function forward(request: FastifyRequest, reply: FastifyReply, session: SessionView | undefined, override?: { url: string; body: Buffer; contentType: string }): FastifyReply {
    const ip = clientAddress(request, trusted);
    return reply.from(override?.url ?? request.raw.url ?? '/', {
      // A held post goes out with its own query string, not the resuming request's.
      ...(override ? { method: 'POST' as const, body: override.body, contentType: override.contentType, queryString: (search: string | undefined) => (search ?? '').slice(1) } : {}),
      rewriteRequestHeaders: (_req, headers) => {
        const out: Record<string, string | string[] | undefined> = { ...headers };
        for (const name of IDENTITY_HEADERS) delete out[name];
        if (session) Object.assign(out, identityHeaders(session, site.name));
        out['x-forwarded-for'] = ip ?? '';
        out['x-forwarded-proto'] = origin.startsWith('https:') ? 'https' : 'http';
        out['x-forwarded-host'] = new URL(origin).host;
        // The gateway's own cookie is not the application's business.
        if (typeof out['cookie'] === 'string') {
          const kept = out['cookie']
            .split(';')
            .map((c) => c.trim())
            .filter((c) => c !== '' && !c.startsWith(`${cookieSpec.name}=`) && !c.startsWith('__Host-cs_gateway_form='));
          if (kept.length > 0) out['cookie'] = kept.join('; ');
          else delete out['cookie'];
        }
        return out as Record<string, string>;
      },
    });
  }

  const signIn = (reply: FastifyReply, target: string): FastifyReply => reply.code(302).header('cache-control', 'no-store').header('location', `/gateway/sign-in?rd=${encodeURIComponent(`${origin}${target}`)}`).send();

  function deny(reply: FastifyReply): FastifyReply {
    reply.code(403).header('cache-control', 'no-store');
    return site.denialHtml !== undefined ? reply.type('text/html; charset=utf-8').send(site.denialHtml) : reply.type('text/plain; charset=utf-8').send('Access denied.\n');
  }

  async function session(request: FastifyRequest): Promise<SessionView | undefined> {
    return memo.resolve(request.cookies[cookieSpec.name]);
  }

  /** A new session for a user whose first factor is settled (by the application or the directory), awaiting this site's second factor. */
  async function startFor(request: FastifyRequest, reply: FastifyReply, userId: string, data: Record<string, unknown>): Promise<void> {
    const old = request.cookies[cookieSpec.name];
    if (old) await core.sessions.end(old);
    memo.forget(old);
    const s = await core.sessions.start({ kind: 'gateway', userId, stage: 'complete', data, clientIp: clientAddress(request, trusted) });
    reply.setCookie(cookieSpec.name, s.token, cookieSpec.options);
  }

  /** The user a name designates, or what the site's application does with unknown users ('pass' or 'deny'). */
  async function userOf(username: string): Promise<{ id: string; username: string } | 'pass' | 'deny'> {
    try {
      return await core.users.get(username);
    } catch (e) {
      if (!isCoreError(e, 'user_not_found') && !isCoreError(e, 'validation_failed')) throw e;
      const application = await core.applications.get(site.application);
      return application.requireUserMatch ? 'deny' : 'pass';
    }
  }

  async function limited(request: FastifyRequest): Promise<boolean> {
    try {
      await interceptLimit.consume(clientAddress(request, trusted) ?? 'unknown');
      return false;
    } catch (e) {
      if (e instanceof RateLimiterRes) return true;
      throw e;
    }
  }

  // ---- Form-based interception ----------------------------------------------------------------

  let formSpec: { value?: LoginForm; failedAt?: number } = {};
  /** The login form: as configured, else read from the login page (again after a failure, at most every 10 s). */
  async function loginForm(): Promise<LoginForm | undefined> {
    const f = proxy.form;
    if (!f) return undefined;
    if (f.submitPath && f.usernameField && f.passwordField) return { submitPath: f.submitPath, usernameField: f.usernameField, passwordField: f.passwordField, domainField: f.domainField ?? null };
    if (formSpec.value) return formSpec.value;
    if (formSpec.failedAt !== undefined && clock.now() - formSpec.failedAt < FORM_RETRY_MS) return undefined;
    try {
      const page = new URL(f.loginPath, `${upstream}/`);
      const res = await fetch(page, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
      const found = res.ok ? detectLoginForm(await res.text(), page) : undefined;
      if (!found) throw new Error(`no login form with one password field at ${page.href} (status ${res.status})`);
      formSpec = { value: { submitPath: f.submitPath ?? found.submitPath, usernameField: f.usernameField ?? found.usernameField, passwordField: f.passwordField ?? found.passwordField, domainField: f.domainField ?? found.domainField } };
      app.log.info({ site: site.name, form: formSpec.value }, 'login form detected');
      return formSpec.value;
    } catch (e) {
      formSpec = { failedAt: clock.now() };
      app.log.error({ site: site.name, err: e }, 'the login form of the site could not be read; its login posts are refused until it can');
      return undefined;
    }
  }

  async function intercept(request: FastifyRequest, reply: FastifyReply, form: LoginForm): Promise<FastifyReply> {
    const contentType = String(request.headers['content-type'] ?? '');
    const url = request.raw.url ?? '/';
    // A login post the gateway cannot read (another encoding, or none) is refused, never passed unchecked.
    if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded') || request.body === undefined || request.body === null) return reply.code(415).send();
    const body = await readBody(request.body as Readable, MAX_FORM_BYTES);
    if (!body) return reply.code(413).header('connection', 'close').send();
    const fields = new URLSearchParams(body.toString('utf8'));
    const typed = fields.get(form.usernameField)?.trim() ?? '';
    // Not a login the gateway can read: the application answers it (it signs nobody in without a username).
    if (typed === '') return forward(request, reply, undefined, { url, body, contentType });
    const domain = form.domainField ? fields.get(form.domainField)?.trim() : undefined;
    // DOMAIN\user or user@domain as typed; the username is the user part.
    const username = (typed.includes('\\') ? typed.slice(typed.indexOf('\\') + 1) : typed).trim();
    const current = await session(request);
    if (current && passes(current, site, clock.now()) && current.user.username.toLowerCase() === username.toLowerCase()) return forward(request, reply, current, { url, body, contentType });
    if (await limited(request)) return reply.code(429).send();
    if (proxy.form?.checkFirstFactor) {
      const first = await opts.firstFactor.verify(username, fields.get(form.passwordField) ?? '');
      if (!first.ok) {
        await core.sessions.refused({ kind: 'gateway', application: site.application, username, reason: `first_factor_${first.reason}`, clientIp: clientAddress(request, trusted) }, { kind: 'system', name: 'gateway', role: 'self' });
        return deny(reply);
      }
    }
    const user = await userOf(username);
    if (user === 'pass') return forward(request, reply, undefined, { url, body, contentType });
    if (user === 'deny') return deny(reply);
    // Posts whose sign-in was abandoned go now; a full table refuses more (it never grows without bound).
    prune();
    if (held.size >= MAX_HELD) return reply.code(503).send();
    const id = Buffer.from(systemRandom.bytes(24)).toString('base64url');
    const settings = await core.settings.get();
    held.set(id, { url, body, contentType, sessionUser: user.username, until: clock.now() + settings.challengeSeconds * 1000 * 2 });
    await startFor(request, reply, user.id, { heldPost: id, ...(domain ? { domain } : {}) });
    const path = normalizePath(url) ?? form.submitPath;
    return signIn(reply, `${path}?${RESUME}=${id}`);
  }

  function prune(): void {
    const now = clock.now();
    for (const [id, post] of held) if (post.until <= now) held.delete(id);
  }

  /** After the code: the held POST goes to the application now, once; its answer (and cookies) go to the browser. */
  async function resume(request: FastifyRequest, reply: FastifyReply, id: string): Promise<FastifyReply> {
    const post = held.get(id);
    const current = await session(request);
    if (!post || !current || !passes(current, site, clock.now()) || current.data['heldPost'] !== id || current.user.username !== post.sessionUser || post.until <= clock.now()) {
      return deny(reply);
    }
    held.delete(id);
    const { heldPost: _used, ...rest } = current.data;
    await core.sessions.update(current, { data: rest });
    return forward(request, reply, current, { url: post.url, body: post.body, contentType: post.contentType });
  }

  // ---- HTTP Basic -----------------------------------------------------------------------------

  // The session keeps a keyed hash of the credentials, never a plain hash: the database alone
  // gives nothing to guess passwords against.
  const credentialText = (authorization: string): string => `gateway-basic:${site.name}\n${authorization}`;

  async function basic(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const authorization = request.headers.authorization;
    // No credentials yet: the application asks for them (401 with its WWW-Authenticate).
    if (authorization === undefined) return forward(request, reply, undefined);
    // Credentials the gateway cannot read never reach the application.
    const match = /^basic +([A-Za-z0-9+/=]{1,4096})$/i.exec(authorization);
    if (!match) return reply.code(400).send();
    const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const username = colon > 0 ? decoded.slice(0, colon) : '';
    const current = await session(request);
    const bound = current?.data['basic'];
    if (current && passes(current, site, clock.now()) && current.user.username.toLowerCase() === username.toLowerCase() && typeof bound === 'string' && opts.keyedHasher.matches(credentialText(authorization), bound)) {
      return forward(request, reply, current);
    }
    if (username === '') return forward(request, reply, undefined);
    if (await limited(request)) return reply.code(429).send();
    if (proxy.basicCheckFirstFactor) {
      const first = await opts.firstFactor.verify(username, decoded.slice(colon + 1));
      if (!first.ok) {
        await core.sessions.refused({ kind: 'gateway', application: site.application, username, reason: `first_factor_${first.reason}`, clientIp: clientAddress(request, trusted) }, { kind: 'system', name: 'gateway', role: 'self' });
        return reply.code(401).header('www-authenticate', `Basic realm="${site.name}", charset="UTF-8"`).send();
      }
    }
    const user = await userOf(username);
    if (user === 'pass') return forward(request, reply, undefined);
    if (user === 'deny') return deny(reply);
    await startFor(request, reply, user.id, { basic: opts.keyedHasher.digest(credentialText(authorization)) });
    return signIn(reply, request.raw.url ?? '/');
  }

  // ---- Every request --------------------------------------------------------------------------

  app.all('/*', async (request, reply) => {
    const raw = request.raw.url ?? '/';
    // Only origin-form targets (`/path?query`) that decode cleanly go anywhere; the rest is a client error.
    if (!raw.startsWith('/') || !decodable(raw)) return reply.code(400).send();
    const path = normalizePath(raw);
    if (site.refuses(path, clientAddress(request, trusted))) return deny(reply);
    if (proxy.mode === 'basic') return basic(request, reply);
    if (proxy.mode === 'form') {
      const query = (request.query as Record<string, string | undefined>)[RESUME];
      if (request.method === 'GET' && typeof query === 'string') return resume(request, reply, query);
      if (request.method === 'POST' && proxy.form) {
        const form = await loginForm();
        // A post whose path could be read two ways might be the login: refused.
        if (path === null) return reply.code(400).send();
        if (loose(path) === loose(form ? form.submitPath : proxy.form.loginPath)) {
          // Fail closed: a login post is never let through unchecked because the form could not be read.
          return form ? intercept(request, reply, form) : reply.code(503).send();
        }
      }
      return forward(request, reply, undefined);
    }
    if (site.isPublic(path)) return forward(request, reply, undefined);
    const current = await session(request);
    if (current && passes(current, site, clock.now())) return forward(request, reply, current);
    return signIn(reply, raw);
  });

  await app.listen({ host: proxy.host, port: proxy.port });
  return app;
}
