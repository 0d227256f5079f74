/**
 * Countersign Authenticator's files: the installable web app Vite builds from web/mobile into
 * dist/mobile-app (npm run build), served under /mobile/app/ (its service worker's scope).
 *
 *   /mobile/app                     308 to /mobile/app/ (the fragment, an activation code, is kept by the browser)
 *   /mobile/app/                    index.html (revalidated on each visit)
 *   /mobile/app/assets/<hashed>     long-lived and immutable: the name changes with the content
 *   /mobile/app/sw.js               the service worker (revalidated; browsers check it for updates)
 *   /mobile/app/<file>              manifest.webmanifest, icon.svg (revalidated)
 *
 * Every response carries the app's Content-Security-Policy: its own scripts, styles, connections,
 * manifest and worker only; no inline code, no framing, no base or form targets. When the app is
 * not built the pages answer 503 with how to build it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { builtDir, isBuilt, serveBuiltFiles } from '../built.ts';

export const APP_NOT_BUILT = 'the mobile app is not built: run npm run build';

export const APP_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; manifest-src 'self'; " +
  "worker-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const APP_HEADERS = {
  'content-security-policy': APP_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-cache',
};
const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** dist/mobile-app under the repository root, from the sources as from the bundle. */
export const builtAppDir = (moduleUrl: string): string => builtDir(moduleUrl, 'mobile-app');

/** Registers the app's files under the plugin's prefix (/mobile/app); `staticDir` is read when the server starts. */
export async function mobileAppRoutes(app: FastifyInstance, opts: { staticDir: string }): Promise<void> {
  const { staticDir } = opts;
  app.addHook('onRequest', (_request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    reply.headers(APP_HEADERS);
    done();
  });
  // /mobile/app without its slash: the app's relative URLs and the worker's scope need it.
  const withSlash = (request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined => {
    const [path, query] = request.url.split(/\?(.*)/s, 2) as [string, string | undefined];
    return path.endsWith('/') ? undefined : reply.redirect(`${path}/${query ? `?${query}` : ''}`, 308);
  };

  if (!isBuilt(staticDir, ['index.html', 'sw.js'])) {
    const notBuilt = async (request: FastifyRequest, reply: FastifyReply) => {
      if (withSlash(request, reply)) return reply;
      request.log.warn({ staticDir }, APP_NOT_BUILT);
      return reply.code(503).type('text/plain; charset=utf-8').send(`${APP_NOT_BUILT}\n`);
    };
    app.get('/', { schema: { hide: true } }, notBuilt);
    app.get('/*', { schema: { hide: true } }, notBuilt);
    return;
  }

  await serveBuiltFiles(app, staticDir, { cacheControl: 'no-cache', types: TYPES });
  app.get('/', { schema: { hide: true } }, async (request, reply) => withSlash(request, reply) ?? reply.sendFile('index.html', staticDir));
}
