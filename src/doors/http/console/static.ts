/**
 * The console's single-page app: the files Vite builds into dist/console (npm run build).
 *
 *   /admin, /admin/                 index.html (no-store)
 *   /admin/assets/<hashed name>     long-lived and immutable: the name changes with the content
 *   /admin/<file>                   that file (no-store)
 *   /admin/<anything else>          index.html, so the app's own routes load on a reload (GET)
 *
 * Nothing under /admin/session or /admin/assets falls back to index.html: a missing asset is a 404.
 * When the app is not built the pages answer 503 with how to build it.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { problem, sendProblem } from '../errors.ts';
import type { Api } from '../schemas.ts';
import { builtDir, isBuilt, serveBuiltFiles } from '../built.ts';

export const NOT_BUILT = 'the console is not built: run npm run build';

/** Paths (after /admin) that never fall back to index.html. */
const NO_FALLBACK = /^\/(session|assets)(\/|$|\?)/;

/** dist/console under the repository root, from the sources as from the bundle. */
export const builtConsoleDir = (moduleUrl: string): string => builtDir(moduleUrl, 'console');

/** Registers the app's files; `staticDir` is read when the server starts. */
export async function consoleStaticRoutes(app: Api, opts: { staticDir: string }): Promise<void> {
  const { staticDir } = opts;
  const below = (request: FastifyRequest): string => request.url.slice('/admin'.length);

  if (!isBuilt(staticDir, ['index.html'])) {
    const notBuilt = async (request: FastifyRequest, reply: FastifyReply) => {
      request.log.warn({ staticDir }, NOT_BUILT);
      return reply.code(503).type('text/plain; charset=utf-8').send(`${NOT_BUILT}\n`);
    };
    app.get('/', { schema: { hide: true } }, notBuilt);
    app.setNotFoundHandler(async (request, reply) => {
      if (NO_FALLBACK.test(below(request))) return sendProblem(reply, problem('not_found', `No route ${request.method} ${request.url.split('?')[0]}.`));
      return notBuilt(request, reply);
    });
    return;
  }

  // Hashed assets for a year, everything else never cached.
  await serveBuiltFiles(app, staticDir, { cacheControl: 'no-store' });
  const index = async (_request: FastifyRequest, reply: FastifyReply) => reply.sendFile('index.html', staticDir);
  app.get('/', { schema: { hide: true } }, index);
  app.setNotFoundHandler(async (request, reply) => {
    if ((request.method === 'GET' || request.method === 'HEAD') && !NO_FALLBACK.test(below(request))) return index(request, reply);
    return sendProblem(reply, problem('not_found', `No route ${request.method} ${request.url.split('?')[0]}.`));
  });
}
