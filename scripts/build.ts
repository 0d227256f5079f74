/**
 * Bundles the CLI and server into dist/countersign.mjs. Loading one file instead of ~1,100 modules
 * makes the server ready in a fraction of the time. bin/countersign runs the bundle while it is
 * newer than every source file, and the sources otherwise.
 *
 * Then builds, with Vite, the admin console (web/) into dist/console/, served at /admin/, and
 * Countersign Authenticator (web/mobile/) into dist/mobile-app/, served at /mobile/app/. Each is
 * rebuilt only when one of its sources (or the lock file) is newer than its index.html, and the new
 * build replaces the old folder in one rename, so a server (or a test) serving it while another
 * process runs this script never sees a half-written folder. Beside each text file of 1 KiB or
 * more go its Brotli (.br) and gzip (.gz) forms, which the server sends to browsers that accept
 * them (src/doors/http/built.ts).
 */
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// Native addons and packages that read files beside their own code at run time stay in node_modules.
const external = ['better-sqlite3', '@node-rs/argon2', 'pg-native', '@fastify/swagger-ui', 'pino', 'pino-pretty', 'thread-stream'];

const banner = [
  "import { createRequire as __csCreateRequire } from 'node:module';",
  "import { fileURLToPath as __csFileURLToPath } from 'node:url';",
  "import { dirname as __csDirname } from 'node:path';",
  'const require = __csCreateRequire(import.meta.url);',
  'const __filename = __csFileURLToPath(import.meta.url);',
  'const __dirname = __csDirname(__filename);',
].join(' ');

const started = performance.now();
await build({
  // The launcher turns the compile cache on (compile-cache.mjs) before it loads the bundle, so the
  // bundle itself is compiled once and read from the cache afterwards.
  entryPoints: { countersign: 'src/cli/main.ts', 'compile-cache': 'src/cli/compile-cache.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  external,
  banner: { js: banner },
  sourcemap: 'linked',
  minify: true,
  keepNames: true,
  logLevel: 'warning',
});
process.stderr.write(`built dist/countersign.mjs in ${Math.round(performance.now() - started)} ms\n`);

const root = fileURLToPath(new URL('..', import.meta.url));
const mobileSources = join(root, 'web/mobile');

/** The newest modification time of a file or folder under `path` (folders count: a removed file changes its folder), `skip` left out. */
function newest(path: string, skip?: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((max, name) => (join(path, name) === skip ? max : Math.max(max, newest(join(path, name), skip))), stat.mtimeMs);
}

const COMPRESSIBLE = /\.(js|css|html|svg|json|webmanifest)$/;

/** Writes file.br and file.gz beside every compressible file of `dir` of 1 KiB or more; how many. */
function compressFiles(dir: string): number {
  let count = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      count += compressFiles(path);
      continue;
    }
    if (!COMPRESSIBLE.test(entry.name)) continue;
    const content = readFileSync(path);
    if (content.length < 1024) continue;
    writeFileSync(
      `${path}.br`,
      brotliCompressSync(content, { params: { [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY, [zlib.BROTLI_PARAM_SIZE_HINT]: content.length } }),
    );
    writeFileSync(`${path}.gz`, gzipSync(content, { level: zlib.Z_BEST_COMPRESSION }));
    count++;
  }
  return count;
}

/**
 * Builds one Vite app into `outDir` unless its index.html is newer than every source (and the lock
 * file and this script), replacing the old folder in one rename.
 */
async function buildWebApp(name: string, configFile: string, outDir: string, sources: string, skip?: string): Promise<void> {
  const index = join(outDir, 'index.html');
  const built = existsSync(index) ? statSync(index).mtimeMs : -1;
  const upToDate =
    built >= 0 && [sources, join(root, 'package-lock.json'), fileURLToPath(import.meta.url)].every((p) => !existsSync(p) || newest(p, skip) <= built);
  if (upToDate && !process.argv.includes('--force')) {
    process.stderr.write(`${name} is up to date\n`);
    return;
  }
  const appStarted = performance.now();
  // The apps always ship production builds, whatever NODE_ENV the caller runs with (a test runner sets "test").
  process.env['NODE_ENV'] = 'production';
  const { build: buildVite } = await import('vite');
  const fresh = `${outDir}.new-${process.pid}`;
  const stale = `${outDir}.old-${process.pid}`;
  let compressed = 0;
  try {
    await buildVite({ configFile, mode: 'production', logLevel: 'warn', build: { outDir: fresh, emptyOutDir: true } });
    compressed = compressFiles(fresh);
    if (existsSync(outDir)) renameSync(outDir, stale);
    renameSync(fresh, outDir);
  } finally {
    rmSync(fresh, { recursive: true, force: true });
    rmSync(stale, { recursive: true, force: true });
  }
  process.stderr.write(`built ${name} in ${Math.round(performance.now() - appStarted)} ms (${compressed} files also as .br and .gz)\n`);
}

await buildWebApp('dist/console', join(root, 'web/vite.config.ts'), join(root, 'dist/console'), join(root, 'web'), mobileSources);
await buildWebApp('dist/mobile-app', join(mobileSources, 'vite.config.ts'), join(root, 'dist/mobile-app'), mobileSources);
