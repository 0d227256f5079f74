/**
 * The admin console (/admin): a single-page app (web/, built into dist/console) over the same REST
 * API integrators use, and its sign-in. A console user is a Countersign user with a console role
 * (admin, helpdesk, auditor); they sign in with their password and a second factor, always, and
 * then call /api/v1 with the session cookie and, for changes, the session's anti-forgery token in
 * x-csrf-token (see ../auth.ts).
 *
 *   session.ts   sign-in, second factor or first enrollment, sign-out
 *   static.ts    the app's files, index.html for the app's own routes
 *   cookie.ts    the session cookie and the anti-forgery check
 *
 * Every /admin response carries the console's Content-Security-Policy (scripts, styles and
 * connections to this origin only, no framing) with nosniff, no referrer and a same-origin opener
 * policy; the HTTP app adds HSTS when it serves HTTPS.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../../../core/api.ts';
import type { FirstFactorProvider } from '../../../core/ports.ts';
import type { Api } from '../schemas.ts';
import { consoleSessionRoutes } from './session.ts';
import { consoleStaticRoutes } from './static.ts';

export { builtConsoleDir, NOT_BUILT } from './static.ts';
export { CONSOLE_COOKIE, CSRF_HEADER } from './cookie.ts';

export interface ConsoleOptions {
  readonly core: Core;
  /** The first factor of console users (the `user` provider: directory bind or local password). */
  readonly firstFactor: FirstFactorProvider;
  /** Served over HTTPS. The cookie is Secure either way (a `__Host-` cookie must be): behind a TLS proxy the browser sees HTTPS. */
  readonly https: boolean;
  /** The built app (index.html and assets/); when it has no index.html, the pages answer 503. */
  readonly staticDir: string;
}

export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const CONSOLE_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  // Static files replace this for the hashed assets.
  'cache-control': 'no-store',
};

export async function consoleDoor(app: Api, opts: ConsoleOptions): Promise<void> {
  app.addHook('onRequest', (_request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    reply.headers(CONSOLE_HEADERS);
    done();
  });
  await app.register(consoleSessionRoutes, { core: opts.core, firstFactor: opts.firstFactor });
  await app.register(consoleStaticRoutes, { staticDir: opts.staticDir });
}
