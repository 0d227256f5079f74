/**
 * Bundles the CLI and server into dist/countersign.mjs. Loading one file instead of ~1,100 modules
 * makes the server ready in a fraction of the time. bin/countersign runs the bundle while it is
 * newer than every source file, and the sources otherwise.
 *
 * Then builds the admin console (web/) into dist/console/ with Vite; the server serves it at /admin/.
 * The console is rebuilt only when something under web/ (or the lock file) is newer than its
 * index.html, and the new build replaces the old folder in one rename, so a server (or a test)
 * serving the console while another process runs this script never sees a half-written folder.
 */
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
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
const consoleDir = join(root, 'dist/console');

/** The newest modification time of a file or folder under `path` (folders count: a removed file changes its folder). */
function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), stat.mtimeMs);
}

function consoleUpToDate(): boolean {
  const index = join(consoleDir, 'index.html');
  if (!existsSync(index)) return false;
  const built = statSync(index).mtimeMs;
  return [join(root, 'web'), join(root, 'package-lock.json'), fileURLToPath(import.meta.url)].every((p) => !existsSync(p) || newest(p) <= built);
}

if (process.argv.includes('--force') || !consoleUpToDate()) {
  const consoleStarted = performance.now();
  // The console always ships React's production build, whatever NODE_ENV the caller runs with (a test runner sets "test").
  process.env['NODE_ENV'] = 'production';
  const { build: buildConsole } = await import('vite');
  const fresh = `${consoleDir}.new-${process.pid}`;
  const stale = `${consoleDir}.old-${process.pid}`;
  try {
    await buildConsole({
      configFile: join(root, 'web/vite.config.ts'),
      mode: 'production',
      logLevel: 'warn',
      build: { outDir: fresh, emptyOutDir: true },
    });
    if (existsSync(consoleDir)) renameSync(consoleDir, stale);
    renameSync(fresh, consoleDir);
  } finally {
    rmSync(fresh, { recursive: true, force: true });
    rmSync(stale, { recursive: true, force: true });
  }
  process.stderr.write(`built dist/console in ${Math.round(performance.now() - consoleStarted)} ms\n`);
} else {
  process.stderr.write('dist/console is up to date\n');
}
