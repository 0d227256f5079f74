/** The web apps built by scripts/build.ts (Vite): where they live (dist/<name>) and how their files are served. */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * dist/`name` under the repository root: the nearest folder above `moduleUrl` that holds
 * package.json. The same answer from the sources (src/doors/http/...) and from the bundle (dist/).
 */
export function builtDir(moduleUrl: string, name: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', name);
    const parent = dirname(dir);
    if (parent === dir) return join(dirname(fileURLToPath(moduleUrl)), 'dist', name);
    dir = parent;
  }
}

/** Whether the build wrote each of `files` into `dir`. */
export function isBuilt(dir: string, files: readonly string[]): boolean {
  try {
    return files.every((f) => statSync(join(dir, f)).isFile());
  } catch {
    return false;
  }
}

/**
 * Serves the files of `dir` under the plugin's prefix: the hashed files under assets/ as
 * immutable for a year (their names change with their content), everything else with
 * `cacheControl`; `types` sets the content type by extension where the default would not do. A
 * browser that accepts Brotli or gzip gets the file's .br or .gz form when the build wrote one
 * (scripts/build.ts), with `Vary: Accept-Encoding` on every answer.
 */
export async function serveBuiltFiles(
  app: FastifyInstance,
  dir: string,
  opts: { readonly cacheControl: string; readonly types?: Readonly<Record<string, string>> },
): Promise<void> {
  const assets = join(dir, 'assets');
  const types = opts.types;
  if (types) {
    // At onSend: the static plugin sets the type of a compressed form itself, after setHeaders.
    app.addHook('onSend', async (request, reply, payload) => {
      const type = types[/\.[a-z]+$/.exec(request.url.split('?', 1)[0] ?? '')?.[0] ?? ''];
      if (type && reply.statusCode === 200) reply.header('content-type', type);
      return payload;
    });
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    index: false,
    // Headers are set here instead.
    cacheControl: false,
    dotfiles: 'ignore',
    preCompressed: true,
    setHeaders: (reply, path) => {
      // `path` is the file sent: for a compressed form, the original's name plus .br or .gz.
      reply.header('cache-control', path.startsWith(assets) ? IMMUTABLE : opts.cacheControl);
    },
  });
}
