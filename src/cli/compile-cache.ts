/** The compile cache, a module of its own so the launcher can turn it on before loading the bundle. */
import { lstatSync, mkdirSync } from 'node:fs';
import module from 'node:module';
import os from 'node:os';
import path from 'node:path';

/**
 * Caches compiled code in a folder owned by the user (~/.cache/countersign, mode 0700): later runs
 * start faster. The heavy modules load after this, through dynamic imports in the commands.
 * Code loaded from the cache runs with this process's rights, so the cache is used only when the
 * home folder and every folder below it on the way to the cache belong to this user and nobody
 * else can write to them (never, e.g., root's process in another user's home after `sudo -E`).
 * NODE_DISABLE_COMPILE_CACHE=1 turns it off; NODE_COMPILE_CACHE=DIR chooses another folder.
 */
export function enableCompileCache(): void {
  if (process.env['NODE_DISABLE_COMPILE_CACHE'] || process.env['NODE_COMPILE_CACHE'] || typeof module.enableCompileCache !== 'function') return;
  const uid = process.getuid?.();
  if (uid === undefined) return;
  try {
    const base = process.env['XDG_CACHE_HOME'] || path.join(os.homedir(), '.cache');
    const dir = path.join(base, 'countersign', 'compile-cache');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const chain = [path.dirname(base), base, path.dirname(dir), dir];
    const safe = chain.every((d) => {
      const st = lstatSync(d);
      return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
    });
    if (safe) module.enableCompileCache(dir);
  } catch {
    // No writable home: run without the cache.
  }
}
